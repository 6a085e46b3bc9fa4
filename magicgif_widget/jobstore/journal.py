"""The job journal: one SQLite file per user that remembers every single job it is told about.

A job from the widget, ``Client.generate()`` or ``magicgif generate`` has no batch ledger, and
the API lists no projects: if the kernel dies mid-render, only this file still knows the id
of the job that was charged. Callers write the intent (``intent``) before the create is sent
and the project id (``created``) the moment its answer arrives, so the only ambiguous window
is the create's round trip; an intent whose writer is gone, or that is older than
``INTENT_WINDOW``, reads as ``unknown`` and is never re-created by the journal.

Where: ``$MAGICGIF_DATA_DIR/journal.sqlite3``, else ``journal.sqlite3`` in
``platformdirs.user_data_dir("magicgif-widget")``.

Several kernels may write it at once: WAL, a busy timeout, one short transaction per call.

Retention (``prune``, run on open and after every ``intent``):
1. a settled entry (dismissed, complete and collected, error, canceled, or never created)
   is dropped ``SETTLED_KEEP`` (30 days) after its last update;
2. past the newest ``MAX_ENTRIES`` (1000), older entries are dropped, except those younger
   than the longest spend-limit window (30 days: a limit counts them) and pending ones
   younger than ``PENDING_FLOOR`` (7 days, the download URLs' lifetime);
3. a pending entry is never dropped for its age alone.

It never holds a token: entries keep a server label (never userinfo, a query or a token),
the prompt, name and format, statuses and error codes, credits, paths and times.

Errors: every method raises ``JournalError`` (a ``MagicHourError``) and nothing else, for an
unwritable, busy, foreign or corrupt file, or a closed journal. A job must catch it, log it
and go on: the journal is a safety net, never a reason to fail a render. ``open`` moves a
corrupt file aside (``journal.sqlite3.corrupt-<time>``) and starts a new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from ..client.errors import SpendLimitError
from ..client.limits import LONGEST_WINDOW, SpendLimit, over_limit
from ..contract import CREDITS_PER_GIF, DEFAULT_FORMAT, FINAL_STATUSES, STATUSES
from . import migrations
from . import sqlite_store as store
from .journal_entry import BatchRecord, JobSettings, JournalEntry, server_for, server_label

JOURNAL_NAME = "journal.sqlite3"
DATA_ENV = "MAGICGIF_DATA_DIR"
APP = "magicgif-journal"
SCHEMA_VERSION = 2  # 1: 0.1.0; 2: batch items (batch, position, item_key) and ``batches``
SETTLED_KEEP = 30 * 86400.0  # seconds a settled entry is kept after its last update
MAX_ENTRIES = 1000
PENDING_FLOOR = 7 * 86400.0  # a pending entry this young is never dropped (URL lifetime)
INTENT_WINDOW = 600.0  # seconds after which an intent with no answer is taken as unknown
OPEN_WAIT = 5.0  # seconds ``open`` waits for another process opening the same journal
DEFAULT_LIMIT = 100

Surface = Literal["widget", "python", "cli"]
SURFACES: frozenset[str] = frozenset({"widget", "python", "cli"})
_PENDING = (
    "(dismissed_at IS NULL AND ((status='complete' AND collected_at IS NULL) "
    "OR status NOT IN ('complete', 'error', 'canceled', 'not_created')))"
)
_ACTIVE = (
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
_SCHEMA = (
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
_CODE_MAX = 64
_PROMPT_MAX = 4000
log = logging.getLogger("magicgif_widget.journal")
__all__ = [
    "BatchRecord",
    "JobSettings",
    "Journal",
    "JournalEntry",
    "JournalError",
    "journal_path",
    "server_for",
    "server_label",
    "shared_journal",
]


class JournalError(store.StoreError):
    """The journal cannot be used or written; ``kind``: corrupt, foreign, unwritable, busy."""


def journal_path() -> Path:
    """``$MAGICGIF_DATA_DIR/journal.sqlite3``, else in the user's data directory."""
    root = os.environ.get(DATA_ENV)
    if not root:
        from platformdirs import user_data_dir

        root = user_data_dir("magicgif-widget", appauthor=False)
    return Path(root) / JOURNAL_NAME


