"""``magicgif batch`` as a user runs it: killed, interrupted, rate limited, then run again."""

from __future__ import annotations

import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from magicgif_widget.jobstore.ledger import LEDGER_NAME, LOCK_NAME

from .emulator_process import emulator_process
from .loopback import HTTP
from .terminal import run_on_a_terminal

MAGICGIF = [sys.executable, "-m", "magicgif_widget.cli"]


def env() -> dict[str, str]:
    return {**os.environ, "MAGICGIF_SANDBOX_RENDER_SECONDS": "0.3"}


def batch(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MAGICGIF, "batch", *args],
        cwd=cwd,
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*MAGICGIF, "batch", *args],
        cwd=cwd,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def prompts(directory: Path, count: int) -> Path:
    path = directory / "prompts.txt"
    path.write_text("".join(f"a lighthouse in a storm, take {i}\n" for i in range(count)))
    return path


def stats(url: str) -> dict[str, Any]:
    return HTTP.get(f"{url}/emulator/stats").json()


def rows(directory: Path) -> list[dict[str, Any]] | None:
    """The ledger read-only, or None if it is locked mid-write right now."""
    try:
        db = sqlite3.connect(f"file:{directory / LEDGER_NAME}?mode=ro", uri=True, timeout=0.05)
    except sqlite3.OperationalError:
        return None
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM items ORDER BY position")]
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()


def check_outputs(out: Path, count: int) -> None:
    """``count`` distinct, whole, animated GIFs and nothing half-written."""
    gifs = sorted(out.glob("*.gif"))
    assert len(gifs) == count
    assert len({p.read_bytes() for p in gifs}) == count  # prompts differ, so frames differ
    for path in gifs:
        with Image.open(path) as im:
            assert im.is_animated and im.n_frames >= 8
            im.seek(im.n_frames - 1)  # decodes to the last frame: the file is whole
    assert sorted(p.name for p in out.iterdir() if p.suffix != ".gif") == sorted(
        [LEDGER_NAME, LOCK_NAME]
    )


