"""The job journal on real SQLite files: a job's life, several processes writing at once, the
crash window, retention, damaged, foreign and unwritable files, and no token ever on disk."""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from magicgif_widget import Client
from magicgif_widget.client.models import Created, StatusChanged
from magicgif_widget.jobstore import journal as journal_module
from magicgif_widget.jobstore import sqlite_store, stamps
from magicgif_widget.jobstore.journal import (
    DATA_ENV,
    INTENT_WINDOW,
    JOURNAL_NAME,
    JobSettings,
    Journal,
    JournalError,
    journal_path,
    server_for,
    server_label,
)

from .conftest import FAST_POLL, FAST_RETRY

ROOT = Path(__file__).resolve().parents[1]
API = "https://api.magichour.ai"
CAT = JobSettings("a cat on a skateboard", name="cat", output_format="gif")
DAY = 86400.0
CANARY = "mhk_live_JOURNAL_CANARY_5e0c2b7d41"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / JOURNAL_NAME


def run_child(code: str, *args: str, **popen: Any) -> subprocess.Popen[str]:
    """A separate Python process running ``code`` with this checkout importable."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env,
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **popen,
    )


def file_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file())


# -- one job's life ---------------------------------------------------------------------------


def test_a_job_is_recorded_from_intent_to_collected(path, tmp_path):
    with Journal.open(path) as journal:
        key = journal.intent(API, CAT, "widget", directory=tmp_path)
        entry = journal.get(key)
        assert entry is not None
        assert (entry.status, entry.project_id, entry.surface) == ("creating", None, "widget")
        assert entry.settings == CAT and entry.directory == str(tmp_path)
        assert entry.pending and entry.active and not entry.final
        assert 0 <= entry.age() < 60 and 0 <= entry.idle() < 60

        assert journal.created(key, "cm_one", 50)
        assert journal.seen("cm_one", "queued")
        assert journal.seen("cm_one", "rendering")
        assert journal.seen("cm_one", "complete", credits=50)
        entry = journal.get("cm_one")
        assert entry is not None and entry.key == key
        assert (entry.status, entry.credits_charged) == ("complete", 50)
        assert entry.pending and not entry.active  # finished, never downloaded

        gif = tmp_path / "cat.gif"
        gif.write_bytes(b"GIF89a")
        assert journal.collected("cm_one", [gif])
        entry = journal.get(key)
        assert entry is not None
        assert entry.paths == (str(gif),) and entry.collected and entry.files_exist()
        assert not entry.pending
        assert journal.entries(pending_only=True) == []
        gif.unlink()
        assert not journal.get(key).files_exist()  # type: ignore[union-attr]


def test_a_failed_job_keeps_its_code_and_refund_and_is_not_pending(path):
    with Journal.open(path) as journal:
        key = journal.intent(API, CAT, "python")
        journal.created(key, "cm_bad", 50)
        journal.seen("cm_bad", "error", "content_policy_violation", credits=50, refunded=50)
        entry = journal.get(key)
        assert entry is not None
        assert (entry.status, entry.error_code) == ("error", "content_policy_violation")
        assert (entry.credits_charged, entry.credits_refunded) == (50, 50)
        assert entry.final and not entry.pending


def test_a_final_status_is_never_replaced_by_a_running_one(path):
    with Journal.open(path) as journal:
        key = journal.intent(API, CAT, "python")
        journal.created(key, "cm_two", 50)
        journal.seen("cm_two", "complete")
        assert not journal.seen("cm_two", "rendering")  # a slower kernel's stale poll
        assert not journal.seen("nobody", "complete")
        journal.seen("cm_two", "something-new", credits=40)  # undocumented: status ignored
        entry = journal.get(key)
        assert entry is not None and (entry.status, entry.credits_charged) == ("complete", 40)


def test_refused_and_lost_creates(path):
    with Journal.open(path) as journal:
        refused = journal.intent(API, CAT, "cli")
        lost = journal.intent(API, CAT, "cli")
        assert journal.not_created(refused, "insufficient_credits")
        assert journal.lost(lost)
        no = journal.get(refused)
        maybe = journal.get(lost)
        assert no is not None and maybe is not None
        assert no.status == "not_created" and no.final and not no.pending
        assert maybe.unknown and maybe.pending and not maybe.active
        assert [e.key for e in journal.entries(pending_only=True)] == [lost]
        assert journal.dismiss(lost)  # an unknown entry has only its key
        assert not journal.dismiss(lost)
        assert journal.entries(pending_only=True) == []


def test_adopt_finds_or_adds_the_entry_of_an_earlier_job(path):
    with Journal.open(path) as journal:
        key = journal.intent(API, CAT, "widget")
        journal.created(key, "cm_known", 50)
        assert journal.adopt(API, "cm_known", "python") == key
        added = journal.adopt(API, "cm_elsewhere", "python")
        entry = journal.get("cm_elsewhere")
        assert entry is not None and entry.key == added and entry.status == "created"


def test_entries_newest_first_by_server_and_limit(path):
    with Journal.open(path) as journal:
        keys = [journal.intent(API, JobSettings(f"p{i}"), "python") for i in range(5)]
        sandbox = journal.intent("sandbox", CAT, "widget")
        assert [e.key for e in journal.entries(server=API)] == keys[::-1]
        assert [e.key for e in journal.entries(server="sandbox")] == [sandbox]
        assert len(journal.entries(limit=2)) == 2
        assert len(journal.entries(limit=None)) == 6


# -- where it lives, what it names the server --------------------------------------------------


def test_the_file_lives_in_the_data_directory(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "elsewhere"))
    assert journal_path() == tmp_path / "elsewhere" / JOURNAL_NAME
    with Journal.open() as journal:
        assert journal.path == tmp_path / "elsewhere" / JOURNAL_NAME
    assert journal_path().exists()
    if os.name == "posix":
        assert journal_path().stat().st_mode & 0o077 == 0  # it holds prompts: private
    monkeypatch.delenv(DATA_ENV)
    from platformdirs import user_data_dir

    assert journal_path() == Path(user_data_dir("magicgif-widget", appauthor=False)) / JOURNAL_NAME


def test_the_test_session_never_writes_the_users_journal():
    assert os.environ[DATA_ENV] and "magicgif-test-data-" in os.environ[DATA_ENV]


def test_server_labels_keep_no_credentials(client_kwargs):
    assert server_label("https://user:secret@api.example.com:8443/v1/?token=x#f") == (
        "https://api.example.com:8443/v1"
    )
    assert server_label("http://[::1]:9000/") == "http://[::1]:9000"
    assert server_label("http://whatever", sandbox=True) == "sandbox"
    with Client(**client_kwargs) as client:
        assert server_for(client.settings) == client_kwargs["base_url"].rstrip("/")


# -- several processes at once ----------------------------------------------------------------

WRITER = """
import sys, time
from pathlib import Path
from magicgif_widget.jobstore.journal import Journal, JobSettings