class Journal:
    """The user's job journal. Thread-safe; open one per process (not across a fork)."""

    def __init__(
        self,
        path: Path,
        db: sqlite3.Connection,
        clock: Callable[[], float],
        moved_aside: Path | None,
    ) -> None:
        """Use ``Journal.open``."""
        self.path = path
        self.moved_aside = moved_aside  # where a corrupt journal went, if ``open`` found one
        self._db: sqlite3.Connection | None = db
        self._clock = clock
        self._lock = threading.RLock()

    # -- opening ------------------------------------------------------------------------

    @classmethod
    def open(
        cls, path: str | os.PathLike[str] | None = None, *, clock: Callable[[], float] = time.time
    ) -> Journal:
        """Open (or create) the journal at ``path`` (default ``journal_path()``) and prune it.

        A corrupt file is moved aside and a new one started; anything else that stops the
        journal raises ``JournalError``. ``clock`` gives the time (tests move it).
        """
        where = Path(path) if path is not None else journal_path()
        with _oserrors(where):
            where.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                lock_fd = store.file_lock(where.with_name(where.name + ".lock"), wait=OPEN_WAIT)
            except store.LockHeld as held:
                raise JournalError(
                    f"cannot use the job journal {where}: process {held.holder} has been "
                    f"opening it for over {OPEN_WAIT:g} s",
                    kind="busy",
                    path=where,
                ) from None
        try:
            moved: Path | None = None
            try:
                db = _connect(where)
            except JournalError as err:
                if err.kind != "corrupt":
                    raise
                moved = _move_aside(where)
                log.warning("the job journal %s was damaged; moved it to %s", where, moved)
                db = _connect(where)
            journal = cls(where, db, clock, moved)
            try:
                journal._settle_intents()
                journal.prune()
            except BaseException:
                journal.close()
                raise
            return journal
        finally:
            if lock_fd is not None:
                os.close(lock_fd)

    # -- writing (each call is one short transaction, committed before it returns) ------

    def intent(
        self,
        server: str,
        settings: JobSettings | Mapping[str, Any],
        surface: Surface,
        *,
        directory: str | os.PathLike[str] | None = None,
        batch: str | None = None,
        position: int | None = None,
        item_key: str | None = None,
        limits: Sequence[SpendLimit] = (),
    ) -> str:
        """Record a create about to be sent; returns the entry's key. Call it before sending.

        ``settings`` may be a request mapping (see ``JobSettings.from_request``); its
        ``directory`` key, or ``directory``, is where the files are to go. A batch item names
        its ``batch``, ``position`` and ledger ``item_key``. With ``limits``, the spend in
        each limit's window (``spent``) plus this job must fit, checked and recorded in one
        transaction, so processes sharing the journal cannot together pass a limit; else
        ``SpendLimitError`` and nothing is recorded.
        """
        if isinstance(settings, Mapping):
            directory = directory or settings.get("directory")
            settings = JobSettings.from_request(settings)
        label = server_label(server)
        with self._write() as db:
            for limit in limits:
                spent = self._spent(db, label, self._clock() - limit.window)
                if spent + CREDITS_PER_GIF > limit.credits:
                    raise SpendLimitError(
                        over_limit(CREDITS_PER_GIF, limit, spent),
                        total=CREDITS_PER_GIF,
                        limit=limit.credits,
                        spent=spent,
                    )
            key = self._insert(
                db,
                label,
                surface,
                settings,
                "creating",
                directory=_abspath(directory),
                batch=batch,
                position=position,
                item_key=item_key,
            )
        return key

    def batch_started(
        self,
        batch: str,
        server: str,
        surface: Surface,
        directory: str | os.PathLike[str],
        total: int,
    ) -> None:
        """Record a batch or gallery (its id, its directory, how many items); idempotent."""
        now = self._now()
        with self._write() as db:
            db.execute(
                "INSERT INTO batches (id, server, surface, directory, total, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "directory=excluded.directory, total=excluded.total, "
                "updated_at=excluded.updated_at, dismissed_at=NULL",
                (
                    batch,
                    server_label(server),
                    _code(surface) or "python",
                    _abspath(directory),
                    int(total),
                    now,
                    now,
                ),
            )

    def item(
        self,
        server: str,
        project_id: str,
        surface: Surface,
        settings: JobSettings,
        *,
        batch: str,
        position: int,
        item_key: str,
        directory: str | os.PathLike[str],
        credits: int | None = None,
    ) -> str:
        """The key of a batch item's entry for ``project_id``, added (or given its batch) if
        the journal did not know it: a ledger's jobs are written through to the journal."""
        with self._write() as db:
            row = db.execute(
                "SELECT key FROM entries WHERE project_id=? ORDER BY seq DESC LIMIT 1",
                (project_id,),
            ).fetchone()
            if row is not None:
                db.execute(
                    "UPDATE entries SET batch=COALESCE(batch, ?), position=COALESCE(position, ?), "
                    "item_key=COALESCE(item_key, ?) WHERE key=?",
                    (batch, position, item_key, row["key"]),
                )
                return str(row["key"])
            return self._insert(
                db,
                server,
                surface,
                settings,
                "created",
                project_id=project_id,
                directory=_abspath(directory),
                credits_charged=_int(credits),
                batch=batch,
                position=position,
                item_key=item_key,
            )

    def adopt(
        self,
        server: str,
        project_id: str,
        surface: Surface,
        settings: JobSettings | None = None,
    ) -> str:
        """The key of the entry for a job made earlier (``check_result``), added if missing."""
        with self._write() as db:
            row = db.execute(
                "SELECT key FROM entries WHERE project_id=? ORDER BY seq DESC LIMIT 1",
                (project_id,),
            ).fetchone()
            if row is not None:
                return str(row["key"])
            known = settings or JobSettings("")
            return self._insert(db, server, surface, known, "created", project_id=project_id)

    def created(self, key: str, project_id: str, credits: int | None = None) -> bool:
        """Record the create's answer and what it charged (call before anything else awaits).

        Returns False when no entry has ``key``.
        """
        return self._update(
            "project_id=?, credits_charged=COALESCE(?, credits_charged), "
            "status=CASE WHEN status IN ('creating', 'unknown', 'not_created') "
            "THEN 'created' ELSE status END",
            "key=?",
            (project_id, _int(credits)),
            key,
        )

    def not_created(self, key: str, error_code: str | None = None) -> bool:
        """The API refused the create (4xx, 402…): no job exists and nothing was charged."""
        return self._update(
            "status='not_created', error_code=?",
            "key=? AND project_id IS NULL",
            (_code(error_code),),
            key,
        )

    def lost(self, key: str) -> bool:
        """The create was sent and its answer lost (``CreateOutcomeUnknown``): ``unknown``."""
        return self._update("status='unknown'", "key=? AND project_id IS NULL", (), key)

    def seen(
        self,
        project_id: str,
        status: str,
        error_code: str | None = None,
        credits: int | None = None,
        refunded: int | None = None,
    ) -> bool:
        """Record a status read from the API (and credits charged, refunded); False if unknown.

        A final status is never replaced by a running one; a status the API does not
        document is ignored (its credits are still recorded).
        """
        known = status if status in STATUSES else None
        regress = known is not None and known not in FINAL_STATUSES
        return self._update(
            "status=COALESCE(?, status), error_code=COALESCE(?, error_code), "
            "credits_charged=COALESCE(?, credits_charged), "
            "credits_refunded=COALESCE(?, credits_refunded)",
            "project_id=?"
            + (" AND status NOT IN ('complete', 'error', 'canceled')" if regress else ""),
            (known, _code(error_code), _int(credits), _int(refunded)),
            project_id,
        )

    def collected(self, project_id: str, paths: Sequence[str | os.PathLike[str]]) -> bool:
        """Record where the job's files were written (absolute paths); the job is complete."""
        absolute = [os.path.abspath(os.fspath(p)) for p in paths]
        now = self._now()
        return self._update(
            "paths=?, collected_at=?, status=CASE WHEN status IN ('error', 'canceled') "
            "THEN status ELSE 'complete' END",
            "project_id=?",
            (json.dumps(absolute, ensure_ascii=False), now),
            project_id,
        )

    def retire(self, batch: str, item_keys: Sequence[str]) -> int:
        """Intents of ``batch``'s items that its ledger says were never sent: ``not_created``."""
        if not item_keys:
            return 0
        marks = ",".join("?" * len(item_keys))
        with self._guard() as db:
            return int(
                db.execute(
                    f"UPDATE entries SET status='not_created', updated_at=? WHERE batch=? "
                    f"AND project_id IS NULL AND status IN ('creating', 'unknown') "
                    f"AND item_key IN ({marks})",
                    (self._now(), batch, *item_keys),
                ).rowcount
            )

    def dismiss(self, ref: str) -> bool:
        """The user dismissed the entry (by project id or key), or a whole batch (by its id):
        no longer pending."""
        with self._guard() as db:
            now = self._now()
            batch = db.execute(
                "UPDATE batches SET dismissed_at=?, updated_at=? "
                "WHERE id=? AND dismissed_at IS NULL",
                (now, now, ref),
            ).rowcount
            items = db.execute(
                "UPDATE entries SET dismissed_at=?, updated_at=? WHERE (project_id=? OR key=? "
                "OR batch=?) AND dismissed_at IS NULL",
                (now, now, ref, ref, ref),
            ).rowcount
            return bool(batch or items)

    def prune(self) -> int:
        """Apply the retention rule (see the module); returns how many entries were dropped."""
        with self._write() as db:
            return self._prune(db)

    # -- reading ------------------------------------------------------------------------

    def get(self, ref: str) -> JournalEntry | None:
        """The newest entry with this project id or key."""
        rows = self._read(
            "SELECT * FROM entries WHERE project_id=? OR key=? ORDER BY seq DESC LIMIT 1",
            (ref, ref),
        )
        return JournalEntry.from_row(rows[0]) if rows else None

    def entries(
        self,
        *,
        server: str | None = None,
        pending_only: bool = False,
        limit: int | None = DEFAULT_LIMIT,
    ) -> list[JournalEntry]:
        """Entries, newest first; optionally of one server, or only pending ones."""
        where: list[str] = ["1"]
        args: list[Any] = []
        if server is not None:
            where.append("server=?")
            args.append(server_label(server))
        if pending_only:
            where.append(_PENDING)
        sql = f"SELECT * FROM entries WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?"
        rows = self._read(sql, (*args, -1 if limit is None else limit))
        return [JournalEntry.from_row(r) for r in rows]

    def spent(self, server: str, window: float) -> int:
        """Credits the journal counts as spent on ``server`` in the last ``window`` seconds:
        what each job was charged, ``CREDITS_PER_GIF`` for one whose charge is not known yet
        (in flight, or its answer lost), nothing for a refused create or a refunded failure."""
        self._settle_intents()
        with self._guard() as db:
            return self._spent(db, server_label(server), self._clock() - window)

    def batch(self, batch: str) -> BatchRecord | None:
        """A batch's record and its items' entries (by position), or None."""
        rows = self._read("SELECT * FROM batches WHERE id=?", (batch,))
        if not rows:
            return None
        items = self._read("SELECT * FROM entries WHERE batch=? ORDER BY position, seq", (batch,))
        return BatchRecord.from_rows(rows[0], [JournalEntry.from_row(r) for r in items])

    def batches(
        self, *, server: str | None = None, pending_only: bool = False
    ) -> list[BatchRecord]:
        """Batches and galleries, newest first, each with its items; ``pending_only`` keeps
        the ones with an item worth collecting."""
        where, args = ("server=?", (server_label(server),)) if server is not None else ("1", ())
        rows = self._read(f"SELECT * FROM batches WHERE {where} ORDER BY created_at DESC", args)
        found = []
        for row in rows:
            items = self._read(
                "SELECT * FROM entries WHERE batch=? ORDER BY position, seq", (row["id"],)
            )
            record = BatchRecord.from_rows(row, [JournalEntry.from_row(r) for r in items])
            if not pending_only or record.pending:
                found.append(record)
        return found

    def active_like(self, server: str, settings: JobSettings) -> JournalEntry | None:
        """The newest still-active job (in flight, or running as last seen) with exactly these
        settings on this server: "you already have this job running". Check its status first.
        """
        rows = self._read(
            f"SELECT * FROM entries WHERE {_ACTIVE} AND server=? AND prompt=? AND name IS ? "
            "AND output_format=? ORDER BY seq DESC LIMIT 1",
            (
                server_label(server),
                settings.prompt[:_PROMPT_MAX],
                settings.name,
                settings.output_format,
            ),
        )
        return JournalEntry.from_row(rows[0]) if rows else None

    # -- closing ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            if self._db is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._db.close()
                self._db = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Journal {self.path}{'' if self._db else ' (closed)'}>"

    # -- internals ----------------------------------------------------------------------

    def _now(self) -> str:
        return store.now(self._clock())

    @contextlib.contextmanager
    def _guard(self) -> Iterator[sqlite3.Connection]:
        """The open connection, with every sqlite3 or OS error raised as ``JournalError``."""
        with self._lock, store.translate(JournalError, self.path, "the job journal"):
            if self._db is None:
                raise JournalError(
                    f"the job journal {self.path} is closed", kind="unwritable", path=self.path
                )
            try:
                with _oserrors(self.path):
                    yield self._db
            except sqlite3.DatabaseError:
                raise
            except sqlite3.Error as exc:  # a value SQLite would not take: still ours to type
                raise JournalError(
                    f"cannot use the job journal {self.path}: {exc}", kind="foreign", path=self.path
                ) from None

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._guard() as db, store.transaction(db):
            yield db

    def _insert(
        self,
        db: sqlite3.Connection,
        server: str,
        surface: str,
        settings: JobSettings,
        status: str,
        **columns: Any,
    ) -> str:
        """Add an entry written by this process (then prune); returns its new key.

        ``columns`` are other entry columns by name (project_id, directory, batch, …).
        """
        key = uuid.uuid4().hex
        now = self._now()
        values: dict[str, Any] = {
            "key": key,
            "server": server_label(server),
            "surface": _code(surface) or "python",
            "prompt": settings.prompt[:_PROMPT_MAX],
            "name": settings.name,
            "output_format": _code(settings.output_format) or DEFAULT_FORMAT,
            "status": status,
            "writer": _writer(),
            "created_at": now,
            "updated_at": now,
            **columns,
        }
        marks = ", ".join("?" * len(values))
        db.execute(
            f"INSERT INTO entries ({', '.join(values)}) VALUES ({marks})", tuple(values.values())
        )
        self._prune(db)
        return key

    def _update(self, assignments: str, where: str, values: tuple[Any, ...], *keys: str) -> bool:
        with self._guard() as db:
            cursor = db.execute(
                f"UPDATE entries SET {assignments}, updated_at=? WHERE {where}",
                (*values, self._now(), *keys),
            )
            return cursor.rowcount > 0

    def _read(self, sql: str, args: tuple[Any, ...]) -> list[sqlite3.Row]:
        self._settle_intents()
        with self._guard() as db:
            return list(db.execute(sql, args).fetchall())

    def _settle_intents(self) -> None:
        """Intents whose writer is gone, or older than ``INTENT_WINDOW``, become ``unknown``."""
        with self._guard() as db:
            rows = db.execute(
                "SELECT key, writer, created_at FROM entries WHERE status='creating'"
            ).fetchall()
            now = self._clock()
            stale = [
                r["key"]
                for r in rows
                if now - store.parse_time(r["created_at"]) > INTENT_WINDOW
                or _writer_alive(r["writer"]) is False
            ]
            if stale:
                marks = ",".join("?" * len(stale))
                db.execute(
                    f"UPDATE entries SET status='unknown', updated_at=? "
                    f"WHERE status='creating' AND key IN ({marks})",
                    (self._now(), *stale),
                )

    @staticmethod
    def _spent(db: sqlite3.Connection, label: str, since: float) -> int:
        row = db.execute(
            "SELECT COALESCE(SUM(CASE WHEN status='not_created' THEN 0 "
            "WHEN COALESCE(credits_refunded, 0) > 0 THEN 0 "
            "WHEN credits_charged IS NOT NULL THEN credits_charged ELSE ? END), 0) "
            "FROM entries WHERE server=? AND created_at >= ?",
            (CREDITS_PER_GIF, label, store.now(since)),
        ).fetchone()
        return int(row[0])

    def _prune(self, db: sqlite3.Connection) -> int:
        now = self._clock()
        settled = db.execute(
            f"DELETE FROM entries WHERE NOT {_PENDING} AND updated_at < ?",
            (store.now(now - SETTLED_KEEP),),
        ).rowcount
        over = db.execute(
            f"DELETE FROM entries WHERE seq < (SELECT seq FROM entries ORDER BY seq DESC "
            f"LIMIT 1 OFFSET ?) AND NOT ({_PENDING} AND created_at >= ?) AND created_at < ?",
            (MAX_ENTRIES - 1, store.now(now - PENDING_FLOOR), store.now(now - LONGEST_WINDOW)),
        ).rowcount
        db.execute(
            "DELETE FROM batches WHERE updated_at < ? AND NOT EXISTS "
            "(SELECT 1 FROM entries WHERE entries.batch=batches.id)",
            (store.now(now - SETTLED_KEEP),),
        )
        return int(settled) + int(over)


