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

Its pieces: ``journal_schema`` (tables, migration), ``journal_file`` (path, opening),
``liveness`` (who wrote an intent), ``journal_core`` (shared steps, retention),
``journal_writes`` (the writes); this module opens it, reads it and shares one per process.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import journal_schema as schema
from .journal_core import INTENT_WINDOW as INTENT_WINDOW
from .journal_core import MAX_ENTRIES as MAX_ENTRIES
from .journal_core import PENDING_FLOOR as PENDING_FLOOR
from .journal_core import PROMPT_MAX
from .journal_core import SETTLED_KEEP as SETTLED_KEEP
from .journal_core import SURFACES as SURFACES
from .journal_core import Surface as Surface
from .journal_entry import BatchRecord, JobSettings, JournalEntry, server_for, server_label
from .journal_file import DATA_ENV as DATA_ENV
from .journal_file import JOURNAL_NAME as JOURNAL_NAME
from .journal_file import OPEN_WAIT as OPEN_WAIT
from .journal_file import JournalError, connect_or_move_aside, journal_path, opening
from .journal_schema import APP as APP
from .journal_schema import SCHEMA_VERSION as SCHEMA_VERSION
from .journal_writes import JournalWrites

DEFAULT_LIMIT = 100
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


class Journal(JournalWrites):
    """The user's job journal. Thread-safe; open one per process (not across a fork)."""

    @classmethod
    def open(
        cls, path: str | os.PathLike[str] | None = None, *, clock: Callable[[], float] = time.time
    ) -> Journal:
        """Open (or create) the journal at ``path`` (default ``journal_path()``) and prune it.

        A corrupt file is moved aside and a new one started; anything else that stops the
        journal raises ``JournalError``. ``clock`` gives the time (tests move it).
        """
        where = Path(path) if path is not None else journal_path()
        with opening(where):
            db, moved = connect_or_move_aside(where)
            journal = cls(where, db, clock, moved)
            try:
                journal._settle_intents()
                journal.prune()
            except BaseException:
                journal.close()
                raise
            return journal

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
            where.append(schema.PENDING)
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
            f"SELECT * FROM entries WHERE {schema.ACTIVE} AND server=? AND prompt=? AND name IS ? "
            "AND output_format=? ORDER BY seq DESC LIMIT 1",
            (
                server_label(server),
                settings.prompt[:PROMPT_MAX],
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
