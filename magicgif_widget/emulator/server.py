"""Serve an emulator over real HTTP: in the foreground (the CLI) or on a background thread."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import uvicorn

from .app import EmulatedReset, Emulator


class _HideResets(logging.Filter):
    """Injected resets are intended: keep their tracebacks out of the server log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, EmulatedReset)


logging.getLogger("uvicorn.error").addFilter(_HideResets())


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _config(emulator: Emulator, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        emulator.app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="off",
        access_log=False,
        interface="asgi3",
        timeout_keep_alive=30,
        backlog=2048,
    )


def serve(
    emulator: Emulator, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info"
) -> None:
    """Serve until interrupted."""
    uvicorn.Server(_config(emulator, host, port, log_level)).run()


class BackgroundServer:
    """An emulator served by uvicorn on a daemon thread; ``url`` is its base URL."""

    def __init__(
        self,
        emulator: Emulator,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_level: str = "warning",
    ) -> None:
        self.emulator = emulator
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        self._server = uvicorn.Server(_config(emulator, host, self.port, log_level))
        # Older uvicorns install signal handlers from any thread; newer ones only on the main one.
        setattr(self._server, "install_signal_handlers", lambda: None)  # noqa: B010
        self._thread = threading.Thread(target=self._server.run, name="emulator", daemon=True)

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the emulator did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def emulator_process(*args: str, host: str = "127.0.0.1", timeout: float = 20.0) -> Iterator[str]:
    """``magicgif emulator ARGS`` in its own process on a free port; yields its base URL.

    Waits until it answers, and stops it with SIGINT (as Ctrl-C would) on exit.
    """
    port = free_port(host)
    cmd = [
        sys.executable,
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
                    if httpx.get(f"{url}/emulator/health", timeout=1).status_code == 200:
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