# -- opening, in pieces -------------------------------------------------------------------


def _connect(path: Path) -> sqlite3.Connection:
    """Open the journal file: check it is ours and not newer before changing anything, then
    WAL, the older versions' migrations and the schema."""
    with _oserrors(path):
        if not path.exists():  # created private: it holds prompts
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    with store.translate(JournalError, path, "the job journal"):
        db = store.connect(path)
        try:
            version = migrations.check_version(
                db, path, current=SCHEMA_VERSION, what="the job journal", error=JournalError
            )
            if version is not None:  # not a new file: is it ours?
                _check_meta(path, dict(db.execute("SELECT key, value FROM meta").fetchall()))
            check = db.execute("PRAGMA quick_check(1)").fetchone()
            if check is None or check[0] != "ok":
                raise JournalError(
                    f"cannot use the job journal {path}: damaged ({check[0] if check else '?'})",
                    kind="corrupt",
                    path=path,
                )
            if store.use_wal(db):
                # In WAL mode a commit then survives the writer's crash (a killed kernel,
                # the case this file is for) without an fsync per write; a power cut may lose
                # the last few, which the jobs' own fsynced files do not depend on.
                db.execute("PRAGMA synchronous=NORMAL")
            if version is not None:
                migrations.upgrade(db, version, SCHEMA_VERSION, MIGRATIONS)
            db.executescript(_SCHEMA)
            fresh = {"app": APP, "schema": str(SCHEMA_VERSION), "created_at": store.now()}
            _check_meta(path, store.claim_meta(db, fresh))
        except BaseException:
            db.close()
            raise
    return db