path, name, count, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
journal = Journal.open(path)
(go.parent / f"ready-{name}").touch()
while not go.exists():
    time.sleep(0.005)
for i in range(count):
    key = journal.intent("https://api.magichour.ai", JobSettings(f"{name} {i}"), "python")
    journal.created(key, f"{name}-{i}", 50)
    journal.seen(f"{name}-{i}", "rendering")
    journal.seen(f"{name}-{i}", "complete", credits=50)
    journal.collected(f"{name}-{i}", [f"/tmp/{name}-{i}.gif"])
journal.close()
print("done")
"""


def test_several_processes_writing_at_once_lose_no_entry(path, tmp_path):
    processes, count = 6, 50
    Journal.open(path).close()
    go = tmp_path / "go"
    children = [
        run_child(WRITER, str(path), f"w{n}", str(count), str(go)) for n in range(processes)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < processes and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()  # all open: they start writing together
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        assert out.strip() == "done"
    with Journal.open(path) as journal:
        entries = journal.entries(limit=None)
    assert len(entries) == processes * count
    assert {e.project_id for e in entries} == {
        f"w{n}-{i}" for n in range(processes) for i in range(count)
    }
    assert {(e.status, e.collected, e.credits_charged) for e in entries} == {("complete", True, 50)}
    assert {e.settings.prompt for e in entries} == {
        f"w{n} {i}" for n in range(processes) for i in range(count)
    }
    writers = [e.project_id.split("-")[0] for e in reversed(entries)]  # type: ignore[union-attr]
    switches = sum(1 for a, b in itertools.pairwise(writers) if a != b)
    assert switches >= processes  # their intents interleaved: they really wrote at once


def test_threads_sharing_one_journal_lose_no_entry(path):
    with Journal.open(path) as journal:

        def write(name: str) -> None:
            for i in range(50):
                key = journal.intent(API, JobSettings(f"{name} {i}"), "widget")
                journal.created(key, f"{name}-{i}", 50)

        threads = [threading.Thread(target=write, args=(f"t{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len({e.project_id for e in journal.entries(limit=None)}) == 200


def test_two_journals_in_one_process_see_each_other(path):
    with Journal.open(path) as one, Journal.open(path) as two:
        key = one.intent(API, CAT, "widget")
        two.created(key, "cm_shared", 50)
        entry = one.get("cm_shared")
        assert entry is not None and entry.status == "created"


# -- the crash window -------------------------------------------------------------------------

INTENT_THEN_WAIT = """
import sys, time
from pathlib import Path
from magicgif_widget.jobstore.journal import Journal, JobSettings

