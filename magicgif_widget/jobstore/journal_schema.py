"""The job journal's tables (schema 2), the step up from 0.1.0's schema 1, and the SQL
conditions for a pending and an active entry.
"""

from __future__ import annotations

import sqlite3

from . import migrations

APP = "magicgif-journal"
SCHEMA_VERSION = 2  # 1: 0.1.0; 2: batch items (batch, position, item_key) and ``batches``

# An entry worth collecting: not dismissed, and complete but not collected, or not final.
PENDING = (
    "(dismissed_at IS NULL AND ((status='complete' AND collected_at IS NULL) "
    "OR status NOT IN ('complete', 'error', 'canceled', 'not_created')))"
)
# An entry whose job is in flight or running as last seen.
ACTIVE = (
    "(dismissed_at IS NULL AND (status='creating' OR (project_id IS NOT NULL "
    "AND status NOT IN ('complete', 'error', 'canceled', 'not_created', 'unknown'))))"
)

_META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
_BATCHES = """
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,                    -- the batch's id, also in its ledger's meta
    server TEXT NOT NULL,
    surface TEXT NOT NULL,                  -- widget (a gallery), python (generate_many), cli
    directory TEXT NOT NULL,                -- where its ledger and files live
    total INTEGER NOT NULL,                 -- how many items it has
    dismissed_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_batch ON entries (batch, position);
"""


def _v1_to_v2(db: sqlite3.Connection) -> None:
    """0.1.0's journal: its entries gain a batch, a position and an item key (all NULL)."""
    for column in ("batch TEXT", "position INTEGER", "item_key TEXT"):
        db.execute(f"ALTER TABLE entries ADD COLUMN {column}")
    for statement in _BATCHES.split(";"):
        if statement.strip():
            db.execute(statement)


MIGRATIONS: dict[int, migrations.Step] = {1: _v1_to_v2}
SCHEMA = (
    _META
    + """
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- the order intents were written in
    key TEXT NOT NULL UNIQUE,               -- ours (uuid4 hex), known before the create
    project_id TEXT,                        -- the API's, once the create answers
    server TEXT NOT NULL,                   -- "sandbox" or a base URL (no userinfo)
    surface TEXT NOT NULL,                  -- widget, python or cli
    prompt TEXT NOT NULL,
    name TEXT,
    output_format TEXT NOT NULL,
    directory TEXT,                         -- the download directory asked for, if any
    status TEXT NOT NULL,                   -- ours (see journal.py) or the API's, last seen
    error_code TEXT,
    credits_charged INTEGER,
    credits_refunded INTEGER,
    paths TEXT NOT NULL DEFAULT '[]',       -- JSON list of absolute paths
    collected_at TEXT,                      -- when the files were on disk
    dismissed_at TEXT,                      -- when the user dismissed it
    writer TEXT NOT NULL,                   -- "<host hash>:<pid>:<run>" of the intent's process
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    batch TEXT,                             -- the batch or gallery it belongs to (batches.id)
    position INTEGER,                       -- its index in that batch
    item_key TEXT                           -- its key in the batch's ledger
);
CREATE INDEX IF NOT EXISTS entries_project ON entries (project_id);
CREATE INDEX IF NOT EXISTS entries_status ON entries (status);
CREATE INDEX IF NOT EXISTS entries_server ON entries (server, seq);
"""
    + _BATCHES
)