def _check_meta(path: Path, meta: Mapping[str, str]) -> None:
    """Raise ``foreign`` unless an existing ``meta`` is a journal's (or empty)."""
    if meta and meta.get("app") != APP:
        raise JournalError(
            f"cannot use the job journal {path}: it holds {meta.get('app')!r}, not {APP!r}",
            kind="foreign",
            path=path,
        )


def _move_aside(path: Path) -> Path:
    """Rename a damaged journal (and its -wal, -shm) to ``<name>.corrupt-<time>``; never delete."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}-{os.getpid()}")
    with _oserrors(path):
        for suffix in ("-wal", "-shm"):
            companion = path.with_name(path.name + suffix)
            if companion.exists():
                os.replace(companion, aside.with_name(aside.name + suffix))
        os.replace(path, aside)
    return aside


@contextlib.contextmanager
def _oserrors(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise JournalError(
            f"cannot use the job journal {path}: {exc.strerror or exc}",
            kind="unwritable",
            path=path,
        ) from None


def _int(value: int | None) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _abspath(path: str | os.PathLike[str] | None) -> str | None:
    return None if path is None else os.path.abspath(os.fspath(path))


def _code(value: str | None) -> str | None:
    """A short printable code (an error code, a format), or None."""
    if value is None:
        return None
    text = "".join(c for c in str(value) if c.isprintable())[:_CODE_MAX]
    return text or None


_HOST = hashlib.sha256(socket.gethostname().encode(errors="replace")).hexdigest()[:12]
_RUN = uuid.uuid4().hex[:12]  # this process, told apart from an earlier one with its pid


def _new_run() -> None:
    global _RUN
    _RUN = uuid.uuid4().hex[:12]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_run)


def _writer() -> str:
    return f"{_HOST}:{os.getpid()}:{_RUN}"


def _writer_alive(writer: str) -> bool | None:
    """Whether the process that wrote an intent still runs: None when it cannot be told
    (another host, Windows, a malformed record)."""
    host, pid_text, run = [*writer.split(":"), "", ""][:3]
    if host != _HOST or os.name == "nt" or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    if pid == os.getpid():
        return run == _RUN  # a kernel restarted under the same pid is not its predecessor
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    except OSError:
        return None
    return True


_shared: dict[tuple[str, int], Journal] = {}
_shared_lock = threading.Lock()


def shared_journal() -> Journal:
    """This process's journal at ``journal_path()``, opened once and kept open (again in a
    forked child); ``JournalError`` if it cannot be opened."""
    key = (str(journal_path()), os.getpid())
    with _shared_lock:
        journal = _shared.get(key)
        if journal is None:
            journal = _shared[key] = Journal.open()
        return journal