journal = Journal.open(Path(sys.argv[1]))
key = journal.intent("https://api.magichour.ai", JobSettings("a cat on a skateboard"), "widget")
print(key, flush=True)
time.sleep(60)  # "the create's round trip": killed here
"""


def test_an_intent_cut_off_by_a_crash_reads_unknown_and_is_never_recreated(path):
    child = run_child(INTENT_THEN_WAIT, str(path))
    assert child.stdout is not None
    key = child.stdout.readline().strip()
    assert key, child.stderr.read() if child.stderr else ""
    with Journal.open(path) as journal:
        alive = journal.get(key)
        assert alive is not None and alive.status == "creating"  # its writer is mid-create
        assert journal.active_like(API, JobSettings("a cat on a skateboard")) == alive
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        child.stdout.close()
        if child.stderr is not None:
            child.stderr.close()
        dead = journal.get(key)
        assert dead is not None
        assert dead.status == "unknown" and dead.unknown and dead.pending
        assert dead.project_id is None and not dead.active
        assert journal.active_like(API, JobSettings("a cat on a skateboard")) is None
    with Journal.open(path) as again:
        assert again.get(key).status == "unknown"  # type: ignore[union-attr]
        assert len(again.entries(limit=None)) == 1  # nothing made a second one


def test_an_intent_older_than_the_window_reads_unknown_even_if_its_writer_lives(path):
    clock = Clock()
    with Journal.open(path, clock=clock) as journal:
        key = journal.intent(API, CAT, "python")
        clock.advance(INTENT_WINDOW + 1)
        entry = journal.get(key)
        assert entry is not None and entry.status == "unknown"
        assert journal.created(key, "cm_late", 50)  # a late answer still wins
        entry = journal.get(key)
        assert entry is not None and (entry.status, entry.project_id) == ("created", "cm_late")


# -- "you already have this job running" ------------------------------------------------------


def test_active_like_matches_exactly_these_settings_on_this_server(path):
    with Journal.open(path) as journal:
        key = journal.intent(API, CAT, "widget")
        journal.created(key, "cm_run", 50)
        journal.seen("cm_run", "rendering")
        found = journal.active_like(API + "/", CAT)
        assert found is not None and found.project_id == "cm_run"
        assert journal.active_like(API, JobSettings(CAT.prompt, "cat", "mp4")) is None
        assert journal.active_like(API, JobSettings(CAT.prompt, None, "gif")) is None
        assert journal.active_like(API, JobSettings(CAT.prompt + "!", "cat", "gif")) is None
        assert journal.active_like("sandbox", CAT) is None
        journal.seen("cm_run", "complete")
        assert journal.active_like(API, CAT) is None
        other = journal.intent(API, CAT, "widget")
        journal.created(other, "cm_again", 50)
        assert journal.active_like(API, CAT).project_id == "cm_again"  # type: ignore[union-attr]
        journal.dismiss("cm_again")
        assert journal.active_like(API, CAT) is None


def test_settings_from_a_request_mapping():
    request = {"style": {"prompt": "a fox"}, "name": "fox", "output_format": "webm", "x": 1}
    assert JobSettings.from_request(request) == JobSettings("a fox", "fox", "webm")
    assert JobSettings.from_request({"prompt": "a fox"}) == JobSettings("a fox", None, "gif")


# -- retention --------------------------------------------------------------------------------


def _settle(journal: Journal, key: str, project_id: str) -> None:
    journal.created(key, project_id, 50)
    journal.seen(project_id, "complete")
    journal.collected(project_id, [f"/tmp/{project_id}.gif"])


def test_settled_entries_go_after_30_days_and_pending_ones_stay(path):
    clock = Clock()
    with Journal.open(path, clock=clock) as journal:
        done = journal.intent(API, CAT, "python")
        _settle(journal, done, "cm_done")
        failed = journal.intent(API, CAT, "python")
        journal.created(failed, "cm_failed", 50)
        journal.seen("cm_failed", "error", "processing_timeout")
        dismissed = journal.intent(API, CAT, "python")
        journal.created(dismissed, "cm_dismissed", 50)
        journal.dismiss("cm_dismissed")
        uncollected = journal.intent(API, CAT, "python")
        journal.created(uncollected, "cm_uncollected", 50)
        journal.seen("cm_uncollected", "complete")
        lost = journal.intent(API, CAT, "python")
        journal.lost(lost)

        clock.advance(29 * DAY)
        assert journal.prune() == 0
        clock.advance(2 * DAY)
        assert journal.prune() == 3
        left = {e.key for e in journal.entries(limit=None)}
        assert left == {uncollected, lost}
        clock.advance(365 * DAY)
        assert journal.prune() == 0  # pending entries never age out
    clock.advance(1)
    with Journal.open(path, clock=clock) as again:  # and opening prunes too
        assert {e.key for e in again.entries(limit=None)} == {uncollected, lost}


def test_past_1000_old_entries_go_but_never_a_young_one_a_spend_limit_counts(path):
    clock = Clock()
    cap = journal_module.MAX_ENTRIES
    with Journal.open(path, clock=clock) as journal:
        old_pending = journal.intent(API, JobSettings("old, never downloaded"), "widget")
        journal.created(old_pending, "cm_old", 50)
        clock.advance(31 * DAY)  # past the pending floor and the longest spend window
        young_pending = journal.intent(API, JobSettings("young, running"), "widget")
        journal.created(young_pending, "cm_young", 50)
        db = sqlite3.connect(path)
        try:
            db.execute("BEGIN")  # settled entries, quicker than 1000 calls (they prune too)
            for i in range(cap + 50):
                db.execute(
                    "INSERT INTO entries (key, project_id, server, surface, prompt, "
                    "output_format, status, paths, collected_at, writer, created_at, "
                    "updated_at, credits_charged) VALUES (?, ?, ?, 'python', 'x', 'gif', "
                    "'complete', '[]', ?, 'h:1:r', ?, ?, 50)",
                    (f"k{i}", f"cm_{i}", API, *[sqlite_store.now(clock())] * 3),
                )
            db.execute("COMMIT")
        finally:
            db.close()
        dropped = journal.prune()
        left = journal.entries(limit=None)
        keys = {e.key for e in left}
        assert old_pending not in keys  # pending, but beyond the cap and past 30 days
        assert young_pending in keys
        # every job of the last 30 days stays, past the cap: a month's limit counts them all
        assert len(left) == cap + 51 and dropped == 1
        assert journal.spent(API, 86400) == (cap + 51) * 50
        clock.advance(31 * DAY)  # now settled and old: they go (rule 1), the pending one stays
        journal.prune()
        assert [e.key for e in journal.entries(limit=None)] == [young_pending]


# -- files it cannot use ----------------------------------------------------------------------


def test_a_corrupt_journal_is_moved_aside_and_a_new_one_started(path):
    path.parent.mkdir(parents=True)
    junk = b"this is not a database, just bytes " * 200
    path.write_bytes(junk)
    with Journal.open(path) as journal:
        assert journal.moved_aside is not None and journal.moved_aside.read_bytes() == junk
        assert journal.moved_aside.parent == path.parent
        assert journal.moved_aside.name.startswith(JOURNAL_NAME + ".corrupt-")
        stamp, pid = journal.moved_aside.name.removeprefix(JOURNAL_NAME + ".corrupt-").split("-")
        assert time.strptime(stamp, stamps.FILE_FORMAT) and pid == str(os.getpid())
        assert journal.entries() == []
        key = journal.intent(API, CAT, "widget")
        assert journal.get(key) is not None


def test_a_journal_damaged_inside_is_moved_aside(path):
    with Journal.open(path) as journal:
        for i in range(300):
            journal.intent(API, JobSettings(f"prompt number {i} " * 8), "python")
    data = bytearray(path.read_bytes())
    assert len(data) > 4 * 4096
    data[4096 * 2 : 4096 * 4] = os.urandom(4096 * 2)  # a table's pages, the header intact
    path.write_bytes(bytes(data))
    with Journal.open(path) as journal:
        assert journal.moved_aside is not None and journal.moved_aside.read_bytes() == data
        assert journal.entries() == []


def test_another_programs_database_is_refused_and_left_as_it_was(path):
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, title TEXT)")
    db.execute("INSERT INTO photos (title) VALUES ('holiday')")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(JournalError, match="another program's database") as caught:
        Journal.open(path)
    assert caught.value.kind == "foreign"
    assert path.read_bytes() == before


def test_a_newer_journal_is_refused_not_moved(path):
    Journal.open(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='9' WHERE key='schema'")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(JournalError, match=r"newer magicgif-widget \(schema 9;") as caught:
        Journal.open(path)
    assert caught.value.kind == "newer" and "Nothing in it was changed" in str(caught.value)
    assert path.read_bytes() == before  # not migrated, not switched to WAL, not moved aside
    assert not list(path.parent.glob("*.corrupt-*"))


def test_a_path_that_cannot_be_created_is_a_journal_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(JournalError) as caught:
        Journal.open(blocker / JOURNAL_NAME)
    assert caught.value.kind == "unwritable"


READ_ONLY = """
import ctypes, json, os, sys
from pathlib import Path

