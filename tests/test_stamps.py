"""The store files' one timestamp format: what it writes, that it reads back, that the
released files' stamps still read, and the file-name spelling of the same instant."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from magicgif_widget.jobstore import sqlite_store, stamps

FIXTURES = Path(__file__).parent / "fixtures" / "stores"
WHEN = 1738315800.0  # 2025-01-31 09:30:00 UTC


def test_a_stamp_is_utc_whole_seconds_and_reads_back():
    assert stamps.now(WHEN) == "2025-01-31T09:30:00Z"
    assert stamps.now(WHEN + 0.9) == "2025-01-31T09:30:00Z"  # whole seconds, never rounded up
    assert stamps.parse_time(stamps.now(WHEN)) == WHEN
    assert stamps.file_stamp(WHEN) == "20250131T093000Z"


def test_stamps_sort_as_text_as_the_stores_compare_them():
    # The journal's retention and spend windows compare stamps as text in SQL.
    times = [WHEN - 86400 * 400, WHEN - 1, WHEN, WHEN + 9, WHEN + 86400 * 40]
    assert sorted(stamps.now(t) for t in reversed(times)) == [stamps.now(t) for t in times]


def test_the_sqlite_store_names_are_the_same_ones():
    assert sqlite_store.now is stamps.now and sqlite_store.parse_time is stamps.parse_time
    assert sqlite_store.TIME_FORMAT == stamps.TIME_FORMAT


@pytest.mark.parametrize(
    ("fixture", "sql"),
    [
        ("journal-v1.sqlite3", "SELECT created_at, updated_at, collected_at FROM entries"),
        ("batch-v1/magicgif-batch.sqlite3", "SELECT updated_at FROM items"),
        ("journal-v1.sqlite3", "SELECT value FROM meta WHERE key='created_at'"),
        ("batch-v1/magicgif-batch.sqlite3", "SELECT value FROM meta WHERE key='created_at'"),
    ],
)
def test_the_released_files_stamps_still_read(tmp_path: Path, fixture: str, sql: str):
    copy = tmp_path / "store.sqlite3"  # a copy: even a read-only open of a WAL file adds files
    shutil.copy(FIXTURES / fixture, copy)
    db = sqlite3.connect(copy)
    try:
        found = [v for row in db.execute(sql) for v in row if v is not None]
    finally:
        db.close()
    assert found
    for text in found:
        assert stamps.now(stamps.parse_time(text)) == text


def test_anything_else_is_refused():
    for text in ("2025-01-31 09:30:00", "2025-01-31T09:30:00+00:00", "20250131T093000Z", ""):
        with pytest.raises(ValueError):
            stamps.parse_time(text)
