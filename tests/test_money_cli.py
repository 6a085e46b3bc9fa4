"""Never pay twice, from the terminal: a killed ``magicgif batch`` is listed and collected from
the journal; every line of advice the CLI prints is run exactly as printed, and the emulator's
create count says what it cost; spend limits and the balance refuse a batch before it sends.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from magicgif_widget import pickup
from magicgif_widget.jobstore.ledger import LEDGER_NAME

from .conftest import Server
from .fired import assert_fired

MAGICGIF = [sys.executable, "-m", "magicgif_widget.cli"]


@pytest.fixture(autouse=True)
def journal_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A journal of this test's own (the environment's is shared by the session)."""
    where = tmp_path / "data"
    monkeypatch.setenv("MAGICGIF_DATA_DIR", str(where))
    monkeypatch.delenv("MAGICGIF_SPEND_LIMIT", raising=False)
    return where


def magicgif(*args: str, timeout: float = 90, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MAGICGIF, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def advised(text: str, pattern: str = r"magicgif batch --resume \S+(?: --[a-z-]+)*") -> list[str]:
    """The commands a line of advice names, verbatim; run as the user would paste them."""
    return re.findall(pattern, text)


def run_advice(command: str, **env: str) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(command)
    assert argv[0] == "magicgif"
    return magicgif(*argv[1:], **env)


def creates(server: Server) -> int:
    return server.requests("create")


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def prompts(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "prompts.txt"
    path.write_text("".join(f"a lighthouse in a storm, take {i}\n" for i in range(count)))
    return path


def gifs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.gif"))


def kill_batch_after_creates(server: Server, tmp_path: Path, count: int = 4) -> Path:
    """``magicgif batch`` of ``count``, SIGKILLed once every create has been answered."""
    server.reset(render_seconds=4.0)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            *MAGICGIF,
            "batch",
            str(prompts(tmp_path, count)),
            "-o",
            str(out),
            "--concurrency",
            str(count),
            "--base-url",
            server.url,
        ],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: (
                creates(server) == count
                and len([e for e in pickup.jobs() if e.project_id]) == count
            )
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert gifs(out) == []  # died before any file
    return out


def test_a_killed_batch_is_listed_by_batch_and_resume_all_collects_it_with_no_create(
    server: Server, tmp_path: Path
):
    out = kill_batch_after_creates(server, tmp_path)
    listed = magicgif("jobs")
    assert listed.returncode == 0, listed.stderr
    head = [line for line in listed.stdout.splitlines() if line.startswith("batch ")]
    assert len(head) == 1 and "4 items, 4 created" in head[0] and str(out) in head[0]
    for i in range(4):
        assert f"a lighthouse in a storm, take {i}" in listed.stdout
    assert "4 job(s) can be collected without paying again: magicgif resume --all" in listed.stderr

    resumed = run_advice("magicgif resume --all")  # the line jobs printed
    assert resumed.returncode == 0, resumed.stderr
    assert len(gifs(out)) == 4 and sorted(Path(p) for p in resumed.stdout.split()) == gifs(out)
    assert creates(server) == 4  # no new create
    assert "nothing to resume" in magicgif("resume", "--all").stderr
    # the folder's own ledger knows too: resuming it again downloads nothing and creates nothing
    again = magicgif("batch", "--resume", str(out))
    assert again.returncode == 0, again.stderr
    assert "4 of 4 complete (4 from earlier runs)" in again.stderr
    assert creates(server) == 4


def test_a_killed_batch_resumes_from_its_folder_alone(server: Server, tmp_path: Path):
    out = kill_batch_after_creates(server, tmp_path)
    copied = tmp_path / "copied"  # users copy and re-run folders
    os.rename(out, copied)
    done = magicgif("batch", "--resume", str(copied))  # no FILE, no -o, no --base-url
    assert done.returncode == 0, done.stderr
    assert "batch of 4: 0 to create, 0 credits" in done.stderr
    assert len(gifs(copied)) == 4 and creates(server) == 4


def test_the_interrupt_advice_continues_without_paying_again(server: Server, tmp_path: Path):
    server.reset(render_seconds=4.0)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            *MAGICGIF,
            "batch",
            str(prompts(tmp_path, 3)),
            "-o",
            str(out),
            "--concurrency",
            "3",
            "--base-url",
            server.url,
        ],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: len([e for e in pickup.jobs() if e.project_id]) == 3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    (command,) = advised(err)
    assert command == f"magicgif batch --resume {out.resolve()}"
    assert "continue without paying again" in err
    done = run_advice(command)
    assert done.returncode == 0, done.stderr
    assert len(gifs(out)) == 3 and creates(server) == 3


