"""Test tooling: ``magicgif emulator`` in its own process, for tests that need a real one."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence

import httpx

from magicgif_widget.emulator.server import free_port

from .loopback import HTTP


@contextlib.contextmanager
def emulator_process(
    *args: str,
    host: str = "127.0.0.1",
    timeout: float = 20.0,
    python_flags: Sequence[str] = (),
) -> Iterator[str]:
    """``magicgif emulator ARGS`` in its own process on a free port; yields its base URL.

    ``python_flags`` go to the interpreter (``("-O",)`` runs it with asserts stripped).
    Waits until it answers, and stops it with SIGINT (as Ctrl-C would) on exit.
    """
    port = free_port(host)
    cmd = [
        sys.executable,
        *python_flags,
        "-m",
        "magicgif_widget.cli",
        "emulator",
        "--host",
        host,
        "--port",
        str(port),
        *args,
    ]
    url = f"http://{host}:{port}"
    with subprocess.Popen(cmd, stderr=subprocess.DEVNULL) as proc:
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if HTTP.get(f"{url}/emulator/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the emulator did not start on {url}")
                time.sleep(0.05)
            yield url
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
