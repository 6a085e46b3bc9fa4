"""The journal's file: where it lives, its ``JournalError``, the lock held while it is opened,
and opening it (checked, migrated, WAL), a damaged one first moved aside.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path

from . import journal_schema as schema
from . import migrations, stamps
from . import sqlite_store as store

JOURNAL_NAME = "journal.sqlite3"
DATA_ENV = "MAGICGIF_DATA_DIR"
OPEN_WAIT = 5.0  # seconds ``open`` waits for another process opening the same journal
log = logging.getLogger("magicgif_widget.journal")


class JournalError(store.StoreError):
    """The journal cannot be used or written; ``kind``: corrupt, foreign, unwritable, busy."""


def journal_path() -> Path:
    """``$MAGICGIF_DATA_DIR/journal.sqlite3``, else in the user's data directory."""
    root = os.environ.get(DATA_ENV)
    if not root:
        from platformdirs import user_data_dir

        root = user_data_dir("magicgif-widget", appauthor=False)
    return Path(root) / JOURNAL_NAME


@contextlib.contextmanager
def opening(where: Path) -> Iterator[None]:
    """Hold ``<journal>.lock`` inside: one process opens (migrates, prunes) a journal at a
    time; ``busy`` after ``OPEN_WAIT`` seconds. Creates the directory (private) if missing."""
    with oserrors(where):
        where.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            lock = store.file_lock(where.with_name(where.name + ".lock"), wait=OPEN_WAIT)
        except store.LockHeld as held:
            raise JournalError(
                f"cannot use the job journal {where}: process {held.holder} has been "
                f"opening it for over {OPEN_WAIT:g} s",
                kind="busy",
                path=where,
            ) from None
    try:
        yield
    finally:
        lock.release()


def connect_or_move_aside(where: Path) -> tuple[sqlite3.Connection, Path | None]:
    """``connect``; a corrupt file is first moved aside (returned) and a new one started."""
    try:
        return connect(where), None
    except JournalError as err:
        if err.kind != "corrupt":
            raise
    moved = move_aside(where)
    log.warning("the job journal %s was damaged; moved it to %s", where, moved)
    return connect(where), moved


def connect(path: Path) -> sqlite3.Connection:
    """Open the journal file: check it is ours and not newer before changing anything, then
    WAL, the older versions' migrations and the schema."""
    with oserrors(path):
        if not path.exists():  # created private: it holds prompts
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    with store.translate(JournalError, path, "the job journal"):
        db = store.connect(path)
        try:
            version = migrations.check_version(
                db, path, current=schema.SCHEMA_VERSION, what="the job journal", error=JournalError
            )
            if version is not None:  # not a new file: is it ours?
                check_meta(path, dict(db.execute("SELECT key, value FROM meta").fetchall()))
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
                migrations.upgrade(db, version, schema.SCHEMA_VERSION, schema.MIGRATIONS)
            db.executescript(schema.SCHEMA)
            fresh = {
                "app": schema.APP,
                "schema": str(schema.SCHEMA_VERSION),
                "created_at": stamps.now(),
            }
            check_meta(path, store.claim_meta(db, fresh))
        except BaseException:
            db.close()
            raise
    return db


def check_meta(path: Path, meta: Mapping[str, str]) -> None:
    """Raise ``foreign`` unless an existing ``meta`` is a journal's (or empty)."""
    if meta and meta.get("app") != schema.APP:
        raise JournalError(
            f"cannot use the job journal {path}: it holds {meta.get('app')!r}, not {schema.APP!r}",
            kind="foreign",
            path=path,
        )


def move_aside(path: Path) -> Path:
    """Rename a damaged journal (and its -wal, -shm) to ``<name>.corrupt-<time>``; never delete."""
    aside = path.with_name(f"{path.name}.corrupt-{stamps.file_stamp()}-{os.getpid()}")
    with oserrors(path):
        for suffix in ("-wal", "-shm"):
            companion = path.with_name(path.name + suffix)
            if companion.exists():
                os.replace(companion, aside.with_name(aside.name + suffix))
        os.replace(path, aside)
    return aside


@contextlib.contextmanager
def oserrors(path: Path) -> Iterator[None]:
    """An ``OSError`` inside is raised as ``JournalError`` (``unwritable``) naming ``path``."""
    try:
        yield
    except OSError as exc:
        raise JournalError(
            f"cannot use the job journal {path}: {exc.strerror or exc}",
            kind="unwritable",
            path=path,
        ) from None
