"""Client settings: where requests go, the token (kept secret), timeouts, retry and polling.

The client never draws the sandbox itself: a transport comes in from outside, as httpx takes
``transport=``. ``plug_sandbox`` names the factory the package root installs for the
offline sandbox (the in-process emulator).
"""

from __future__ import annotations

import email.utils
import ipaddress
import os
import random
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from .._version import __version__
from ..contract import BAD_GATEWAY_WAIT, VENDOR_POLL_SECONDS
from .errors import ValidationError
from .limits import SpendLimit, limits_for

DEFAULT_BASE_URL = "https://api.magichour.ai"
SANDBOX_BASE_URL = "http://sandbox.magicgif.invalid"
TOKEN_ENV_VARS = ("MAGIC_HOUR_API_TOKEN", "MAGIC_HOUR_API_KEY", "API_TOKEN")
USER_AGENT = f"magicgif-widget/{__version__}"


class SandboxWarning(UserWarning):
    """Shown once per process when a client runs on the offline sandbox."""


class Secret:
    """A token that never shows itself in a repr, str or f-string."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def redact(self, text: str) -> str:
        """``text`` with the token, raw or escaped as in a repr, replaced by ``***``."""
        if not self._value:
            return text
        for form in {self._value, repr(self._value)[1:-1], repr(self._value.encode())[2:-1]}:
            text = text.replace(form, "***")
        return text

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class PollPolicy:
    """How often to GET a job. ``PollPolicy.adaptive()``, the default, plans its GETs from
    when earlier jobs finished (``client/timing.py``, ``client/poll_plan.py``). A fixed
    policy polls every ``interval`` s and, after ``backoff_after`` s, grows by ``backoff`` up
    to ``max_interval``. Each wait is measured from the previous request's start. After a
    429, every wait is widened and at least ``limited_wait`` (the vendor's 2 s) for a while.
    """

    interval: float = 0.5
    backoff: float = 1.5
    backoff_after: float = 10.0
    max_interval: float = 5.0
    adaptive: bool = False
    min_wait: float = 0.25  # adaptive: the shortest wait, where a finish is likely
    max_wait: float = 10.0  # adaptive: the longest, so a job is seen within this once done
    cost: float = 0.02  # adaptive: seconds of expected delay one GET is worth (bench/NOTES.md)
    unlikely: float = 0.1  # adaptive: below this chance of ending within 2 s, wait >= 2 s
    limited_wait: float = VENDOR_POLL_SECONDS  # any policy: the shortest wait after a 429

    @classmethod
    def adaptive_default(cls) -> PollPolicy:
        """Learned timing: rare GETs while a finish is unlikely, dense ones when it is likely."""
        return cls(adaptive=True)

    def next_interval(self, current: float, elapsed: float) -> float:
        if elapsed < self.backoff_after:
            return self.interval
        return min(self.max_interval, max(current, self.interval) * self.backoff)

    @classmethod
    def from_env(cls) -> PollPolicy:
        """The default: adaptive, unless ``MAGIC_HOUR_POLL_INTERVAL`` (the vendor SDK's
        variable) asks for a fixed interval, as it does for the vendor's SDK."""
        raw = os.environ.get("MAGIC_HOUR_POLL_INTERVAL")
        try:
            value = float(raw) if raw else 0.0
        except ValueError:
            value = 0.0
        return cls(interval=value) if value > 0 else cls.adaptive_default()


@dataclass(frozen=True)
class RetryPolicy:
    """Capped, jittered exponential backoff for transient failures (429, 5xx, network).

    ``Retry-After`` wins when the server sends it. Without it, a 502 (API call, upload or
    download) waits ``bad_gateway_delay`` (Magic Hour's errors page: "retry after 30-60
    seconds"), and 503 ("overloaded") backs off exponentially like the rest.
    """

    attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    bad_gateway_delay: float = BAD_GATEWAY_WAIT

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


TransportFactory = Callable[[], httpx.AsyncBaseTransport]
_sandbox_factory: TransportFactory | None = None


def plug_sandbox(factory: TransportFactory) -> None:
    """Install what ``sandbox=True`` (or no token) talks to when no ``transport=`` is given."""
    global _sandbox_factory
    _sandbox_factory = factory


def sandbox_transport() -> httpx.AsyncBaseTransport:
    """A transport to the plugged-in sandbox; a clear error when none is installed."""
    if _sandbox_factory is None:
        raise ValidationError(
            "sandbox", "no sandbox is installed; pass transport= or a token for the real API"
        )
    return _sandbox_factory()


@dataclass(frozen=True)
class Settings:
    """Everything needed to build a transport; shared by the sync and async clients."""

    base_url: str
    token: Secret | None
    sandbox: bool
    timeout: httpx.Timeout
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    poll: PollPolicy = field(default_factory=PollPolicy.from_env)
    max_download_bytes: int = 2 * 1024**3
    allow_insecure_http: bool = False
    user_agent: str = USER_AGENT
    transport: httpx.AsyncBaseTransport | None = field(default=None, compare=False, repr=False)
    journal: bool = True  # write each job to the user's journal (``client/journal.py``)
    surface: str = "python"  # who made the jobs, as the journal tells it: python, cli, widget
    spend_limits: tuple[SpendLimit, ...] = ()  # each enforced from the journal (limits.py)

    def make_transport(self) -> httpx.AsyncBaseTransport | None:
        """The transport given, else the sandbox's on the sandbox; None means the network."""
        if self.transport is not None:
            return self.transport
        return sandbox_transport() if self.sandbox else None

    def url_allowed(self, url: str) -> bool:
        """True for https, and for http on loopback, on the sandbox, or when opted in."""
        parts = urlsplit(url)
        if parts.scheme == "https":
            return bool(parts.hostname)
        if parts.scheme != "http" or not parts.hostname:
            return False
        return self.sandbox or self.allow_insecure_http or is_loopback(parts.hostname)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def find_token(token: str | None) -> str | None:
    """The token argument, else MAGIC_HOUR_API_TOKEN, MAGIC_HOUR_API_KEY or API_TOKEN."""
    if token is not None and not isinstance(token, str):
        raise ValidationError("token", f"must be a string, got {type(token).__name__}")
    if token and token.strip():
        return _header_safe(token.strip(), "token")
    for name in TOKEN_ENV_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            return _header_safe(value, f"token (from {name})")
    return None


def _header_safe(token: str, field: str) -> str:
    if not all(33 <= ord(ch) < 127 for ch in token):
        raise ValidationError(
            field,
            "contains spaces, control or non-ASCII characters, which an HTTP header cannot "
            "carry; check how it was copied",
        )
    return token


_warned = False


def resolve(
    *,
    token: str | None = None,
    base_url: str | None = None,
    timeout: float | httpx.Timeout | None = 60,
    sandbox: bool | None = None,
    retry: RetryPolicy | None = None,
    poll: PollPolicy | None = None,
    max_download_bytes: int | None = None,
    allow_insecure_http: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
    journal: bool = True,
    spend_limit: Any = None,
    warn_from: int = 1,
) -> Settings:
    """Settings from constructor arguments and the environment; warns once on the sandbox,
    at the line ``warn_from`` frames above the caller of ``resolve``."""
    global _warned
    secret = find_token(token)
    if sandbox is None:
        sandbox = secret is None and base_url is None
    if sandbox and base_url is not None:
        raise ValidationError("base_url", "cannot be combined with sandbox=True")
    url = SANDBOX_BASE_URL if sandbox else (base_url or DEFAULT_BASE_URL)
    if not sandbox:
        _check_base_url(url, allow_insecure_http)
    if sandbox and not _warned:
        _warned = True
        warnings.warn(
            "magicgif-widget is running on its offline SANDBOX: animations are drawn locally, "
            "no credits are used and no AI is involved. To use the real Magic Hour API, set "
            "MAGIC_HOUR_API_TOKEN in the environment or pass Client(token=...).",
            SandboxWarning,
            stacklevel=2 + warn_from,  # the sandbox warning points at the user's line
        )
    settings = Settings(
        base_url=url.rstrip("/"),
        token=Secret(secret) if secret and not sandbox else None,
        sandbox=sandbox,
        timeout=timeout if isinstance(timeout, httpx.Timeout) else _timeout(timeout),
        allow_insecure_http=allow_insecure_http,
    )
    changes: dict[str, Any] = {}
    if journal is not True:
        if not isinstance(journal, bool):
            raise ValidationError("journal", f"must be True or False, got {journal!r:.40}")
        changes["journal"] = journal
    limits = limits_for(spend_limit)
    if limits and not sandbox:  # the sandbox charges nothing: no limit to keep
        if journal is False:
            raise ValidationError(
                "spend_limit",
                "is counted in the job journal, which journal=False turns off; keep the journal",
            )
        changes["spend_limits"] = limits
    if transport is not None:
        if not isinstance(transport, httpx.AsyncBaseTransport):
            raise ValidationError(
                "transport", f"must be an httpx.AsyncBaseTransport, got {type(transport).__name__}"
            )
        changes["transport"] = transport
    if retry is not None:
        changes["retry"] = retry
    if poll is not None:
        changes["poll"] = poll
    if max_download_bytes is not None:
        if max_download_bytes <= 0:
            raise ValidationError("max_download_bytes", "must be positive")
        changes["max_download_bytes"] = max_download_bytes
    if changes:
        settings = replace(settings, **changes)
    return settings


def default_settings(base_url: str | None = None) -> Settings:
    """What ``Client()`` (or ``Client(base_url=...)``) would use: the sandbox when neither a
    token nor a base URL is set."""
    return resolve(base_url=base_url)


def _timeout(seconds: float | None) -> httpx.Timeout:
    if seconds is None:
        return httpx.Timeout(None, connect=30.0)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        raise ValidationError("timeout", f"must be a positive number of seconds, got {seconds!r}")
    return httpx.Timeout(float(seconds), connect=min(float(seconds), 30.0))


def _check_base_url(url: str, allow_insecure_http: bool) -> None:
    if not isinstance(url, str):
        raise ValidationError("base_url", f"must be a string, got {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("base_url", f"must be an http(s) URL with a host, got {url!r}")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback(parts.hostname):
        raise ValidationError(
            "base_url",
            f"plain http to {parts.hostname!r} would send the token unencrypted; use https, "
            "or pass allow_insecure_http=True",
        )
