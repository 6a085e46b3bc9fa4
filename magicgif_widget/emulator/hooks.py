"""The ``/emulator/*`` test hooks' handlers: stats, the jobs' planned times, reset, fault rules,
health, and the contract as OpenAPI at ``/openapi.json``."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .core import EmulatorCore
from .errors import error
from .faults import Fault, FaultError
from .openapi import OPENAPI


class HookRoutes:
    """The test hooks over one emulator's state (they need no token and meet no faults)."""

    def __init__(self, emu: EmulatorCore) -> None:
        self.emu = emu

    def routes(self) -> list[Route]:
        return [
            Route("/emulator/stats", self.stats, methods=["GET"]),
            Route("/emulator/jobs", self.jobs, methods=["GET"]),
            Route("/emulator/reset", self.reset, methods=["POST"]),
            Route("/emulator/faults", self.faults, methods=["GET", "POST"]),
            Route("/emulator/health", self.health, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
        ]

    async def jobs(self, request: Request) -> Response:
        """Every job's planned times and the GETs it received (benchmarks read these)."""
        return JSONResponse(self.emu.store.timings())

    async def stats(self, request: Request) -> Response:
        data = self.emu.store.stats()
        data["faults_applied"] = self.emu.faults.applied
        data["credits"] = self.emu.store.credits(self.emu.clock.monotonic())
        return JSONResponse(data)

    async def reset(self, request: Request) -> Response:
        self.emu.clear()
        return JSONResponse({"ok": True})

    async def faults(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.post_fault(request)
        return JSONResponse({"faults": self.emu.faults.list()})

    async def post_fault(self, request: Request) -> Response:
        try:
            rule = Fault.parse(json.loads(await request.body()))
        except (ValueError, FaultError) as exc:
            return error(400, "invalid_request", f"bad fault rule: {exc}")
        self.emu.faults.add(rule)
        return JSONResponse({"ok": True, "faults": self.emu.faults.list()})

    async def openapi(self, request: Request) -> Response:
        """The contract's routes as OpenAPI 3.0 (``emulator/openapi.py``)."""
        return JSONResponse(OPENAPI)

    async def health(self, request: Request) -> Response:
        store = self.emu.store
        return JSONResponse(
            {
                "ok": True,
                "sandbox": self.emu.sandbox,
                "render_seconds": store.render_seconds,
                "timing": store.timing.describe() if store.timing else None,
            }
        )