def test_the_failure_advice_creates_exactly_what_it_says(server: Server, tmp_path: Path):
    server.fault(route="create", outcome="error", code="content_policy_violation")
    out = tmp_path / "out"
    first = magicgif(
        "batch", str(prompts(tmp_path, 3)), "-o", str(out), "--concurrency", "1",
        "--base-url", server.url,
    )  # fmt: skip
    assert first.returncode == 1
    assert_fired(server, 1)
    assert creates(server) == 3
    commands = advised(first.stderr, r"magicgif batch --resume [^\s,]+(?: --[a-z-]+)*")
    plain = [c for c in commands if not c.endswith("--retry-failed")]
    (retry_failed,) = [c for c in commands if c.endswith("--retry-failed")]
    assert plain == [f"magicgif batch --resume {out.resolve()}"]
    assert "their credits are refunded" in first.stderr

    again = run_advice(plain[0])  # collects what runs; creates nothing
    assert again.returncode == 1 and creates(server) == 3
    failed = run_advice(retry_failed)  # creates the one failed item again, nothing else
    assert failed.returncode == 0, failed.stderr
    assert creates(server) == 4 and len(gifs(out)) == 3


def test_the_unknown_advice_creates_exactly_what_it_says(server: Server, tmp_path: Path):
    server.fault(route="create", kind="reset")  # made, charged, its answer lost
    out = tmp_path / "out"
    first = magicgif(
        "batch", str(prompts(tmp_path, 2)), "-o", str(out), "--concurrency", "1",
        "--base-url", server.url,
    )  # fmt: skip
    assert first.returncode == 1
    assert_fired(server, 1)
    assert "this may pay twice" in first.stderr
    (retry_unknown,) = advised(first.stderr)
    assert retry_unknown == f"magicgif batch --resume {out.resolve()} --retry-unknown"
    unknown = run_advice(retry_unknown)
    assert unknown.returncode == 0, unknown.stderr
    assert creates(server) == 3 and len(gifs(out)) == 2
    # the journal lists the lost one as unknown, never as collectable
    lost = [e for e in pickup.jobs() if e.unknown]
    assert len(lost) == 1 and lost[0].batch is not None


def test_a_batch_over_the_spend_limit_sends_nothing(server: Server, tmp_path: Path):
    file = prompts(tmp_path, 4)
    out = tmp_path / "out"
    refused = magicgif(
        "batch", str(file), "-o", str(out), "--spend-limit", "150", "--base-url", server.url
    )
    assert refused.returncode == 1
    assert "this would cost 200 credits" in refused.stderr
    assert "spend limit is 150 credits per day" in refused.stderr
    assert "the account has 1000000 credits" in refused.stderr
    assert creates(server) == 0
    # from the environment (a class's JupyterHub profile), and a higher flag does not lift it
    env = {"MAGICGIF_SPEND_LIMIT": "100/day"}
    higher = magicgif(
        "batch", str(file), "-o", str(out), "--spend-limit", "5000", "--base-url", server.url,
        **env,
    )  # fmt: skip
    assert higher.returncode == 1 and "spend limit is 100 credits per day" in higher.stderr
    assert creates(server) == 0
    fits = magicgif(
        "batch", str(file), "-o", str(out), "--spend-limit", "200", "--base-url", server.url
    )
    assert fits.returncode == 0, fits.stderr
    assert "batch of 4: 4 to create, 200 credits (50 each)" in fits.stderr
    assert creates(server) == 4
    account = magicgif("account", "--spend-limit", "500", "--base-url", server.url)
    assert account.returncode == 0, account.stderr
    assert "spent:    200 credits today" in account.stdout
    assert "limit:    500 credits per day: 200 spent in the last day, 300 left" in account.stdout
    assert "waiting:  0 job(s)" in account.stdout


