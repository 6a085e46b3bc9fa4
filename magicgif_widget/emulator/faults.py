"""Fault rules for tests and benchmarks: each matches a route and fires a number of times.

A rule is a JSON object (``POST /emulator/faults``, or ``Emulator.add_fault(**rule)``) with a
``route`` (one of ``ROUTES``), ``times`` (default 1; null for always) and exactly one of:

``status``
    Answer that HTTP error instead of serving the request (a create answered so makes no job).
    ``retry_after`` adds a ``Retry-After`` header. The body is the contract's
    ``{"code", "message"}``: ``code`` defaults to the contract's for the status
    (``unprocessable_entity`` for 422, ``insufficient_credits`` for 402, ``rate_limited``
    for 429, ``injected_fault`` for statuses the contract names no code for) and ``message``
    to a sentence naming the route; give either to choose it. ``body`` picks another shape:
    ``"message"`` sends ``{"message": ...}`` alone (the vendor's errors page shows such
    bodies, e.g. ``{"message": "Unauthorized"}``), ``"html"`` a non-JSON page, as a proxy in
    front of the API would.
``kind``
    ``delay`` (``seconds``) or ``reset`` on any route; ``truncate``, ``stall`` (``seconds``)
    or ``expire`` on ``download``.
``outcome``
    On ``create`` only: plan how the next job ends, ``error``, ``canceled`` or ``never``.
    An ``error`` job ends ``status: "error"`` with ``error: {"code", "message"}``; ``code``
    picks the code (any of ``contract.JOB_ERRORS``, e.g. ``content_policy_violation``,
    ``processing_timeout``, ``insufficient_credits``, ``invalid_parameters``, or any other
    string, to stand for a code a client does not know; default ``render_failed``) and
    ``message`` the message. Its credits are refunded, as Magic Hour refunds failed jobs.

Examples::

    {"route": "create", "outcome": "error", "code": "content_policy_violation"}
    {"route": "poll", "status": 401, "body": "message", "message": "Unauthorized"}
    {"route": "poll", "status": 502}
    {"route": "poll", "status": 503, "times": 3}

Every rule that fires adds one to ``faults_applied`` in ``GET /emulator/stats``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ..contract import HTTP_ERROR_CODES, PAYMENT_CODES
from .jobs import OUTCOMES, Plan

ROUTES = ("create", "poll", "download", "upload", "delete", "upload-urls", "account")
KINDS = ("reset", "delay", "truncate", "stall", "expire")
BODY_KINDS = ("truncate", "stall")  # only meaningful where a body is streamed
BODIES = ("full", "message", "html")  # shapes of a ``status`` rule's answer
KEYS = frozenset(
    {
        *("route", "times", "status", "retry_after", "kind", "seconds", "outcome"),
        *("code", "message", "body"),  # choices of a status answer or a failed job
    }
)
CODE_MAX = 80
MESSAGE_MAX = 500


class FaultError(ValueError):
    """A fault rule is malformed; the message says which key."""


def default_code(status: int) -> str:
    """The ``code`` an injected ``status`` answers with when its rule names none."""
    if status in HTTP_ERROR_CODES:
        return HTTP_ERROR_CODES[status][0]
    if status == 402:
        return next(iter(PAYMENT_CODES))  # insufficient_credits
    return "rate_limited" if status == 429 else "injected_fault"


def _text(data: dict[str, Any], key: str, limit: int) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= limit or not value.isprintable():
        raise FaultError(f"{key} must be a printable string of 1 to {limit} characters")
    return value


@dataclass
class Fault:
    """One rule: on ``route``, answer ``status``, apply ``kind``, or plan ``outcome``."""

    route: str
    times: int | None = 1
    status: int | None = None
    retry_after: float | None = None
    kind: str | None = None
    seconds: float = 0.0
    outcome: str | None = None
    code: str | None = None  # a status answer's code, or a failed job's error.code
    message: str | None = None  # a status answer's message, or a failed job's error.message
    body: str | None = None  # a status answer's shape (BODIES); None means "full"

    @classmethod
    def parse(cls, data: Any) -> Fault:
        if not isinstance(data, dict):
            raise FaultError("a fault rule is a JSON object")
        unknown = set(data) - KEYS
        if unknown:
            raise FaultError(f"unknown keys: {', '.join(sorted(unknown))}")
        route = data.get("route")
        if route not in ROUTES:
            raise FaultError(f"route must be one of {', '.join(ROUTES)}")
        times = data.get("times", 1)
        if times is not None and (
            not isinstance(times, int) or isinstance(times, bool) or times < 1
        ):
            raise FaultError("times must be a positive integer, or null for always")
        rule = cls(route=route, times=times)
        chosen = [k for k in ("status", "kind", "outcome") if data.get(k) is not None]
        if len(chosen) != 1:
            raise FaultError("give exactly one of status, kind, outcome")
        rule.code = _text(data, "code", CODE_MAX)
        rule.message = _text(data, "message", MESSAGE_MAX)
        if "status" in chosen:
            rule._parse_status(data)
        elif "kind" in chosen:
            rule._parse_kind(data)
        else:
            rule._parse_outcome(data)
        return rule

    def _parse_status(self, data: dict[str, Any]) -> None:
        status = data["status"]
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
            raise FaultError("status must be an HTTP error status (400-599)")
        self.status = status
        ra = data.get("retry_after")
        if ra is not None and (not isinstance(ra, (int, float)) or isinstance(ra, bool) or ra < 0):
            raise FaultError("retry_after must be a non-negative number")
        self.retry_after = ra
        body = data.get("body")
        if body is not None and body not in BODIES:
            raise FaultError(f"body must be one of {', '.join(BODIES)}")
        self.body = body
        if body in ("message", "html") and self.code is not None:
            raise FaultError(f"body {body!r} carries no code; drop code")
        if body == "html" and self.message is not None:
            raise FaultError("body 'html' carries no message; drop message")

    def _parse_kind(self, data: dict[str, Any]) -> None:
        self._only_with("status or outcome 'error'", "code", "message", "body", data=data)
        kind = data["kind"]
        if kind not in KINDS:
            raise FaultError(f"kind must be one of {', '.join(KINDS)}")
        self.kind = kind
        if kind in BODY_KINDS and self.route != "download":
            raise FaultError(f"kind {kind!r} applies to the download route only")
        if kind == "expire" and self.route != "download":
            raise FaultError("kind 'expire' applies to the download route only")
        seconds = data.get("seconds", 0.0)
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
            raise FaultError("seconds must be a non-negative number")
        if kind in ("delay", "stall") and seconds == 0:
            raise FaultError(f"kind {kind!r} needs seconds > 0")
        self.seconds = float(seconds)

    def _parse_outcome(self, data: dict[str, Any]) -> None:
        if self.route != "create":
            raise FaultError("outcome applies to the create route only")
        if data["outcome"] not in OUTCOMES[1:]:
            raise FaultError("outcome must be one of error, canceled, never")
        self.outcome = data["outcome"]
        self._only_with("status", "body", data=data)
        if self.outcome != "error":
            self._only_with("status or outcome 'error'", "code", "message", data=data)

    @staticmethod
    def _only_with(what: str, *keys: str, data: dict[str, Any]) -> None:
        given = [k for k in keys if data.get(k) is not None]
        if given:
            raise FaultError(f"{', '.join(given)} goes with {what} only")

    def plan(self) -> Plan:
        """How the job this outcome rule plans ends."""
        return Plan(self.outcome or "complete", self.code, self.message)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}


class Faults:
    """The active rules, in the order they were added; a rule is spent after ``times`` uses."""

    def __init__(self) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()
        self.applied = 0

    def add(self, rule: Fault) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.applied = 0

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.to_json() for rule in self._rules]

    def next_plan(self) -> Plan:
        """The next outcome rule's plan (its error code and message too), else completion."""
        planned = self.take("create", outcome=True)
        return planned.plan() if planned is not None else Plan()

    def take(self, route: str, *, outcome: bool = False) -> Fault | None:
        """The first live rule for ``route`` (request faults, or outcome rules), used once."""
        with self._lock:
            for rule in self._rules:
                if rule.route != route or (rule.outcome is not None) != outcome:
                    continue
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times == 0:
                        self._rules.remove(rule)
                self.applied += 1
                return rule
        return None
