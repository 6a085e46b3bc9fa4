"""Every store file ever released opens in this version with every job in it; a newer one is
refused untouched. The files under tests/fixtures/stores/ were written by the released code
itself (0.1.0, journal and ledger schema 1), not rebuilt by this version."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from magicgif_widget.jobstore import journal as journal_module
from magicgif_widget.jobstore import ledger as ledger_module
from magicgif_widget.jobstore.journal import Journal, JournalError
from magicgif_widget.jobstore.ledger import LEDGER_NAME, Ledger, LedgerError, read_info

FIXTURES = Path(__file__).parent / "fixtures" / "stores"
API = "https://api.magichour.ai"
JOURNALS = sorted(FIXTURES.glob("journal-v*.sqlite3"))
LEDGERS = sorted(p.parent for p in FIXTURES.glob(f"batch-v*/{LEDGER_NAME}"))


def _schema(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return str(db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0])
    finally:
        db.close()


def test_there_is_a_fixture_for_every_released_version():
    versions = {int(p.stem.split("-v")[1].split(".")[0]) for p in JOURNALS}
    assert versions == set(range(1, journal_module.SCHEMA_VERSION))
    ledgers = {int(p.name.split("-v")[1]) for p in LEDGERS}
    assert ledgers == set(range(1, ledger_module.SCHEMA_VERSION))


@pytest.mark.parametrize("fixture", JOURNALS, ids=lambda p: p.stem)
def test_a_released_journal_opens_with_every_job(tmp_path: Path, fixture: Path):
    path = tmp_path / "journal.sqlite3"
    shutil.copy(fixture, path)
    with Journal.open(path) as journal:
        entries = {e.project_id or e.settings.prompt: e for e in journal.entries(limit=None)}
        assert _schema(path) == str(journal_module.SCHEMA_VERSION)
        assert set(entries) == {
            "proj-rendering",
            "proj-complete",
            "lost answer",
            "refused",
            "proj-error",
            "proj-dismissed",
        }
        rendering = entries["proj-rendering"]
        assert (rendering.status, rendering.settings.prompt, rendering.settings.name) == (
            "rendering",
            "a cat in the rain",
            "cat",
        )
        assert rendering.directory == "/tmp/out" and rendering.surface == "widget"
        assert rendering.batch is None and rendering.position is None
        assert entries["proj-complete"].paths == ("/tmp/out/proj-complete.mp4",)
        assert entries["lost answer"].unknown
        assert entries["refused"].status == "not_created"
        assert entries["proj-error"].credits_refunded == 50
        assert entries["proj-dismissed"].dismissed
        # what was pending still is, and the spend it recorded still counts
        pending = {e.project_id for e in journal.entries(pending_only=True)}
        assert pending == {"proj-rendering", None}  # the rendering one and the unknown one
        assert journal.spent(API, 10 * 365 * 86400) == 50 * 3 + 50  # 3 charged + 1 unknown
        # and the new columns work on the old file
        key = journal.intent(API, {"style": {"prompt": "new"}}, "python", batch="b1", position=0)
        assert journal.get(key).batch == "b1"  # type: ignore[union-attr]
    with Journal.open(path) as again:  # a second open migrates nothing more
        assert len(again.entries(limit=None)) == 7


@pytest.mark.parametrize("fixture", LEDGERS, ids=lambda p: p.name)
def test_a_released_ledger_opens_with_every_item(tmp_path: Path, fixture: Path):
    folder = tmp_path / "batch"
    shutil.copytree(fixture, folder)
    info = read_info(folder)  # read-only: the old file is not changed by a look
    assert info.server == API and info.items == 4
    assert _schema(folder / LEDGER_NAME) == "1"
    with Ledger(folder, API) as ledger:
        items = ledger.items()
        assert ledger.batch_id and len(ledger.batch_id) == 32
        assert [(e.position, e.state, e.project_id) for e in items] == [
            (0, "created", "bp-0"),
            (1, "complete", "bp-1"),
            (2, "unknown", None),
            (3, "pending", None),
        ]
        assert items[1].files == [("bp-1.gif", 10)]
        assert items[0].request == {
            "style": {"prompt": "prompt 0"},
            "name": "item 0",
            "output_format": "gif",
        }
        batch_id = ledger.batch_id
    assert _schema(folder / LEDGER_NAME) == str(ledger_module.SCHEMA_VERSION)
    with Ledger(folder, API) as ledger:  # the id it was given stays
        assert ledger.batch_id == batch_id


def test_a_ledger_from_a_newer_version_is_refused_untouched(tmp_path: Path):
    with Ledger(tmp_path, API) as ledger:
        ledger.ensure([("k/1", 0, {"style": {"prompt": "p"}})])
    db = sqlite3.connect(tmp_path / LEDGER_NAME)
    db.execute("UPDATE meta SET value='3' WHERE key='schema'")
    db.commit()
    db.close()
    before = (tmp_path / LEDGER_NAME).read_bytes()
    for attempt in (lambda: Ledger(tmp_path, API), lambda: read_info(tmp_path)):
        with pytest.raises(LedgerError, match="written by a newer magicgif-widget") as caught:
            attempt()
        assert caught.value.kind == "newer"
        assert "pip install -U magicgif-widget" in str(caught.value)
    assert (tmp_path / LEDGER_NAME).read_bytes() == before


def test_a_journal_from_a_newer_version_is_refused_untouched(tmp_path: Path):
    path = tmp_path / "journal.sqlite3"
    shutil.copy(JOURNALS[0], path)
    Journal.open(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=DELETE")  # a plain file, so its bytes tell every change
    db.execute("UPDATE meta SET value='3' WHERE key='schema'")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(JournalError, match="schema 3; this version reads up to 2") as caught:
        Journal.open(path)
    assert caught.value.kind == "newer"
    assert path.read_bytes() == before
    assert not path.with_name(path.name + "-wal").exists()
