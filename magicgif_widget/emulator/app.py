"""The emulator: Magic Hour's contract as an ASGI app, plus ``/emulator/*`` test hooks.

Every refusal is the contract's JSON ``{"code", "message"}``: 400 ``invalid_request`` for a
body that is not JSON, 422 ``unprocessable_entity`` for values that break the contract.
Handlers live in ``routes.py`` (the contract) and ``hooks.py``; state and the request gate in
``core.py``; fault rules in ``faults.py`` and their effects in ``inject.py``; "now" in ``clock.py``.

Test hooks: ``POST /emulator/faults`` adds a fault rule (syntax in ``faults.py``: injected
HTTP errors, message-only or non-JSON error bodies, resets, delays, and jobs planned to fail
with a chosen ``error.code``), ``GET /emulator/faults`` lists the live ones,
``GET /emulator/stats`` counts requests, operations and ``faults_applied`` and shows the
credit balance, ``GET /emulator/jobs`` the jobs' planned times, ``POST /emulator/reset``
forgets everything.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from .core import EmulatorCore
from .errors import crash, http_error
from .hooks import HookRoutes
from .inject import EmulatedReset
from .routes import ContractRoutes

__all__ = ["EmulatedReset", "Emulator"]

log = logging.getLogger("magicgif_widget.emulator")


class Emulator(EmulatorCore):
    """State and behaviour behind the routes (arguments in ``EmulatorCore``); ``app`` is the
    ASGI application. ``clock=ManualClock()`` or ``StepClock(step)`` ends renders unwaited."""

    @functools.cached_property
    def _starlette(self) -> Starlette:
        return Starlette(
            routes=[*ContractRoutes(self).routes(), *HookRoutes(self).routes()],
            exception_handlers={HTTPException: http_error, Exception: crash},
        )

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app: the routes, with resets turned into dropped connections."""
        started = False

        async def tracked(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._starlette(scope, receive, tracked)
        except EmulatedReset:
            if not started:  # headers promise a body that never comes: the peer sees a drop
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-length", b"4096")],
                    }
                )
            raise
        except Exception:
            log.exception("emulator crashed on %s %s", scope.get("method"), scope.get("path"))
            if scope["type"] != "http":
                raise
            if not started:
                await crash(Request(scope), RuntimeError())(scope, receive, send)
