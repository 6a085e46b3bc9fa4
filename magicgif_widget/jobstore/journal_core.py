"""The journal's connection and the steps every call shares: guarded access (errors typed as
``JournalError``), one write turn, adding and updating entries, settling stale intents,
summing spend, and the retention rule (see ``journal``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from ..client.limits import LONGEST_WINDOW
from ..contract import CREDITS_PER_GIF, DEFAULT_FORMAT
from . import journal_schema as schema
from . import liveness, stamps
from . import sqlite_store as store
from .journal_entry import JobSettings, server_label
from .journal_file import JournalError, oserrors

SETTLED_KEEP = 30 * 86400.0  # seconds a settled entry is kept after its last update
MAX_ENTRIES = 1000
PENDING_FLOOR = 7 * 86400.0  # a pending entry this young is never dropped (URL lifetime)
INTENT_WINDOW = 600.0  # seconds after which an intent with no answer is taken as unknown
CODE_MAX = 64
PROMPT_MAX = 4000

Surface = Literal["widget", "python", "cli"]
SURFACES: frozenset[str] = frozenset({"widget", "python", "cli"})


class JournalCore:
    """An open journal database and its shared steps; ``Journal`` adds the calls."""

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

    # -- internals ----------------------------------------------------------------------

    def _now(self) -> str:
        return stamps.now(self._clock())

    @contextlib.contextmanager
    def _guard(self) -> Iterator[sqlite3.Connection]:
        """The open connection, with every sqlite3 or OS error raised as ``JournalError``."""
        with self._lock, store.translate(JournalError, self.path, "the job journal"):
            if self._db is None:
                raise JournalError(
                    f"the job journal {self.path} is closed", kind="unwritable", path=self.path
                )
            try:
                with oserrors(self.path):
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
            "surface": code(surface) or "python",
            "prompt": settings.prompt[:PROMPT_MAX],
            "name": settings.name,
            "output_format": code(settings.output_format) or DEFAULT_FORMAT,
            "status": status,
            "writer": liveness.writer(),
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
                if now - stamps.parse_time(r["created_at"]) > INTENT_WINDOW
                or liveness.writer_alive(r["writer"]) is False
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
            (CREDITS_PER_GIF, label, stamps.now(since)),
        ).fetchone()
        return int(row[0])

    def _prune(self, db: sqlite3.Connection) -> int:
        now = self._clock()
        settled = db.execute(
            f"DELETE FROM entries WHERE NOT {schema.PENDING} AND updated_at < ?",
            (stamps.now(now - SETTLED_KEEP),),
        ).rowcount
        over = db.execute(
            f"DELETE FROM entries WHERE seq < (SELECT seq FROM entries ORDER BY seq DESC "
            f"LIMIT 1 OFFSET ?) AND NOT ({schema.PENDING} AND created_at >= ?) AND created_at < ?",
            (MAX_ENTRIES - 1, stamps.now(now - PENDING_FLOOR), stamps.now(now - LONGEST_WINDOW)),
        ).rowcount
        db.execute(
            "DELETE FROM batches WHERE updated_at < ? AND NOT EXISTS "
            "(SELECT 1 FROM entries WHERE entries.batch=batches.id)",
            (stamps.now(now - SETTLED_KEEP),),
        )
        return int(settled) + int(over)


# -- opening, in pieces -------------------------------------------------------------------


def as_int(value: int | None) -> int | None:
    """``value`` if it is an int (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def abspath(path: str | os.PathLike[str] | None) -> str | None:
    """``path`` made absolute, or None."""
    return None if path is None else os.path.abspath(os.fspath(path))


def code(value: str | None) -> str | None:
    """A short printable code (an error code, a format), or None."""
    if value is None:
        return None
    text = "".join(c for c in str(value) if c.isprintable())[:CODE_MAX]
    return text or None
