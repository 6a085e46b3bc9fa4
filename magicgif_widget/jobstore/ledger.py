"""The batch ledger: one SQLite file in the download directory that remembers every job.

Each item's intent is committed before its create is sent and its project id as soon as the
create answers, so a batch killed at any moment can be resumed without paying twice. Opening,
the meta table, the directory's lock and the typed errors are ``sqlite_store``'s, shared with
the user's job journal.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from filelock import BaseFileLock

from . import migrations, stamps
from . import sqlite_store as store

LEDGER_NAME = "magicgif-batch.sqlite3"
LOCK_NAME = ".magicgif-batch.lock"
APP = "magicgif-batch"
SCHEMA_VERSION = 2  # 1: 0.1.0; 2: the meta table names the batch (``batch``) and ``surface``

State = Literal["pending", "creating", "created", "complete", "failed", "unknown"]
# pending   no job exists (never sent, or the API refused it): safe to create
# creating  the create may be in flight: its outcome is unknown until it answers
# created   the job exists; its id is known and it is polled, never re-created
# complete  the outputs are on disk (``files``)
# failed    the job ended in error or was canceled or deleted; retried only on request
# unknown   a create was sent but its answer was lost: the job may exist and be charged

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    key TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    project_id TEXT,
    earlier_ids TEXT NOT NULL DEFAULT '[]',
    credits INTEGER NOT NULL DEFAULT 0,
    files TEXT NOT NULL DEFAULT '[]',
    project TEXT,
    error TEXT,
    creates INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
"""


def _v1_to_v2(db: sqlite3.Connection) -> None:
    """0.1.0's ledger: its batch gets an id (the journal's name for it) and a surface."""
    db.executemany(
        "INSERT OR IGNORE INTO meta VALUES (?, ?)",
        [("app", APP), ("batch", uuid.uuid4().hex), ("surface", "python")],
    )


MIGRATIONS: dict[int, migrations.Step] = {1: _v1_to_v2}

# Moves the item's job id (if any) to ``earlier_ids``: the item has no job now.
_RETIRE_ID = (
    "earlier_ids=CASE WHEN project_id IS NULL THEN earlier_ids "
    "ELSE json_insert(earlier_ids, '$[#]', project_id) END, project_id=NULL"
)


class LedgerError(store.StoreError):
    """The ledger cannot be used: another batch holds it, or it belongs to another server."""


@dataclass
class Entry:
    """One item's row: what was asked, what became of it."""

    key: str
    position: int
    request: dict[str, Any]
    state: State
    project_id: str | None = None
    earlier_ids: list[str] = field(default_factory=list)
    credits: int = 0
    files: list[tuple[str, int]] = field(default_factory=list)  # (name in the directory, size)
    project: dict[str, Any] | None = None
    error: str | None = None
    creates: int = 0

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Entry:
        return cls(
            key=row["key"],
            position=row["position"],
            request=json.loads(row["request"]),
            state=row["state"],
            project_id=row["project_id"],
            earlier_ids=json.loads(row["earlier_ids"]),
            credits=row["credits"],
            files=[(str(name), int(size)) for name, size in json.loads(row["files"])],
            project=json.loads(row["project"]) if row["project"] else None,
            error=row["error"],
            creates=row["creates"],
        )


@dataclass(frozen=True)
class LedgerInfo:
    """What a ledger's meta says: its server (base URL), batch id and surface."""

    server: str
    batch: str
    surface: str
    items: int


def read_items(directory: str | os.PathLike[str]) -> list[Entry]:
    """A directory's ledger items in batch order, read without locking or changing it."""
    path = Path(directory) / LEDGER_NAME
    read_info(directory)  # refuses what is not a ledger this version reads
    with store.translate(LedgerError, path, "the batch ledger"):
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM items ORDER BY position").fetchall()
        finally:
            db.close()
    return [Entry.from_row(row) for row in rows]


def read_info(directory: str | os.PathLike[str]) -> LedgerInfo:
    """A directory's ledger, read without locking or changing it (``LedgerError`` if there is
    none, or it is not a ledger this version can read)."""
    path = Path(directory) / LEDGER_NAME
    if not path.is_file():
        raise LedgerError(
            f"{directory} holds no batch ledger ({LEDGER_NAME}): it is not a batch or gallery "
            "folder",
            kind="foreign",
            path=path,
        )
    with store.translate(LedgerError, path, "the batch ledger"):
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            version = migrations.check_version(
                db, path, current=SCHEMA_VERSION, what="the batch ledger", error=LedgerError
            )
            meta = {str(k): str(v) for k, v in db.execute("SELECT key, value FROM meta")}
            count = int(db.execute("SELECT COUNT(*) FROM items").fetchone()[0])
        finally:
            db.close()
    if version is None or "server" not in meta:
        raise LedgerError(f"{path} is an empty batch ledger", kind="foreign", path=path)
    return LedgerInfo(meta["server"], meta.get("batch", ""), meta.get("surface", "python"), count)