def test_a_batch_over_the_balance_sends_nothing(server: Server, tmp_path: Path):
    server.emulator.store.initial_credits = 120
    refused = magicgif(
        "batch", str(prompts(tmp_path, 3)), "-o", str(tmp_path / "out"), "--base-url", server.url
    )
    assert refused.returncode == 1
    assert "this would cost 150 credits and the account has 120" in refused.stderr
    assert creates(server) == 0


def test_processes_sharing_a_limit_cannot_together_pass_it(server: Server, tmp_path: Path):
    """Four processes at once, each one GIF, under one 150-credit limit: exactly three pay."""
    server.reset(render_seconds=0.5)
    env = {**os.environ, "MAGICGIF_SPEND_LIMIT": "150"}
    procs = [
        subprocess.Popen(
            [
                *MAGICGIF,
                "generate",
                f"class job {i}",
                "--base-url",
                server.url,
                "-o",
                str(tmp_path / f"student-{i}"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    results = [(p.wait(60), p.stderr.read() if p.stderr else "") for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 0, 0, 1], results
    (refusal,) = [err for code, err in results if code == 1]
    assert "the spend limit is 150 credits per day, of which 150 were spent" in refusal
    assert "the account has" in refusal
    assert creates(server) == 3
    account = magicgif("account", "--base-url", server.url, MAGICGIF_SPEND_LIMIT="150")
    assert "limit:    150 credits per day: 150 spent in the last day, 0 left" in account.stdout


def test_a_resumed_batch_folder_that_is_not_one_says_so(tmp_path: Path):
    plain = magicgif("batch", "--resume", str(tmp_path))
    assert plain.returncode == 1 and f"{LEDGER_NAME}" in plain.stderr
    both = magicgif("batch", str(prompts(tmp_path, 1)), "--resume", str(tmp_path))
    assert both.returncode == 2 and "not both" in both.stderr
    lonely = magicgif("batch", str(prompts(tmp_path, 1)), "--collect-only", "-o", "x")
    assert lonely.returncode == 2 and "goes with --resume DIR" in lonely.stderr


def test_python_ctrl_c_of_a_batch_names_a_resume_that_pays_nothing_again(
    server: Server, tmp_path: Path
):
    """Ctrl-C (a real SIGINT to this thread) stops a sync ``generate_many`` once its jobs
    exist; the ``BatchInterrupted`` message's ``generate_many(resume=...)`` runs as printed."""
    import threading

    from magicgif_widget import Client
    from magicgif_widget.batching import BatchInterrupted

    from .conftest import FAST_POLL

    server.reset(render_seconds=3.0)
    main = threading.main_thread().ident
    assert main is not None and threading.current_thread() is threading.main_thread()

    def press_ctrl_c(progress: object) -> None:
        if creates(server) == 2 and len([e for e in pickup.jobs() if e.project_id]) == 2:
            signal.pthread_kill(main, signal.SIGINT)

    with Client(base_url=server.url, poll=FAST_POLL) as client:
        with pytest.raises(BatchInterrupted) as stopped:
            client.v1.ai_gif_generator.generate_many(
                ["one kite", "two kites"],
                download_directory=tmp_path / "out",
                progress=False,
                on_event=press_ctrl_c,
            )
        (call,) = re.findall(r"generate_many\(resume='[^']+'\)", str(stopped.value))
        assert "paid for" in str(stopped.value)
        results = eval(f"client.v1.ai_gif_generator.{call}")  # the advice, as printed
    assert results.counts.complete == 2 and creates(server) == 2