def kill_between_creates(proc: subprocess.Popen[str], out: Path, url: str, after: int) -> int:
    """SIGKILL ``proc`` once ``after`` creates are recorded, at an instant when no create is
    in flight: the process is frozen (SIGSTOP) while the ledger and the emulator are read.
    Returns the number of jobs created before the kill."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        current = rows(out) if (out / LEDGER_NAME).exists() else None
        if current is None or sum(1 for r in current if r["project_id"]) < after:
            time.sleep(0.01)
            continue
        os.kill(proc.pid, signal.SIGSTOP)
        frozen = rows(out)
        creates = stats(url)["creates"]
        if frozen is not None:
            known = sum(1 for r in frozen if r["project_id"])
            if known == creates and not any(r["state"] == "creating" for r in frozen):
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
                return creates
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.003)
    proc.kill()
    raise AssertionError("the batch never reached a quiet moment to kill it")


def test_sigkill_midway_then_rerun_creates_each_job_exactly_once(tmp_path: Path):
    """The issue's demonstration: 30 prompts, --concurrency 8, SIGKILL after ~10 creates."""
    file = prompts(tmp_path, 30)
    out = tmp_path / "out"
    with emulator_process("--render-seconds", "1.5") as url:
        args = (str(file), "-o", str(out), "--concurrency", "8", "--base-url", url)
        proc = start(*args, cwd=tmp_path)
        before = kill_between_creates(proc, out, url, after=10)
        assert proc.returncode == -signal.SIGKILL
        assert 10 <= before < 30
        first_ids = {r["project_id"] for r in rows(out) or [] if r["project_id"]}

        again = batch(*args, cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert stats(url)["creates"] == 30
    ledger = rows(out)
    assert ledger is not None and len(ledger) == 30
    assert {r["state"] for r in ledger} == {"complete"}
    assert all(r["creates"] == 1 for r in ledger)
    assert first_ids <= {r["project_id"] for r in ledger}  # created before the kill: polled
    assert len(again.stdout.splitlines()) == 30
    check_outputs(out, 30)
    assert "30 of 30 complete" in again.stderr and "1500 credits" in again.stderr


def test_a_429_on_create_completes_with_no_extra_create(tmp_path: Path):
    file = prompts(tmp_path, 10)
    out = tmp_path / "out"
    with emulator_process("--render-seconds", "0.3") as url:
        rule = {"route": "create", "status": 429, "retry_after": 1, "times": 2}
        HTTP.post(f"{url}/emulator/faults", json=rule).raise_for_status()
        args = (str(file), "-o", str(out), "--concurrency", "4", "--base-url", url)
        done = batch(*args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        numbers = stats(url)
    assert numbers["creates"] == 10 and numbers["requests"]["create"] == 12
    assert numbers["faults_applied"] == 2
    check_outputs(out, 10)


def test_ctrl_c_stops_cleanly_says_how_to_resume_and_the_rerun_finishes(tmp_path: Path):
    file = prompts(tmp_path, 8)
    out = tmp_path / "out"
    with emulator_process("--render-seconds", "1.0") as url:
        args = (str(file), "-o", str(out), "--concurrency", "3", "--base-url", url)
        proc = start(*args, cwd=tmp_path)
        deadline = time.monotonic() + 30
        while stats(url)["creates"] < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 130, stderr
        assert "interrupted" in stderr
        advice = stderr.splitlines()[-1]
        assert advice == (
            f"magicgif: continue without paying again: magicgif batch --resume {out.resolve()}"
        )
        assert "Traceback" not in stderr
        ledger = rows(out)
        assert ledger is not None and not [r for r in ledger if r["state"] == "creating"]
        assert not list(out.glob(".*.part"))
        made = stats(url)["creates"]
        assert made == sum(1 for r in ledger if r["project_id"])

        command = shlex.split(advice.split(": ", 2)[2])  # run as printed
        again = batch(*command[2:], cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert stats(url)["creates"] == 8
    check_outputs(out, 8)


def test_failures_exit_1_and_name_the_way_forward(tmp_path: Path):
    file = prompts(tmp_path, 3)
    out = tmp_path / "out"
    with emulator_process("--render-seconds", "0.2") as url:
        HTTP.post(f"{url}/emulator/faults", json={"route": "create", "outcome": "error"})
        args = (str(file), "-o", str(out), "--concurrency", "1", "--base-url", url)
        first = batch(*args, cwd=tmp_path)
        assert first.returncode == 1
        assert "line 1: JobFailedError" in first.stderr and "--retry-failed" in first.stderr
        assert len(first.stdout.splitlines()) == 2
        second = batch(*args, "--retry-failed", cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        assert stats(url)["creates"] == 4


def test_jsonl_items_stdin_and_the_sandbox(tmp_path: Path):
    text = (
        '{"prompt": "a red kite", "output_format": "mp4"}\n'
        "\n"
        "a blue kite\n"
        '{"style": {"prompt": "a green kite"}, "name": "green"}\n'
    )
    proc = subprocess.run(
        [*MAGICGIF, "batch", "-", "-o", "out", "--format", "webm"],
        input=text,
        cwd=tmp_path,
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    suffixes = [Path(p).suffix for p in proc.stdout.splitlines()]
    assert suffixes == [".mp4", ".webm", ".webm"]
    assert "SANDBOX" in proc.stderr and "sandbox, no credits" in proc.stderr


@pytest.mark.parametrize(
    "content,needle",
    [
        ("a cat\n\n" + "x" * 501 + "\n", "line 3: is 501 characters"),
        ('a cat\n{"prompt": "dog", "format": "gif"}\n', "line 2: unknown keys format"),
        ('{"prompt": "dog"\n', "line 1: invalid JSON"),
        ("\n  \n", "holds no prompts"),
    ],
)
def test_a_bad_file_is_refused_whole_before_any_request(tmp_path: Path, content, needle):
    (tmp_path / "p.txt").write_text(content)
    with emulator_process("--render-seconds", "0.2") as url:
        proc = batch("p.txt", "-o", "out", "--base-url", url, cwd=tmp_path)
        assert proc.returncode == 2
        assert needle in proc.stderr and "Traceback" not in proc.stderr
        assert stats(url)["requests"] == {}
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args,needle",
    [
        (["missing.txt", "-o", "out"], "cannot read 'missing.txt'"),
        (["p.txt"], "--output-dir: is required for a new batch (its ledger goes there)"),
        (["p.txt", "-o", "out", "--concurrency", "0"], "must be a whole number from 1 to 64"),
        (["p.txt", "-o", "p.txt"], "exists and is not a directory"),
    ],
)
def test_bad_arguments_are_one_specific_line(tmp_path: Path, args, needle):
    (tmp_path / "p.txt").write_text("a cat\n")
    proc = batch(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert needle in proc.stderr.strip().splitlines()[-1]


def test_a_kill_during_a_create_leaves_it_unknown_and_it_is_not_silently_recreated(
    tmp_path: Path,
):
    file = prompts(tmp_path, 3)
    out = tmp_path / "out"
    with emulator_process("--render-seconds", "0.2") as url:
        slow = {"route": "create", "kind": "delay", "seconds": 1.5}
        HTTP.post(f"{url}/emulator/faults", json=slow).raise_for_status()
        args = (str(file), "-o", str(out), "--concurrency", "1", "--base-url", url)
        proc = start(*args, cwd=tmp_path)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            current = rows(out) if (out / LEDGER_NAME).exists() else None
            creating = current and any(r["state"] == "creating" for r in current)
            if creating and stats(url)["creates"] >= 1:
                # The create is recorded as sent, and the server has made the job (its answer
                # is 1.5 s late). Killed before the body was read, there would be no job.
                break
            time.sleep(0.01)
        proc.kill()
        proc.wait(10)
        # The server made the job whose answer was late: a job nobody knows the id of.
        while stats(url)["creates"] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        orphans = stats(url)["creates"]
        assert orphans == 1

        again = batch(*args, cwd=tmp_path)
        assert again.returncode == 1
        assert "1 unknown" in again.stderr and "--retry-unknown" in again.stderr
        assert stats(url)["creates"] == orphans + 2
        assert [r["state"] for r in rows(out) or []] == ["unknown", "complete", "complete"]

        third = batch(*args, "--retry-unknown", cwd=tmp_path)
        assert third.returncode == 0, third.stderr
        assert stats(url)["creates"] == orphans + 3
    check_outputs(out, 3)


def test_on_a_terminal_one_bar_and_failures_above_it_on_stderr(tmp_path: Path):
    file = prompts(tmp_path, 3)
    with emulator_process("--render-seconds", "0.2") as url:
        HTTP.post(f"{url}/emulator/faults", json={"route": "create", "outcome": "error"})
        args = ["batch", str(file), "-o", "out", "--concurrency", "1", "--base-url", url]
        code, screen, stdout = run_on_a_terminal(
            [*MAGICGIF, *args], cwd=tmp_path, env={**env(), "COLUMNS": "100"}, cols=110
        )
    assert code == 1
    assert "magicgif batch: 100%" in screen and "2 done, 1 failed" in screen
    assert "line 1: JobFailedError" in screen and "--retry-failed" in screen
    assert [Path(p).suffix for p in stdout.splitlines()] == [".gif", ".gif"]


def test_the_batch_bar_shows_on_a_terminal_that_reports_no_size(tmp_path: Path):
    # A pseudo-terminal never sized reports 0 rows, where tqdm would draw nothing at all.
    file = prompts(tmp_path, 2)
    with emulator_process("--render-seconds", "0.2") as url:
        args = ["batch", str(file), "-o", "out", "--base-url", url]
        code, screen, _ = run_on_a_terminal(
            [*MAGICGIF, *args], cwd=tmp_path, env=env(), rows=0, cols=0
        )
    assert code == 0
    assert "magicgif batch: 100%" in screen and "2 done, 0 failed" in screen
