"""The SQLite core shared by the batch ledger and the job journal.

``connect`` opens a file with durable commits and a busy timeout and creates its schema;
``use_wal`` lets several processes share it; ``claim_meta`` reads, or first writes, the
``meta`` table (schema version, owner); ``transaction`` is one short write turn;
``translate`` turns sqlite3's errors into a ``StoreError`` whose ``kind`` says what is wrong;
``file_lock`` holds a file lock (``filelock``: POSIX and Windows). ``now`` and ``parse_time``
are ``stamps``' (the files' one timestamp format), kept here for their callers.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

from filelock import BaseFileLock, FileLock, Timeout

from ..client.errors import MagicHourError
from .stamps import TIME_FORMAT as TIME_FORMAT
from .stamps import now as now
from .stamps import parse_time as parse_time

BUSY_TIMEOUT_MS = 5000  # how long a statement waits for another connection's write lock

Kind = Literal["corrupt", "foreign", "unwritable", "busy", "newer"]
# corrupt     not a database, or a damaged one
# foreign     a database, but not ours: another schema version, owner or table layout
# unwritable  cannot be opened or written (permissions, read-only or full disk, I/O error)
# busy        another process holds it for longer than the wait
# newer       written by a newer release: refused, and left as it is


class StoreError(MagicHourError):
    """A store file cannot be used; ``kind`` says why and ``path`` names it."""

    def __init__(self, message: str, *, kind: Kind, path: Path | None = None) -> None:
        super().__init__(message)
        self.kind: Kind = kind
        self.path = path


class LockHeld(Exception):
    """Another process holds a ``file_lock``; ``holder`` is the pid it wrote, if any."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


def kind_of(exc: sqlite3.DatabaseError) -> Kind:
    """What a sqlite3 error says about the file (see ``Kind``)."""
    text = str(exc).lower()
    if "no such table" in text or "no such column" in text or "has no column" in text:
        return "foreign"
    if isinstance(exc, sqlite3.OperationalError):
        return "busy" if "locked" in text or "busy" in text else "unwritable"
    if type(exc) is sqlite3.DatabaseError:  # how SQLITE_NOTADB and SQLITE_CORRUPT arrive
        return "corrupt"
    return "foreign"  # a constraint or value the file's layout does not take


@contextlib.contextmanager
def translate(
    error: type[StoreError], path: Path, what: str, *, kind: Kind | None = None
) -> Iterator[None]:
    """Raise sqlite3 errors inside as ``error``: "cannot use {what} {path}: {sqlite's words}"."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise error(
            f"cannot use {what} {path}: {exc}", kind=kind or kind_of(exc), path=path
        ) from None


def connect(path: Path, schema: str = "") -> sqlite3.Connection:
    """Open (or create) ``path`` in autocommit mode and run ``schema`` (idempotent DDL).

    Commits are durable (``synchronous=FULL``) and a locked file is waited for up to
    ``BUSY_TIMEOUT_MS``. Raises sqlite3's errors (see ``translate``).
    """
    db = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    try:
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA synchronous=FULL")  # a commit survives a power cut
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if schema:
            db.executescript(schema)
    except BaseException:
        db.close()
        raise
    return db


def use_wal(db: sqlite3.Connection) -> bool:
    """Switch to write-ahead logging: readers never block the writer, and several processes
    write one file in short turns. False where the file system refuses it (then it still
    works, with rollback journaling)."""
    mode = db.execute("PRAGMA journal_mode=WAL").fetchone()
    return bool(mode) and str(mode[0]).lower() == "wal"


def claim_meta(db: sqlite3.Connection, initial: Mapping[str, str]) -> dict[str, str]:
    """The ``meta`` table's pairs; an empty table is first given ``initial`` (one transaction)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        meta = {str(k): str(v) for k, v in db.execute("SELECT key, value FROM meta").fetchall()}
        if not meta:
            db.executemany("INSERT INTO meta VALUES (?, ?)", list(initial.items()))
            meta = dict(initial)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return meta


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on any error): one short write turn."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def file_lock(path: Path, *, wait: float = 0.0) -> BaseFileLock:
    """An exclusive lock on ``path`` (created if missing), held until its ``release()``.

    ``filelock``'s: an ``flock`` on POSIX, ``msvcrt.locking`` on Windows; a second lock on the
    same path is refused in this process too. Tries for ``wait`` seconds, then raises
    ``LockHeld``; writes this pid into the file once held. ``OSError``s pass.
    """
    lock = FileLock(path, timeout=wait, mode=0o644)
    try:
        lock.acquire()
    except Timeout:
        raise LockHeld(_holder(path)) from None
    with contextlib.suppress(OSError), open(path, "r+b", buffering=0) as out:
        out.truncate(0)
        out.write(str(os.getpid()).encode())
    return lock


def _holder(path: Path) -> str:
    """The pid a lock's holder wrote into it, else "another process"."""
    try:
        with open(path, "rb") as held:
            text = held.read(32).decode(errors="replace").strip()
    except OSError:
        text = ""
    return text or "another process"
