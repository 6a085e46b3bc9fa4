"""Applying fault rules to requests: injected error answers, resets, delays, truncated or
stalled downloads and expired URLs. Delays and stalls sleep in real time, whatever the
emulator's clock, since they test the client's own timeouts."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send

from .errors import error
from .faults import Fault, default_code


class EmulatedReset(ConnectionError):
    """Raised to drop the connection mid-answer (a connection reset, as the client sees it)."""


class Reset(Response):
    """A response that promises a body, then drops the connection: the peer sees a reset."""

    def __init__(self, why: str) -> None:
        super().__init__(status_code=200)
        self.why = why

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"4096")],
            }
        )
        raise EmulatedReset(self.why)


def injected(rule: Fault, route: str) -> Response:
    """The answer of a ``status`` fault rule, in the body shape the rule asks for."""
    status = rule.status or 500
    headers = {"retry-after": f"{rule.retry_after:g}"} if rule.retry_after is not None else None
    message = rule.message or f"fault injected on {route}"
    if rule.body == "html":  # what a proxy in front of the API sends: not JSON at all
        page = f"<html><body><h1>{status}</h1><p>fault injected on {route}</p></body></html>"
        return HTMLResponse(page, status, headers=headers)
    if rule.body == "message":  # the vendor's errors page shows bodies without a code
        return JSONResponse({"message": message}, status, headers=headers)
    return error(status, rule.code or default_code(status), message, headers)


def request_fault(request: Request) -> Fault | None:
    """The rule left on ``request`` for its handler to apply (create, download), if any."""
    rule: Fault | None = getattr(request.state, "fault", None)
    return rule


async def on_request(rule: Fault, route: str, request: Request) -> Response | None:
    """Apply ``rule`` as the request arrives: an answer ends the request, None lets it go on
    (after a delay, or with the rule left on the request for its handler)."""
    if rule.status is not None:
        return injected(rule, route)
    if route == "create":  # applied after the job is made: the worst case
        request.state.fault = rule
        return None
    if rule.kind == "delay":
        await asyncio.sleep(rule.seconds)
        return None
    if rule.kind == "reset":
        return Reset(f"{route} answered by a reset")
    request.state.fault = rule
    return None


async def after_create(rule: Fault | None) -> Response | None:
    """A create's fault, once its job exists: a reset answers, a delay makes the answer late."""
    if rule is not None and rule.kind == "reset":
        return Reset("create answered by a reset (the job exists)")
    if rule is not None and rule.kind == "delay":
        await asyncio.sleep(rule.seconds)
    return None


def expired(rule: Fault | None) -> Response | None:
    """An ``expire`` rule's 403, whatever the URL's signature says."""
    if rule is not None and rule.kind == "expire":
        return error(403, "forbidden", "the signed URL has expired")
    return None


async def body_fault(rule: Fault | None, data: bytes, send: Send, *, sandbox: bool) -> bytes | None:
    """Send the first half of a download under a ``truncate`` or ``stall`` rule; returns what
    is left to send (all of ``data`` without such a rule), None once the answer has ended."""
    if rule is None or rule.kind not in ("truncate", "stall"):
        return data
    half = len(data) // 2
    await send({"type": "http.response.body", "body": data[:half], "more_body": True})
    if rule.kind == "truncate":
        if sandbox:  # in-process: end early; only the client's length check sees it
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return None
        raise EmulatedReset("download truncated")  # over HTTP: close the connection
    await asyncio.sleep(rule.seconds)
    return data[half:]
