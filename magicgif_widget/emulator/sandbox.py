"""The sandbox: one in-process emulator per process, reached through an httpx ASGI transport."""

from __future__ import annotations

import os
import threading

import httpx

from .app import Emulator
from .inject import EmulatedReset

DEFAULT_RENDER_SECONDS = 2.0
_lock = threading.Lock()
_sandbox: Emulator | None = None


def sandbox_emulator() -> Emulator:
    """The process's sandbox emulator (render time from MAGICGIF_SANDBOX_RENDER_SECONDS)."""
    global _sandbox
    with _lock:
        if _sandbox is None:
            try:
                seconds = float(os.environ.get("MAGICGIF_SANDBOX_RENDER_SECONDS", ""))
            except ValueError:
                seconds = DEFAULT_RENDER_SECONDS
            _sandbox = Emulator(render_seconds=max(0.0, seconds), sandbox=True)
        return _sandbox


class SandboxTransport(httpx.AsyncBaseTransport):
    """An ASGI transport to the sandbox in which an emulated reset looks like a dropped peer."""

    def __init__(self, emulator: Emulator) -> None:
        self._inner = httpx.ASGITransport(app=emulator.app, client=("127.0.0.1", 50000))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._inner.handle_async_request(request)
        except EmulatedReset as exc:
            raise httpx.RemoteProtocolError(
                f"peer closed connection: {exc}", request=request
            ) from None


def sandbox_transport() -> SandboxTransport:
    return SandboxTransport(sandbox_emulator())
