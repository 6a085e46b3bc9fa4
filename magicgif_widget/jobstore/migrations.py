"""Schema versions of the store files, and how an older file moves forward on open.

Every file has a ``meta`` table with its ``schema`` version. ``check_version`` reads it before
anything in the file is changed: a file from a newer release is refused (``kind="newer"``)
untouched; an older one is ``upgrade``d one step at a time, each step one transaction, so a
file is always at one whole version. A step never drops a row: jobs are never lost.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path

from . import sqlite_store as store

Step = Callable[[sqlite3.Connection], None]
UPGRADE_HINT = "upgrade magicgif-widget (pip install -U magicgif-widget)"


def read_version(db: sqlite3.Connection) -> int | None:
    """The file's schema version; None for a new, empty file; -1 for one with no readable
    version (not ours)."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables:
        return None
    if "meta" not in tables:
        return -1
    row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    text = str(row[0]) if row is not None else ""
    return int(text) if text.isdigit() else -1


def check_version(
    db: sqlite3.Connection,
    path: Path,
    *,
    current: int,
    what: str,
    error: type[store.StoreError],
) -> int | None:
    """The file's version, refusing one newer than ``current`` (or unreadable) before any
    change is made to it."""
    version = read_version(db)
    if version == -1:
        raise error(
            f"cannot use {what} {path}: it is another program's database", kind="foreign", path=path
        )
    if version is not None and version > current:
        raise error(
            f"cannot use {what} {path}: it was written by a newer magicgif-widget (schema "
            f"{version}; this version reads up to {current}). Nothing in it was changed; "
            f"{UPGRADE_HINT} to use it.",
            kind="newer",
            path=path,
        )
    return version


def upgrade(db: sqlite3.Connection, version: int, current: int, steps: Mapping[int, Step]) -> int:
    """Apply ``steps[v]`` (v → v + 1) from ``version`` up to ``current``; returns the steps run.

    Each step and its new version number commit together, so a crash leaves a whole version.
    """
    ran = 0
    while version < current:
        step = steps[version]
        with store.transaction(db):
            step(db)
            db.execute("UPDATE meta SET value=? WHERE key='schema'", (str(version + 1),))
        version += 1
        ran += 1
    return ran
