"""The sync and async clients inside a real IPython kernel, where a loop already runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.manager import KernelManager, start_new_kernel

from .conftest import Server


@pytest.fixture(scope="module")
def kernel() -> Iterator[object]:
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        yield client
    finally:
        client.stop_channels()
        assert isinstance(manager, KernelManager)
        manager.shutdown_kernel(now=True)


def execute(kc, code: str, timeout: float = 60) -> tuple[str, list[str]]:
    """Run one cell; return its stdout and any error names."""
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=(out := _Collector()))
    errors = out.errors + (
        [reply["content"]["ename"]] if reply["content"]["status"] != "ok" else []
    )
    return "".join(out.stdout), errors


class _Collector:
    def __init__(self) -> None:
        self.stdout: list[str] = []
        self.errors: list[str] = []

    def __call__(self, msg: dict) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream" and content["name"] == "stdout":
            self.stdout.append(content["text"])
        elif kind == "error":
            self.errors.append(f"{content['ename']}: {content['evalue']}")


def test_sync_client_in_a_kernel_cell(kernel, server: Server, tmp_path: Path):
    code = f"""
import asyncio
from magicgif_widget import Client, PollPolicy
print("loop running:", asyncio.get_event_loop().is_running())
with Client(base_url={server.url!r}, poll=PollPolicy(interval=0.05)) as client:
    res = client.v1.ai_gif_generator.generate(
        style={{"prompt": "kernel cat"}}, download_directory={str(tmp_path)!r})
print("RESULT", res.status, res.downloaded_paths[0])
"""
    stdout, errors = execute(kernel, code)
    assert errors == []
    assert "loop running: True" in stdout
    status, path = stdout.split("RESULT ")[1].split()
    assert status == "complete" and Path(path).is_file()


def test_async_client_with_top_level_await(kernel, server: Server, tmp_path: Path):
    code = f"""
from magicgif_widget import AsyncClient, PollPolicy
async with AsyncClient(base_url={server.url!r}, poll=PollPolicy(interval=0.05)) as aclient:
    res = await aclient.v1.ai_gif_generator.generate(
        style={{"prompt": "await cat"}}, download_directory={str(tmp_path)!r})
print("RESULT", res.status, len(res.downloaded_paths))
"""
    stdout, errors = execute(kernel, code)
    assert errors == [] and "RESULT complete 1" in stdout


def test_sandbox_in_a_kernel_says_so(kernel, tmp_path: Path):
    code = f"""
import os, warnings
os.environ["MAGICGIF_SANDBOX_RENDER_SECONDS"] = "0.2"
for name in ("MAGIC_HOUR_API_TOKEN", "MAGIC_HOUR_API_KEY", "API_TOKEN"):
    os.environ.pop(name, None)
from magicgif_widget import Client, SandboxWarning
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    client = Client()
print("SANDBOX", client.sandbox, [w.category.__name__ for w in caught])
res = client.v1.ai_gif_generator.generate(
    style={{"prompt": "x"}}, download_directory={str(tmp_path)!r})
print("RESULT", res.status)
"""
    stdout, errors = execute(kernel, code)
    assert errors == []
    assert "SANDBOX True ['SandboxWarning']" in stdout and "RESULT complete" in stdout


def test_widget_job_leaves_the_kernel_responsive(kernel, server: Server, tmp_path: Path):
    """The job runs as a task on the kernel's loop: other cells run while it works."""
    import time

    server.reset(render_seconds=2.0)
    start = f"""
from magicgif_widget import Client, GifWidget
w = GifWidget(client=Client(base_url={server.url!r}), prompt="busy kernel",
              download_directory={str(tmp_path)!r})
task = w.generate()
print("started", w.status)
"""
    stdout, errors = execute(kernel, start)
    assert errors == [] and "started creating" in stdout
    t0 = time.monotonic()
    stdout, errors = execute(kernel, "print('other cell', 6 * 7, w.status)")
    assert time.monotonic() - t0 < 1.0, "another cell had to wait for the job"
    assert errors == [] and "other cell 42" in stdout
    assert stdout.split()[-1] in ("creating", "queued", "rendering")
    stdout, errors = execute(kernel, "result = await task\nprint('done', w.status, result.path)")
    assert errors == [] and "done complete" in stdout
    assert Path(stdout.split()[-1]).is_file()


def test_a_colab_style_loop(server: Server, tmp_path: Path, monkeypatch):
    """Colab's ipykernel 6 runs each cell as a coroutine on tornado's IOLoop (asyncio under
    it), with ``google.colab`` imported. There the sync Client (its private loop thread) and a
    widget job (a task on the running loop) both work, and nothing patches asyncio."""
    import asyncio
    import sys
    import types

    from tornado.ioloop import IOLoop

    from magicgif_widget import Client, GifWidget, PollPolicy

    output = types.ModuleType("google.colab.output")
    output.enable_custom_widget_manager = lambda: None  # type: ignore[attr-defined]
    output._widgets = types.SimpleNamespace(_installed_url=None)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    asyncio_run = asyncio.run
    seen: dict[str, object] = {}

    async def cell() -> None:
        loop = asyncio.get_running_loop()
        with Client(base_url=server.url, poll=PollPolicy(interval=0.05)) as client:
            project = client.v1.ai_gif_generator.generate(
                style={"prompt": "a sync call in a running loop"}, download_directory=tmp_path
            )
        seen["sync"] = project.status
        w = GifWidget(
            client=Client(base_url=server.url, poll=PollPolicy(interval=0.05)),
            download_directory=tmp_path,
            prompt="a widget job on the kernel's loop",
        )
        task = w.generate()
        seen["same_loop"] = task.get_loop() is loop
        result = await task
        seen["widget"] = (w.status, result.path.suffix)
        w.close()

    io_loop = IOLoop(make_current=False)
    try:
        io_loop.run_sync(cell, timeout=60)
    finally:
        io_loop.close(all_fds=True)
    assert seen == {"sync": "complete", "same_loop": True, "widget": ("complete", ".gif")}
    assert asyncio.run is asyncio_run and "nest_asyncio" not in sys.modules
    assert server.stats()["creates"] == 2