if os.geteuid() == 0:  # root writes anywhere: drop the capabilities that let it (this thread)
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
    class Data(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]
    libc = ctypes.CDLL(None, use_errno=True)
    header, data = Header(0x20080522, 0), (Data * 2)()
    dac = (1 << 1) | (1 << 2) | (1 << 3)  # DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER
    if libc.capget(ctypes.byref(header), data) != 0:
        print(json.dumps({"skip": "capget failed"})); sys.exit()
    data[0].effective &= ~dac
    if libc.capset(ctypes.byref(header), data) != 0:
        print(json.dumps({"skip": "capset failed"})); sys.exit()

from magicgif_widget.jobstore.journal import Journal, JournalError, JobSettings

out = {}
for name in sys.argv[1:]:
    try:
        with Journal.open(Path(name)) as journal:
            journal.intent("https://api.magichour.ai", JobSettings("x"), "python")
        out[name] = "wrote"
    except JournalError as exc:
        out[name] = exc.kind
    except BaseException as exc:
        out[name] = f"untyped {type(exc).__name__}: {exc}"
print(json.dumps(out))
"""


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_read_only_directory_is_a_journal_error_never_an_untyped_one(tmp_path):
    import json

    fresh, existing, lockable = (tmp_path / n for n in ("fresh", "existing", "lockable"))
    for directory in (fresh, existing, lockable):
        directory.mkdir()
    for directory in (existing, lockable):
        with Journal.open(directory / JOURNAL_NAME) as journal:
            journal.intent(API, CAT, "python")
    for directory in (fresh, existing, lockable):
        for file in directory.iterdir():
            file.chmod(0o444)
        directory.chmod(0o555)
    (lockable / (JOURNAL_NAME + ".lock")).chmod(0o644)  # only SQLite itself is refused
    names = [str(d / JOURNAL_NAME) for d in (fresh, existing, lockable)]
    try:
        child = run_child(READ_ONLY, *names)
        out, err = child.communicate(timeout=60)
    finally:
        for directory in (fresh, existing, lockable):
            directory.chmod(0o755)
    assert child.returncode == 0, err
    result = json.loads(out)
    if "skip" in result:
        pytest.skip(result["skip"])
    assert result == dict.fromkeys(names, "unwritable")
    assert len(Journal.open(existing / JOURNAL_NAME).entries()) == 1  # untouched


def test_a_writer_held_up_by_another_raises_a_journal_error(path, monkeypatch):
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_MS", 100)
    with Journal.open(path) as journal:
        key = journal.intent(API, CAT, "python")
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another kernel in the middle of a long write
            with pytest.raises(JournalError) as caught:
                journal.created(key, "cm_blocked", 50)
            assert caught.value.kind == "busy" and caught.value.path == path
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert journal.created(key, "cm_blocked", 50)  # and it works again afterwards


def test_a_closed_journal_raises_a_journal_error(path):
    journal = Journal.open(path)
    journal.close()
    journal.close()
    with pytest.raises(JournalError, match="closed"):
        journal.intent(API, CAT, "python")
    with pytest.raises(JournalError, match="closed"):
        journal.entries()


# -- no token, ever ---------------------------------------------------------------------------


def test_the_token_never_reaches_the_journal(server, monkeypatch, tmp_path):
    monkeypatch.setenv("MAGIC_HOUR_API_TOKEN", CANARY)
    data = tmp_path / "data"
    downloads = tmp_path / "out"
    downloads.mkdir()
    kwargs = {"poll": FAST_POLL, "retry": FAST_RETRY, "timeout": 5}
    with (
        Journal.open(data / JOURNAL_NAME) as journal,
        Client(token=CANARY, base_url=server.url, **kwargs) as client,
    ):
        where = server_for(client.settings)
        settings = JobSettings("a canary in a coal mine", name="canary", output_format="gif")
        key = journal.intent(where, settings, "python", directory=downloads)

        def record(event: object) -> None:  # as the callers will wire it
            if isinstance(event, Created):
                journal.created(key, event.project_id, event.credits_charged)
            elif isinstance(event, StatusChanged):
                journal.seen(event.project_id, event.status)

        project = client.v1.ai_gif_generator.generate(
            style={"prompt": settings.prompt},
            name=settings.name,
            output_format=settings.output_format,
            download_directory=downloads,
            on_event=record,
        )
        journal.seen(project.id, project.status, credits=project.credits_charged)
        journal.collected(project.id, project.downloaded_paths or [])
        journal.intent(client.settings.base_url, {"prompt": "x", "token": CANARY}, "cli")
        entry = journal.get(project.id)
        assert entry is not None and entry.key == key and entry.status == "complete"
        assert entry.collected and entry.files_exist()
        live = file_bytes(data)  # the -wal file too, while it is open
        assert b"a canary in a coal mine" in live  # the search would find it
        assert CANARY.encode() not in live
    assert CANARY.encode() not in file_bytes(data)
    assert b"a canary in a coal mine" in file_bytes(data)
