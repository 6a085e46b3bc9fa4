"""The HTTP layer: builds the httpx clients, retries transient failures, maps errors to types."""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

from ..contract import PAYMENT_CODES, SERVER_ERROR_ADVICE
from .errors import (
    CreateOutcomeUnknown,
    InvalidResponseError,
    MagicHourError,
    NetworkError,
    RateLimitError,
    error_for_status,
)
from .models import Retrying
from .pressure import Pressure
from .settings import Settings, parse_retry_after

log = logging.getLogger("magicgif_widget")

# Failures that happen before any byte of the request left this machine.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

_HINTS = {
    401: "check your API token (MAGIC_HOUR_API_TOKEN)",
    402: "add credits or upgrade the plan at magichour.ai",
    429: "rate limited; wait and try again",
}


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The verifying TLS context every client of the process shares (httpx's default, read
    once: loading the CA bundle costs about 40 ms, which each new client would pay again)."""
    return httpx.create_ssl_context()


OnRetry = Callable[[Retrying], None]
T = TypeVar("T")
MAX_API_BODY = 4 * 1024 * 1024  # bytes: an API answer is JSON of a few KB


def transient_status(status: int, *, idempotent: bool) -> bool:
    """Worth another try: a 429 always, a 5xx when sending again cannot charge twice."""
    return status == 429 or (status >= 500 and idempotent)


class Transient(Exception):
    """One try failed in a way worth another; ``fail(tries)`` is the error once none are left."""

    def __init__(
        self,
        reason: str,
        fail: Callable[[int], MagicHourError],
        retry_after: float | None = None,
        status: int = 0,
        *,
        expired: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fail = fail
        self.retry_after = retry_after
        self.status = status
        self.expired = expired  # a signed URL that has run out (downloads refresh it)


class _TooLarge(Exception):
    """An API answer larger than any the contract produces (a hostile or broken server)."""


class Transport:
    """Two pooled httpx clients: one for the API (with auth), one for signed file URLs (none)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        shared = settings.make_transport()
        verify = tls_context() if shared is None else True  # a given transport verifies itself
        headers = {"accept": "application/json", "user-agent": settings.user_agent}
        if settings.token is not None:
            headers["authorization"] = f"Bearer {settings.token.reveal()}"
        self.api = httpx.AsyncClient(
            base_url=settings.base_url,
            headers=headers,
            timeout=settings.timeout,
            transport=shared,
            verify=verify,
            follow_redirects=False,
        )
        self.files = httpx.AsyncClient(
            headers={"user-agent": settings.user_agent},
            timeout=settings.timeout,
            transport=shared,
            verify=verify,
            follow_redirects=True,
            max_redirects=5,
        )
        self._hold_until = 0.0  # a 429's Retry-After holds every request of this client
        self.pressure = Pressure()  # and every 429 widens this client's polls

    async def _wait_for_hold(self) -> None:
        delay = self._hold_until - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def aclose(self) -> None:
        await self.api.aclose()
        await self.files.aclose()

    def redact(self, text: str) -> str:
        """``text`` with the token, if any, replaced by ``***``."""
        token = self.settings.token
        return token.redact(text) if token is not None else text

    async def call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        json: Any = None,
        idempotent: bool = True,
        project_id: str | None = None,
        on_retry: OnRetry | None = None,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
        done_if_retry_finds: int | None = None,
    ) -> httpx.Response:
        """Send one API request, retrying what is safe to retry; returns a 2xx response.

        A non-idempotent request (a create) is re-sent only when it provably never left
        this machine (connect failures) or the server refused it with 429.
        """

        async def once(tries: int) -> httpx.Response:
            try:
                response = await self._send(method, path, json, headers, timeout)
            except _TooLarge as exc:
                cls = InvalidResponseError if idempotent else CreateOutcomeUnknown
                raise cls(f"{operation}: {exc}", project_id=project_id) from None
            except httpx.TransportError as exc:
                reason = self._describe(exc)
                if idempotent or isinstance(exc, NEVER_SENT):
                    raise Transient(
                        reason,
                        lambda n: NetworkError(
                            f"{operation}: {reason} after {n} tries", project_id=project_id
                        ),
                    ) from None
                raise CreateOutcomeUnknown(
                    f"{operation}: {reason} after the request was sent; the job may exist "
                    "and may have been charged, so it was not re-sent",
                    project_id=project_id,
                ) from None
            except httpx.HTTPError as exc:  # an undecodable body, a bad redirect, ...
                cls = InvalidResponseError if idempotent else CreateOutcomeUnknown
                raise cls(f"{operation}: {self._describe(exc)}", project_id=project_id) from None
            status = response.status_code
            if status < 300 or (status == done_if_retry_finds and tries > 1):
                return response  # (an earlier try did it; its answer was lost)
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if transient_status(status, idempotent=idempotent):
                raise Transient(
                    f"HTTP {status}",
                    lambda n: self.error_from(response, operation, project_id, retry_after, n),
                    retry_after,
                    status,
                )
            raise self.error_from(response, operation, project_id, retry_after)

        return await self.retrying(
            once, operation=operation, project_id=project_id, on_retry=on_retry
        )

    async def retrying(
        self,
        attempt: Callable[[int], Awaitable[T]],
        *,
        operation: str,
        project_id: str | None = None,
        on_retry: OnRetry | None = None,
    ) -> T:
        """``attempt(try_number)`` until it returns; each ``Transient`` it raises is retried.

        The one retry loop (API calls, uploads, downloads): it waits out a 429's hold, emits
        one ``Retrying`` per retry, and raises the failure's own error when tries run out.
        """
        policy = self.settings.retry
        tries = 0
        while True:
            tries += 1
            await self._wait_for_hold()
            try:
                return await attempt(tries)
            except Transient as failure:
                wait = failure.retry_after
                too_long = wait is not None and wait > policy.max_retry_after
                if failure.status == 429:
                    self.pressure.hit()
                if failure.status == 429 and wait is not None and not too_long:
                    self._hold_until = max(self._hold_until, time.monotonic() + wait)
                if tries >= policy.attempts or too_long:
                    raise failure.fail(tries) from None
                delay = policy.delay(tries, wait, failure.status)
                await self._pause(delay, operation, failure.reason, tries, project_id, on_retry)

    async def _send(
        self,
        method: str,
        path: str,
        json: Any,
        headers: dict[str, str] | None,
        timeout: float | None,
    ) -> httpx.Response:
        """One request; the body is read up to ``MAX_API_BODY`` (a project is a few KB)."""
        request = self.api.build_request(
            method,
            path,
            json=json,
            headers=headers,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
        response = await self.api.send(request, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_API_BODY:
                raise _TooLarge(f"the answer declares {declared} bytes; at most {MAX_API_BODY}")
            parts, size = [], 0
            async for part in response.aiter_bytes():
                size += len(part)
                if size > MAX_API_BODY:
                    raise _TooLarge(f"the answer exceeds {MAX_API_BODY} bytes")
                parts.append(part)
        finally:
            await response.aclose()
        # The bounded, decoded body in a response of its own (httpx's public way to hold one;
        # its encoding headers go, or httpx would decode the body again).
        kept = [
            (key, value)
            for key, value in response.headers.multi_items()
            if key.lower() not in ("content-encoding", "content-length")
        ]
        return httpx.Response(
            response.status_code,
            headers=kept,
            content=b"".join(parts),
            request=request,
            extensions=response.extensions,
        )

    async def _pause(
        self,
        delay: float,
        operation: str,
        reason: str,
        attempt: int,
        project_id: str | None,
        on_retry: OnRetry | None,
    ) -> None:
        log.info("%s: %s; retry %d in %.2fs", operation, reason, attempt, delay)
        if on_retry is not None:
            on_retry(Retrying(project_id, operation, reason, attempt, delay))
        await asyncio.sleep(delay)

    def _describe(self, exc: httpx.HTTPError) -> str:
        text = str(exc) or type(exc).__name__
        return self.redact(f"{type(exc).__name__}: {text}"[:300])

    def error_from(
        self,
        response: httpx.Response,
        operation: str,
        project_id: str | None,
        retry_after: float | None = None,
        tries: int = 1,
    ) -> MagicHourError:
        """The typed error for a non-2xx response (the body's code and message, redacted)."""
        status = response.status_code
        code, detail = _error_body(response)
        code = self.redact(code) if code else None  # a code-less body gives code None
        text = f"{operation}: HTTP {status}"
        if code:
            text += f" {code}"
        if detail:
            text += f": {detail}"
        hint = _advice(status, code, operation)
        if hint:
            text += f" ({hint})"
        if status >= 500 and operation == "create":
            text += "; not retried, since the job may exist and a retry could charge twice"
        if tries > 1:
            text += f"; gave up after {tries} tries"
        cls = error_for_status(status)
        kwargs: dict[str, Any] = {"status_code": status, "code": code, "project_id": project_id}
        if cls is RateLimitError:
            kwargs["retry_after"] = retry_after
        return cls(self.redact(text), **kwargs)

    @staticmethod
    def json(response: httpx.Response, operation: str, project_id: str | None = None) -> Any:
        """The response's JSON body, or InvalidResponseError."""
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content type")
            raise InvalidResponseError(
                f"{operation}: expected JSON, got {kind!s:.60} ({len(response.content)} bytes)",
                project_id=project_id,
            ) from None


def _error_body(response: httpx.Response) -> tuple[str | None, str | None]:
    """An error body's ``code`` and ``message``, each None when absent or unusable.

    The contract's body is ``{"code", "message"}``, but the vendor's errors page shows bodies
    with only ``message`` (``{"message": "Unauthorized"}``), and a proxy may send HTML: any
    shape gives an answer, never an exception. Both come back as one printable line.
    """
    try:
        body = response.json()
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond reason
        return None, None
    if not isinstance(body, dict):
        return None, None

    def line(value: Any, limit: int) -> str | None:
        if not isinstance(value, str):
            return None
        flat = " ".join("".join(c if c.isprintable() else " " for c in value[:2000]).split())
        return flat[:limit] or None

    return line(body.get("code"), 80), line(body.get("message"), 300)


def _advice(status: int, code: str | None, operation: str) -> str | None:
    """What to do about an error answer, in the vendor's words where its errors page has them."""
    if status == 402 and code in PAYMENT_CODES:
        return f"{PAYMENT_CODES[code]} at magichour.ai"
    if status >= 500 and operation == "create":
        return None  # the create's note says why not; advising a retry could charge twice
    return _HINTS.get(status) or SERVER_ERROR_ADVICE.get(status)
