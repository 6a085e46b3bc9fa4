"""Never lose a paid job: a kernel killed (SIGKILL) while its widget's job renders; a new kernel's
widget offers that job from the journal, and Collect downloads it with no second create.

Real parts throughout: two IPython kernels (jupyter_client), the emulator over HTTP on
loopback, and a journal file in a directory of this test's own, which the kernels inherit.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.manager import KernelManager, start_new_kernel

from magicgif_widget.jobstore.journal import Journal

from .conftest import Server
from .test_kernel import execute

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def kernels() -> Iterator[list[tuple[KernelManager, object]]]:
    """Kernels started by the test, each shut down at the end (a killed one too)."""
    started: list[tuple[KernelManager, object]] = []
    yield started
    for manager, client in started:
        client.stop_channels()  # type: ignore[attr-defined]
        manager.shutdown_kernel(now=True)


def new_kernel(kernels: list[tuple[KernelManager, object]]) -> tuple[KernelManager, object]:
    manager, client = start_new_kernel(kernel_name="python3")  # inherits os.environ
    assert isinstance(manager, KernelManager)
    kernels.append((manager, client))
    return manager, client


def wait_for(check, timeout: float = 30.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)
    return value


def journaled(status: str) -> str | None:
    """The id of the journal's job once the journal has heard it is in ``status``."""
    with Journal.open() as journal:
        ids = [e.project_id for e in journal.entries() if e.project_id and e.status == status]
    return ids[0] if ids else None


def test_a_job_survives_its_kernel_being_killed_mid_render(
    server: Server, tmp_path: Path, monkeypatch, kernels
):
    monkeypatch.setenv("MAGICGIF_DATA_DIR", str(tmp_path / "data"))  # the kernels' journal
    server.reset(render_seconds=4)
    out = tmp_path / "out"

    manager, first = new_kernel(kernels)
    stdout, errors = execute(
        first,
        f"""
from magicgif_widget import Client, GifWidget
w = GifWidget(client=Client(base_url={server.url!r}), prompt="a lighthouse in a storm",
              download_directory={str(out)!r})
task = w.generate()
print("started", w.status)
""",
    )
    assert errors == [] and "started creating" in stdout
    wait_for(lambda: server.requests("create") == 1, what="the create")
    # The kernel's widget has seen its job rendering (and so has its journal).
    project_id = wait_for(lambda: journaled("rendering"), what="a rendering job in the journal")
    job = server.emulator.store.jobs[project_id]
    assert job.prompt == "a lighthouse in a storm"
    pid = manager.provisioner.pid  # type: ignore[union-attr]
    assert pid
    assert job.status(time.monotonic()) == "rendering"  # killed mid-render
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not manager.is_alive(), what="the kernel to die")
    assert not out.exists() or list(out.iterdir()) == []  # it died before any file came
    with Journal.open() as journal:
        entry = journal.get(project_id)
        assert entry is not None and entry.active and entry.surface == "widget"

    _, second = new_kernel(kernels)
    stdout, errors = execute(
        second,
        f"""
import asyncio
from magicgif_widget import Client, GifWidget
w = GifWidget(client=Client(base_url={server.url!r}), download_directory={str(out)!r})
for _ in range(200):
    if w.earlier_jobs:
        break
    await asyncio.sleep(0.05)
print("CARDS", [(c["id"], c["kind"], c["prompt"]) for c in w.earlier_jobs])
result = await w.collect({project_id!r})
print("RESULT", w.status, result.path, w.media["project_id"], len(w.history), w.earlier_jobs)
""",
    )
    assert errors == [], stdout
    assert f"CARDS [('{project_id}', 'collect', 'a lighthouse in a storm')]" in stdout
    status, path, media_id, history, left = stdout.split("RESULT ")[1].split()
    assert status == "complete" and media_id == project_id and history == "1" and left == "[]"
    assert Path(path) == out / f"{project_id}.gif" and Path(path).read_bytes()[:6] == b"GIF89a"
    assert server.requests("create") == 1  # collected, never made again
    with Journal.open() as journal:
        entry = journal.get(project_id)
        assert entry is not None and entry.collected and not entry.pending
