"""The batch ledger (``Ledger``): one SQLite file per download directory that remembers each
item's intent, job id and outcome, so a batch killed at any moment resumes without paying twice.

Every test uses a real file in a temporary directory and reads the states back through the
public API (``ensure`` returns the entries, a reopened ledger shows what was committed); the
lock and crash tests use a second, real process.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from magicgif_widget import MagicHourError
from magicgif_widget.jobstore.ledger import LEDGER_NAME, Entry, Ledger, LedgerError

SERVER = "http://127.0.0.1:8123"
ITEMS = [
    ("key-a", 0, {"style": {"prompt": "a cat"}, "output_format": "gif"}),
    ("key-b", 1, {"style": {"prompt": "ein Bär, 熊"}}),  # stored as text, read back unchanged
]


def states(directory: Path, server: str = SERVER) -> dict[str, Entry]:
    """The committed entries, as a new run (a fresh Ledger) sees them."""
    with Ledger(directory, server) as ledger:
        return ledger.ensure(ITEMS)


# -- states and transitions --------------------------------------------------------------


def test_new_items_start_pending_with_their_request(tmp_path: Path):
    with Ledger(tmp_path, SERVER) as ledger:
        entries = ledger.ensure(ITEMS)
    assert (tmp_path / LEDGER_NAME).is_file()
    assert list(entries) == ["key-a", "key-b"]
    for key, position, request in ITEMS:
        entry = entries[key]
        assert (entry.state, entry.position, entry.request) == ("pending", position, request)
        assert entry.project_id is None and entry.creates == 0 and entry.files == []


def test_ensure_keeps_known_items_and_only_moves_them(tmp_path: Path):
    with Ledger(tmp_path, SERVER) as ledger:
        ledger.ensure(ITEMS)
        ledger.creating("key-a")
        ledger.created("key-a", "cm-a", 50)
        again = ledger.ensure([("key-a", 7, {"style": {"prompt": "something else"}})])
    assert list(again) == ["key-a"]  # only the items asked for
    entry = again["key-a"]
    assert entry.state == "created" and entry.project_id == "cm-a" and entry.position == 7
    assert entry.request == ITEMS[0][2]  # the request first recorded is kept


def test_intent_then_created_then_complete_is_committed_at_each_step(tmp_path: Path):
    project = {"id": "cm-a", "status": "complete", "credits_charged": 50}
    with Ledger(tmp_path, SERVER) as ledger:
        ledger.ensure(ITEMS)
        ledger.creating("key-a")
        ledger.created("key-a", "cm-a", 50)
        # each transition is on disk before it returns: a second reader sees it now
        seen = _read_rows(tmp_path)
        assert seen["key-a"] == ("created", "cm-a")
        ledger.complete("key-a", project, [("cm-a.gif", 1234)], 50)
    entry = states(tmp_path)["key-a"]
    assert entry.state == "complete" and entry.project_id == "cm-a" and entry.creates == 1
    assert entry.files == [("cm-a.gif", 1234)] and entry.project == project
    assert entry.credits == 50 and entry.error is None


def test_a_create_cut_off_mid_flight_reads_back_as_unknown(tmp_path: Path):
    """The crash window: intent committed, no answer recorded. The next run must not treat
    the item as safe to create (the job may exist and be charged)."""
    with Ledger(tmp_path, SERVER) as ledger:
        ledger.ensure(ITEMS)
        ledger.creating("key-a")
        assert _read_rows(tmp_path)["key-a"] == ("creating", None)
    entry = states(tmp_path)["key-a"]
    assert entry.state == "unknown" and entry.creates == 1
    assert entry.error and "in flight" in entry.error
    assert states(tmp_path)["key-b"].state == "pending"  # untouched items stay as they were


def test_a_created_job_survives_a_restart_as_created(tmp_path: Path):
    with Ledger(tmp_path, SERVER) as ledger:
        ledger.ensure(ITEMS)
        ledger.creating("key-a")
        ledger.created("key-a", "cm-a", 50)
    entry = states(tmp_path)["key-a"]
    assert entry.state == "created" and entry.project_id == "cm-a" and entry.credits == 50


def test_failed_then_retried_keeps_the_old_job_id_and_counts_the_creates(tmp_path: Path):
    with Ledger(tmp_path, SERVER) as ledger:
        ledger.ensure(ITEMS)
        ledger.creating("key-a")
        ledger.created("key-a", "cm-first", 50)
        ledger.failed("key-a", "render_failed", {"id": "cm-first", "status": "error"}, 0)
        failed = ledger.ensure(ITEMS)["key-a"]
        assert (failed.state, failed.error, failed.credits) == ("failed", "render_failed", 0)
        assert failed.project == {"id": "cm-first", "status": "error"}
        ledger.creating("key-a")  # retried on request: a new intent
        retried = ledger.ensure(ITEMS)["key-a"]
        assert retried.state == "creating" and retried.project_id is None
        assert retried.earlier_ids == ["cm-first"] and retried.creates == 2
        assert retried.error is None and retried.project is None and retried.files == []
        ledger.created("key-a", "cm-second", 50)
    entry = states(tmp_path)["key-a"]
    assert entry.project_id == "cm-second" and entry.earlier_ids == ["cm-first"]


def test_pending_means_no_job_exists_and_retires_the_id(tmp_path: Path):
    with Ledger(tmp_path, SERVER) as ledger:
        ledger.ensure(ITEMS)
        ledger.creating("key-a")
        ledger.created("key-a", "cm-gone", 50)
        ledger.pending("key-a", "the job vanished")
        ledger.creating("key-b")
        ledger.pending("key-b", None)  # the API refused the create: nothing to retire
    a, b = states(tmp_path).values()
    assert (a.state, a.project_id, a.earlier_ids, a.error) == (
        "pending",
        None,
        ["cm-gone"],
        "the job vanished",
    )
    assert (b.state, b.project_id, b.earlier_ids, b.error) == ("pending", None, [], None)


def test_unknown_note_and_reopen(tmp_path: Path):
    with Ledger(tmp_path, SERVER) as ledger:
        ledger.ensure(ITEMS)
        ledger.creating("key-a")
        ledger.unknown("key-a", "the create's answer was lost")
        ledger.creating("key-b")
        ledger.created("key-b", "cm-b", 50)
        ledger.complete("key-b", {"id": "cm-b"}, [("cm-b.gif", 99)], 50)
        ledger.reopen("key-b", "cm-b.gif is gone")
        ledger.note("key-b", "this run stopped before the download")
    a, b = states(tmp_path).values()
    assert (a.state, a.error) == ("unknown", "the create's answer was lost")
    assert (b.state, b.project_id) == ("created", "cm-b")  # polled again, never re-created
    assert b.files == [("cm-b.gif", 99)]  # the record of what was ours is kept
    assert b.error == "this run stopped before the download"


# -- one batch per directory -------------------------------------------------------------

HOLDER = """
import os, signal, sys
from pathlib import Path
from magicgif_widget.jobstore.ledger import Ledger
ledger = Ledger(Path(sys.argv[1]), sys.argv[2])
ledger.ensure([("key-a", 0, {"style": {"prompt": "a cat"}}),
               ("key-b", 1, {"style": {"prompt": "ein Bär, 熊"}})])
