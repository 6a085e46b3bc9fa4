"""The HTTP layer: builds the httpx clients, retries transient failures, maps errors to types."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .errors import (
    CreateOutcomeUnknown,
    InvalidResponseError,
    MagicHourError,
    NetworkError,
    RateLimitError,
    error_for_status,
)
from .models import Retrying
from .settings import Settings

log = logging.getLogger("magicgif_widget")

# Failures that happen before any byte of the request left this machine.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

_HINTS = {
    401: "check your API token (MAGIC_HOUR_API_TOKEN)",
    402: "add credits or upgrade the plan at magichour.ai",
    429: "rate limited; wait and try again",
}


@dataclass(frozen=True)
class RetryPolicy:
    """Capped, jittered exponential backoff for transient failures (429, 5xx, network).

    ``Retry-After`` wins when the server sends it. Without it, a 502 from the API waits
    ``bad_gateway_delay`` (Magic Hour's errors page: "retry after 30-60 seconds"), and 503
    ("overloaded") backs off exponentially like the rest.
    """

    attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    bad_gateway_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None, status: int = 0) -> float:
        """Seconds to wait before try ``attempt + 1``."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        backoff = float(ceiling * random.uniform(0.5, 1.0))
        if status == 502:
            return max(backoff, self.bad_gateway_delay * random.uniform(1.0, 1.2))
        return backoff


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds, from a number or an HTTP date; None if absent or bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


OnRetry = Callable[[Retrying], None]
MAX_API_BODY = 4 * 1024 * 1024  # bytes: an API answer is JSON of a few KB


class _TooLarge(Exception):
    """An API answer larger than any the contract produces (a hostile or broken server)."""


class Transport:
    """Two pooled httpx clients: one for the API (with auth), one for signed file URLs (none)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        shared = settings.make_transport()
        headers = {"accept": "application/json", "user-agent": settings.user_agent}
        if settings.token is not None:
            headers["authorization"] = f"Bearer {settings.token.reveal()}"
        self.api = httpx.AsyncClient(
            base_url=settings.base_url,
            headers=headers,
            timeout=settings.timeout,
            transport=shared,
            follow_redirects=False,
        )
        self.files = httpx.AsyncClient(
            headers={"user-agent": settings.user_agent},
            timeout=settings.timeout,
            transport=shared,
            follow_redirects=True,
            max_redirects=5,
        )
        self._hold_until = 0.0  # a 429's Retry-After holds every request of this client

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
        policy = self.settings.retry
        attempt = 0
        while True:
            attempt += 1
            await self._wait_for_hold()
            try:
                response = await self._send(method, path, json, headers, timeout)
            except _TooLarge as exc:
                cls = InvalidResponseError if idempotent else CreateOutcomeUnknown
                raise cls(f"{operation}: {exc}", project_id=project_id) from None
            except httpx.TransportError as exc:
                never_sent = isinstance(exc, NEVER_SENT)
                reason = self._describe(exc)
                if (idempotent or never_sent) and attempt < policy.attempts:
                    await self._pause(
                        policy.delay(attempt), operation, reason, attempt, project_id, on_retry
                    )
                    continue
                if not idempotent and not never_sent:
                    raise CreateOutcomeUnknown(
                        f"{operation}: {reason} after the request was sent; the job may exist "
                        "and may have been charged, so it was not re-sent",
                        project_id=project_id,
                    ) from None
                raise NetworkError(
                    f"{operation}: {reason} after {attempt} tries", project_id=project_id
                ) from None
            except httpx.HTTPError as exc:  # an undecodable body, a bad redirect, ...
                cls = InvalidResponseError if idempotent else CreateOutcomeUnknown
                raise cls(f"{operation}: {self._describe(exc)}", project_id=project_id) from None
            status = response.status_code
            if status < 300:
                return response
            if status == done_if_retry_finds and attempt > 1:
                return response  # an earlier try did it; its answer was lost
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            transient = status == 429 or (status >= 500 and idempotent)
            too_long = retry_after is not None and retry_after > policy.max_retry_after
            if status == 429 and retry_after is not None and not too_long:
                self._hold_until = max(self._hold_until, time.monotonic() + retry_after)
            if transient and attempt < policy.attempts and not too_long:
                delay = policy.delay(attempt, retry_after, status)
                await self._pause(delay, operation, f"HTTP {status}", attempt, project_id, on_retry)
                continue
            raise self.error_from(response, operation, project_id, retry_after)

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
            response._content = b"".join(parts)  # what Response.aread() stores
        finally:
            await response.aclose()
        return response

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
    ) -> MagicHourError:
        """The typed error for a non-2xx response (the body's code and message, redacted)."""
        status = response.status_code
        code, detail = _error_body(response)
        text = f"{operation}: HTTP {status}"
        if code:
            text += f" {code}"
        if detail:
            text += f": {detail}"
        hint = _HINTS.get(status)
        if hint:
            text += f" ({hint})"
        if status >= 500 and operation == "create":
            text += "; not retried, since the job may exist and a retry could charge twice"
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
    try:
        body = response.json()
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    code, message = body.get("code"), body.get("message")
    return (
        code[:80] if isinstance(code, str) else None,
        message[:300] if isinstance(message, str) else None,
    )
