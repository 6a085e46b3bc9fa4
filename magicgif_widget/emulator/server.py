"""Serve an emulator over real HTTP: in the foreground (the CLI) or on a background thread.

Importing this module changes no logging: starting a server hides injected resets from
uvicorn's error log (``hide_resets``), once per process however many servers start.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import uvicorn

from .app import Emulator
from .inject import EmulatedReset


class _HideResets(logging.Filter):
    """Injected resets are intended: keep their tracebacks out of the server log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, EmulatedReset)


RESET_LOGGER = "uvicorn.error"  # where uvicorn logs an app's exceptions
_filter_lock = threading.Lock()


def hide_resets() -> None:
    """Keep injected resets' tracebacks out of uvicorn's error log; a second call does nothing."""
    logger = logging.getLogger(RESET_LOGGER)
    with _filter_lock:
        if not any(isinstance(f, _HideResets) for f in logger.filters):
            logger.addFilter(_HideResets())


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
    server = uvicorn.Server(_config(emulator, host, port, log_level))
    hide_resets()
    server.run()


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
        hide_resets()
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
