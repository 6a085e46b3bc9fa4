"""A job whose process died mid-render is collected from the journal, with no second create:
from the terminal (``magicgif resume``) and from Python (``pickup.collect``)."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from magicgif_widget import pickup
from magicgif_widget.jobstore.journal import Journal

from .conftest import Server

MAGICGIF = [sys.executable, "-m", "magicgif_widget.cli"]


@pytest.fixture
def journal_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A journal of this test's own (the environment's is shared by the session)."""
    where = tmp_path / "data"
    monkeypatch.setenv("MAGICGIF_DATA_DIR", str(where))
    return where


def magicgif(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MAGICGIF, *args], env=dict(os.environ), capture_output=True, text=True, timeout=timeout
    )


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def creates(server: Server) -> int:
    return server.requests("create")


def pending() -> list[pickup.JournalEntry]:
    return pickup.jobs(pending_only=True)


def kill_mid_render(server: Server, out: Path, prompt: str) -> str:
    """Start ``magicgif generate``, SIGKILL it once its job exists; the job's id."""
    server.reset(render_seconds=4.0)
    proc = subprocess.Popen(
        [*MAGICGIF, "generate", prompt, "--base-url", server.url, "-o", str(out)],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The server counts the create before its answer reaches the CLI: wait for the id
        # in the journal (written on the answer, seconds before the 4 s render ends).
        wait_for(lambda: creates(server) == 1 and any(e.project_id for e in pending()))
        entry = pending()[0]
        assert entry.project_id is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not any(out.glob("*.gif"))  # it died before any file
    return entry.project_id


def test_cli_killed_mid_render_is_collected_by_resume_all(
    server: Server, tmp_path: Path, journal_dir: Path
):
    out = tmp_path / "out"
    pid = kill_mid_render(server, out, "a cat that survives a kill")

    listed = magicgif("jobs", "--pending")
    assert listed.returncode == 0, listed.stderr
    assert pid in listed.stdout and "a cat that survives a kill" in listed.stdout
    assert "magicgif resume --all" in listed.stderr

    resumed = magicgif("resume", "--all")
    assert resumed.returncode == 0, resumed.stderr
    paths = [Path(line) for line in resumed.stdout.split()]
    assert len(paths) == 1 and paths[0].parent == out and paths[0].read_bytes()[:6] == b"GIF89a"
    assert "no job was created" in resumed.stderr
    assert creates(server) == 1  # the resume created nothing

    with Journal.open() as journal:
        entry = journal.get(pid)
    assert entry is not None and entry.collected and entry.paths == (str(paths[0]),)
    again = magicgif("resume", "--all")
    assert again.returncode == 0 and "nothing to resume" in again.stderr


def test_resume_of_one_id_and_of_an_unknown_one(server: Server, tmp_path: Path, journal_dir: Path):
    pid = kill_mid_render(server, tmp_path / "out", "one id")
    wrong = magicgif("resume", "no-such-job")
    assert wrong.returncode == 2 and "'no-such-job' is not a job in the journal" in wrong.stderr
    both = magicgif("resume", pid, "--all")
    assert both.returncode == 2 and "not both" in both.stderr
    done = magicgif("resume", pid, "-o", str(tmp_path / "elsewhere"))
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).parent == tmp_path / "elsewhere"
    assert creates(server) == 1


def test_python_collects_a_journaled_job_without_a_create(
    server: Server, tmp_path: Path, journal_dir: Path
):
    pid = kill_mid_render(server, tmp_path / "out", "python pickup")
    (entry,) = [e for e in pickup.jobs(pending_only=True) if pickup.collectable(e)]
    assert entry.project_id == pid and entry.surface == "cli"
    project = asyncio.run(pickup.collect(entry))
    assert project.status == "complete" and Path(project.downloaded_paths[0]).is_file()
    assert creates(server) == 1
    assert pickup.jobs(pending_only=True) == []


def test_ctrl_c_names_the_resume_command(server: Server, tmp_path: Path, journal_dir: Path):
    server.reset(render_seconds=5.0)
    proc = subprocess.Popen(
        [*MAGICGIF, "generate", "interrupted", "--base-url", server.url, "-o", str(tmp_path)],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: bool([e for e in pickup.jobs() if e.project_id]))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    (entry,) = pickup.jobs()
    assert proc.returncode == 130
    line = err.strip().splitlines()[-1]
    assert line == (
        f"magicgif: collect it later, without paying again: magicgif resume {entry.project_id}"
    )
    command = shlex.split(line.split(": ", 2)[2])  # run as printed
    done = magicgif(*command[1:])
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).read_bytes()[:6] == b"GIF89a"
    assert creates(server) == 1
