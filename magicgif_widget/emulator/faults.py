"""Fault rules for tests and benchmarks: each matches a route and fires a number of times."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from .jobs import OUTCOMES

ROUTES = ("create", "poll", "download", "upload", "delete", "upload-urls", "account")
KINDS = ("reset", "delay", "truncate", "stall", "expire")
BODY_KINDS = ("truncate", "stall")  # only meaningful where a body is streamed


class FaultError(ValueError):
    """A fault rule is malformed; the message says which key."""


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

    @classmethod
    def parse(cls, data: Any) -> Fault:
        if not isinstance(data, dict):
            raise FaultError("a fault rule is a JSON object")
        unknown = set(data) - {
            "route",
            "times",
            "status",
            "retry_after",
            "kind",
            "seconds",
            "outcome",
        }
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
        if "status" in chosen:
            status = data["status"]
            if not isinstance(status, int) or not 400 <= status <= 599:
                raise FaultError("status must be an HTTP error status (400-599)")
            rule.status = status
            ra = data.get("retry_after")
            if ra is not None and (not isinstance(ra, (int, float)) or ra < 0):
                raise FaultError("retry_after must be a non-negative number")
            rule.retry_after = ra
        elif "kind" in chosen:
            if data["kind"] not in KINDS:
                raise FaultError(f"kind must be one of {', '.join(KINDS)}")
            rule.kind = data["kind"]
            if rule.kind in BODY_KINDS and route != "download":
                raise FaultError(f"kind {rule.kind!r} applies to the download route only")
            if rule.kind == "expire" and route != "download":
                raise FaultError("kind 'expire' applies to the download route only")
            seconds = data.get("seconds", 0.0)
            if not isinstance(seconds, (int, float)) or seconds < 0:
                raise FaultError("seconds must be a non-negative number")
            if rule.kind in ("delay", "stall") and seconds == 0:
                raise FaultError(f"kind {rule.kind!r} needs seconds > 0")
            rule.seconds = float(seconds)
        else:
            if route != "create":
                raise FaultError("outcome applies to the create route only")
            if data["outcome"] not in OUTCOMES[1:]:
                raise FaultError("outcome must be one of error, canceled, never")
            rule.outcome = data["outcome"]
        return rule

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
