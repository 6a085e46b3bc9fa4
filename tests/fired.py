"""Checks that an injected emulator fault really fired: a fault test whose fault never met a
request passes for the wrong reason (it tested the happy path twice).

The emulator counts every rule use in ``faults_applied`` (``GET /emulator/stats``) and lists
the rules still live, each with the uses it has left, at ``GET /emulator/faults``.
"""

from __future__ import annotations

from typing import Any

from .conftest import Server
from .loopback import HTTP


def live_rules(server: Server) -> list[dict[str, Any]]:
    """The rules the emulator still holds (a counted rule leaves once its uses are spent)."""
    return list(HTTP.get(f"{server.url}/emulator/faults").json()["faults"])


def assert_fired(server: Server, applied: int) -> None:
    """Exactly ``applied`` rule uses happened, and every counted rule was used up."""
    fired = server.stats()["faults_applied"]
    assert fired == applied, f"{fired} fault uses, expected {applied}"
    left = [rule for rule in live_rules(server) if rule.get("times") is not None]
    assert left == [], f"rules not (fully) used: {left}"


def assert_always_fired(server: Server, route: str) -> int:
    """An always-rule on ``route`` met every request to it (at least one); returns how many."""
    seen = server.requests(route)
    assert seen >= 1, f"no request reached {route}"
    assert_fired(server, seen)
    assert [rule["route"] for rule in live_rules(server)] == [route]
    return seen
