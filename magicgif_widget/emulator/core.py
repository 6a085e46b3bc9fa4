"""The emulator's state (jobs, faults, clock, signer, settings) and the gate each request
passes first: it is counted, its token checked, its key's rate limit (if any) spent and its
route's next fault rule applied."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from . import inject
from .clock import SYSTEM_CLOCK, Clock
from .errors import error
from .faults import Fault, Faults
from .jobs import JobStore
from .rate_limit import RateLimit
from .signing import Signer
from .timing import Drawn

URL_TTL = 7 * 24 * 3600.0
OPEN_ROUTES = ("download", "upload")  # reached through signed URLs, without a token


class EmulatorCore:
    """What the handlers share; ``token``, ``output_file`` and ``url_ttl`` may change live.

    ``clock`` gives job progress, credits and URL expiry their "now" (the real clock by
    default; see ``clock.py``); fault delays sleep in real time.
    """

    def __init__(
        self,
        *,
        render_seconds: float = 2.0,
        token: str | None = None,
        output_file: str | Path | None = None,
        credits: int = 1_000_000,
        url_ttl: float = URL_TTL,
        sandbox: bool = False,
        timing: Drawn | None = None,
        clock: Clock = SYSTEM_CLOCK,
        rate_limit: RateLimit | None = None,
    ) -> None:
        self.clock = clock
        self.rate_limit = rate_limit
        self.store = JobStore(render_seconds, credits, timing, clock)
        self.faults = Faults()
        self.signer = Signer(clock)
        self.token = token
        self.output_file = Path(output_file) if output_file else None
        self.url_ttl = url_ttl
        self.sandbox = sandbox

    def add_fault(self, **rule: Any) -> None:
        """Add a fault rule in-process, as ``POST /emulator/faults`` does (FaultError if bad)."""
        self.faults.add(Fault.parse(rule))

    def clear(self) -> None:
        """Forget jobs, counts and faults, as ``POST /emulator/reset`` does."""
        self.store.reset()
        self.faults.clear()
        if self.rate_limit is not None:
            self.rate_limit.reset()

    def use_clock(self, clock: Clock) -> None:
        """Read "now" from ``clock`` from here on, after forgetting every job, count and fault
        (their times were on the old clock)."""
        self.clear()
        self.clock = self.store.clock = self.signer.clock = clock

    def authorized(self, request: Request) -> bool:
        if self.token is None:
            return True
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode())

    async def enter(self, request: Request, route: str) -> Response | None:
        """Count the request, check auth and apply request faults; a response ends it early."""
        self.store.saw(route)
        if route not in OPEN_ROUTES and not self.authorized(request):
            return error(401, "unauthorized", "provide a valid API key in the Authorization header")
        if route not in OPEN_ROUTES and self.rate_limit is not None:
            wait = self.rate_limit.take(request.headers.get("authorization", ""))
            if wait is not None:
                self.store.count("rate_limited")
                message = f"too many requests for this key; {wait:g} s"
                return error(429, "rate_limited", message, {"retry-after": f"{wait:g}"})
        rule = self.faults.take(route)
        return None if rule is None else await inject.on_request(rule, route, request)

    def signed_url(self, request: Request, path: str) -> tuple[str, str]:
        """A URL to ``path`` on this server, signed for ``url_ttl``, and its expiry."""
        return self.signer.url(str(request.base_url).rstrip("/"), path, self.url_ttl)

    def signature_ok(self, request: Request) -> bool:
        query = request.query_params
        return self.signer.ok(request.url.path, query.get("expires", ""), query.get("sig", ""))