ledger.creating("key-a")  # sent, never answered: the process dies in the crash window
ledger.creating("key-b")
ledger.created("key-b", "cm-b", 50)
print(os.getpid(), flush=True)
sys.stdin.readline()  # hold the ledger until told, or killed
"""


@contextmanager
def holder(directory: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process with the directory's ledger open; yields once it holds it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLDER), str(directory), SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == str(proc.pid), f"the holder did not start: {line!r}"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)


@pytest.mark.timeout(60)
def test_a_second_process_is_refused_while_the_ledger_is_held(tmp_path: Path):
    with holder(tmp_path) as proc:
        with pytest.raises(LedgerError) as info:
            Ledger(tmp_path, SERVER)
        message = str(info.value)
        assert f"pid {proc.pid}" in message and str(tmp_path) in message
        assert isinstance(info.value, MagicHourError)
        assert proc.stdin is not None
        proc.stdin.write("done\n")  # the holder exits normally: its lock goes with it
        proc.stdin.flush()
        assert proc.wait(30) == 0
    with Ledger(tmp_path, SERVER) as ledger:  # free now
        assert ledger.ensure(ITEMS)["key-b"].project_id == "cm-b"


@pytest.mark.timeout(60)
def test_a_killed_holder_frees_the_lock_and_its_in_flight_create_is_unknown(tmp_path: Path):
    with holder(tmp_path) as proc:
        proc.kill()  # SIGKILL: no cleanup runs, as in a crash or an OOM kill
        proc.wait(30)
    a, b = states(tmp_path).values()
    assert a.state == "unknown" and a.creates == 1 and a.error and "in flight" in a.error
    assert b.state == "created" and b.project_id == "cm-b"


def test_closing_releases_the_lock_at_once(tmp_path: Path):
    ledger = Ledger(tmp_path, SERVER)
    ledger.close()
    ledger.close()  # idempotent
    with Ledger(tmp_path, SERVER) as again:
        assert again.ensure(ITEMS)["key-a"].state == "pending"


# -- files that are not this directory's ledger ------------------------------------------


def test_a_corrupt_file_is_refused_and_left_as_it_is(tmp_path: Path):
    garbage = b"this is not a database\n" * 200
    (tmp_path / LEDGER_NAME).write_bytes(garbage)
    with pytest.raises(LedgerError) as info:
        Ledger(tmp_path, SERVER)
    assert "cannot use the batch ledger" in str(info.value)
    assert str(tmp_path / LEDGER_NAME) in str(info.value)
    assert (tmp_path / LEDGER_NAME).read_bytes() == garbage  # evidence is not overwritten
    (tmp_path / LEDGER_NAME).unlink()
    with Ledger(tmp_path, SERVER):  # the failed open released the directory's lock
        pass


def test_a_ledger_of_another_server_is_refused_untouched(tmp_path: Path):
    with Ledger(tmp_path, SERVER) as ledger:
        ledger.ensure(ITEMS)
        ledger.creating("key-a")
        ledger.created("key-a", "cm-a", 50)
    with pytest.raises(LedgerError) as info:
        Ledger(tmp_path, "https://api.magichour.ai")
    assert SERVER in str(info.value) and "https://api.magichour.ai" in str(info.value)
    assert states(tmp_path)["key-a"].project_id == "cm-a"  # its jobs are still recorded


def test_a_ledger_of_another_schema_version_is_refused(tmp_path: Path):
    with Ledger(tmp_path, SERVER) as ledger:
        ledger.ensure(ITEMS)
    with sqlite3.connect(tmp_path / LEDGER_NAME) as db:  # as a future version would leave it
        db.execute("UPDATE meta SET value='99' WHERE key='schema'")
    db.close()
    before = (tmp_path / LEDGER_NAME).read_bytes()
    with pytest.raises(LedgerError, match=r"newer magicgif-widget \(schema 99;") as caught:
        Ledger(tmp_path, SERVER)
    assert caught.value.kind == "newer"
    assert (tmp_path / LEDGER_NAME).read_bytes() == before


def test_a_database_of_another_program_is_refused(tmp_path: Path):
    with sqlite3.connect(tmp_path / LEDGER_NAME) as db:
        db.execute("CREATE TABLE items (name TEXT, price REAL)")
        db.execute("INSERT INTO items VALUES ('tea', 2.5)")
    db.close()
    with pytest.raises(LedgerError, match="cannot use the batch ledger"):
        Ledger(tmp_path, SERVER)
    with sqlite3.connect(tmp_path / LEDGER_NAME) as db:
        assert db.execute("SELECT name, price FROM items").fetchall() == [("tea", 2.5)]
    db.close()


def _read_rows(directory: Path) -> dict[str, tuple[str, str | None]]:
    """``key: (state, project_id)`` as another connection reads the file right now."""
    db = sqlite3.connect(f"file:{directory / LEDGER_NAME}?mode=ro", uri=True)
    try:
        return {k: (s, p) for k, s, p in db.execute("SELECT key, state, project_id FROM items")}
    finally:
        db.close()