class Ledger:
    """The ledger of one download directory, locked for this process while it is open."""

    def __init__(self, directory: Path, server: str, surface: str = "python") -> None:
        self.directory = directory
        self.path = directory / LEDGER_NAME
        try:
            self._lock: BaseFileLock | None = store.file_lock(directory / LOCK_NAME)
        except store.LockHeld as held:
            raise LedgerError(
                f"another magicgif batch (pid {held.holder}) is running in {directory}; wait "
                "for it to finish, or use another download directory",
                kind="busy",
                path=self.path,
            ) from None
        try:
            with store.translate(LedgerError, self.path, "the batch ledger"):
                self._db = store.connect(self.path)
                version = migrations.check_version(
                    self._db,
                    self.path,
                    current=SCHEMA_VERSION,
                    what="the batch ledger",
                    error=LedgerError,
                )
                if version is not None:
                    migrations.upgrade(self._db, version, SCHEMA_VERSION, MIGRATIONS)
                self._db.executescript(_SCHEMA)
                self._claim(server, surface)
                # Anything still "creating" was cut off mid-create by a crash or a kill.
                self._db.execute(
                    "UPDATE items SET state='unknown', updated_at=?, error=? "
                    "WHERE state='creating'",
                    (stamps.now(), "the run stopped while this create was in flight"),
                )
        except BaseException:
            self.close()
            raise

    def _claim(self, server: str, surface: str) -> None:
        fresh = {
            "app": APP,
            "schema": str(SCHEMA_VERSION),
            "server": server,
            "batch": uuid.uuid4().hex,
            "surface": surface,
            "created_at": stamps.now(),
        }
        meta = store.claim_meta(self._db, fresh)
        self.batch_id = meta.get("batch", "")
        self.surface = meta.get("surface", surface)
        if meta.get("server") != server:
            raise LedgerError(
                f"the batch in {self.directory} ran against {meta.get('server')}, not {server}; "
                "its jobs live there. Use another download directory for this server.",
                kind="foreign",
                path=self.path,
            )

    # -- transitions (each one statement, committed before it returns) -----------------

    def ensure(self, items: list[tuple[str, int, dict[str, Any]]]) -> dict[str, Entry]:
        """Each ``(key, position, request)``'s entry, added as ``pending`` if new (one commit)."""
        now = stamps.now()
        with store.transaction(self._db) as db:
            db.executemany(
                "INSERT INTO items (key, position, request, state, updated_at) "
                "VALUES (?, ?, ?, 'pending', ?) "
                "ON CONFLICT(key) DO UPDATE SET position=excluded.position",
                [(k, p, json.dumps(r, ensure_ascii=False), now) for k, p, r in items],
            )
        wanted = {key for key, _, _ in items}
        rows = self._db.execute("SELECT * FROM items").fetchall()
        return {row["key"]: Entry.from_row(row) for row in rows if row["key"] in wanted}

    def items(self) -> list[Entry]:
        """Every item, in batch order: what a resume continues from."""
        rows = self._db.execute("SELECT * FROM items ORDER BY position").fetchall()
        return [Entry.from_row(row) for row in rows]

    def creating(self, key: str) -> None:
        """Record the intent: from here until ``created`` the item's outcome is ambiguous."""
        self._set(
            key,
            "state='creating', creates=creates+1, error=NULL, files='[]', project=NULL, "
            + _RETIRE_ID,
        )

    def created(self, key: str, project_id: str, credits: int) -> None:
        self._set(key, "state='created', project_id=?, credits=?", project_id, credits)

    def complete(
        self, key: str, project: dict[str, Any], files: list[tuple[str, int]], credits: int
    ) -> None:
        self._set(
            key,
            "state='complete', project=?, files=?, credits=?, error=NULL",
            json.dumps(project),
            json.dumps(files),
            credits,
        )

    def failed(self, key: str, error: str, project: dict[str, Any] | None, credits: int) -> None:
        self._set(
            key,
            "state='failed', error=?, project=?, credits=?",
            error,
            json.dumps(project) if project else None,
            credits,
        )

    def unknown(self, key: str, error: str) -> None:
        self._set(key, "state='unknown', error=?", error)

    def pending(self, key: str, error: str | None) -> None:
        """No job exists for the item (the API refused the create, or the job vanished)."""
        self._set(
            key,
            "state='pending', error=?, " + _RETIRE_ID,
            error,
        )

    def note(self, key: str, error: str) -> None:
        """Keep the state (the job goes on), remember why this run did not finish it."""
        self._set(key, "error=?", error)

    def reopen(self, key: str, why: str) -> None:
        """A complete item whose files are gone: poll and download it again (no new create).

        ``files`` keeps the record, so a file the user changed is never taken for ours.
        """
        self._set(key, "state='created', error=?", why)

    def _set(self, key: str, assignments: str, *values: Any) -> None:
        self._db.execute(
            f"UPDATE items SET {assignments}, updated_at=? WHERE key=?",
            (*values, stamps.now(), key),
        )

    def close(self) -> None:
        """Close the database, then release the directory's lock (idempotent)."""
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
            self._db = None  # type: ignore[assignment]
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
