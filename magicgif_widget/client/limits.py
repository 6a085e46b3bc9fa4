"""Spend limits: at most ``credits`` in any ``window`` of time, counted from the job journal.

A limit comes from an argument (``Client(spend_limit=...)``, ``GifWidget``, ``generate_many``,
``magicgif --spend-limit``) and from ``MAGICGIF_SPEND_LIMIT``; when both are set both are
enforced, so the lower holds and a limit set for a class cannot be raised from a cell.
Written ``500`` (per day), ``500/day``, ``200/hour``, ``2000/week`` or ``5000/month`` (30 days).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .errors import ValidationError

SPEND_ENV = "MAGICGIF_SPEND_LIMIT"
WINDOWS = {"hour": 3600.0, "day": 86400.0, "week": 7 * 86400.0, "month": 30 * 86400.0}
LONGEST_WINDOW = max(WINDOWS.values())  # the journal keeps every job at least this long


@dataclass(frozen=True)
class SpendLimit:
    """At most ``credits`` credits in any rolling ``per`` (hour, day, week or month)."""

    credits: int
    per: str = "day"

    def __post_init__(self) -> None:
        if isinstance(self.credits, bool) or not isinstance(self.credits, int) or self.credits < 0:
            raise ValidationError(
                "spend_limit", f"must be a whole number of credits >= 0, got {self.credits!r:.40}"
            )
        if self.per not in WINDOWS:
            raise ValidationError(
                "spend_limit",
                f"the window must be one of {', '.join(WINDOWS)}, got {self.per!r:.20}",
            )

    @property
    def window(self) -> float:
        """The window in seconds."""
        return WINDOWS[self.per]

    def describe(self) -> str:
        """``500 credits per day``."""
        return f"{self.credits} credits per {self.per}"

    def __str__(self) -> str:
        return f"{self.credits}/{self.per}"

    @classmethod
    def parse(cls, value: Any, field: str = "spend_limit") -> SpendLimit | None:
        """A limit from an int, a ``SpendLimit``, ``"500"``, ``"500/day"``…; None for None/""."""
        if value is None or isinstance(value, SpendLimit):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(value)
        if not isinstance(value, str):
            raise ValidationError(
                field, f"must be credits (500) or credits per window ('500/day'), got {value!r:.40}"
            )
        text = value.strip().lower()
        if not text:
            return None
        amount, _, per = text.partition("/")
        per = per.strip() or "day"
        if not amount.strip().isdigit():
            raise ValidationError(
                field, f"must be credits (500) or credits per window ('500/day'), got {value!r:.40}"
            )
        if per not in WINDOWS:
            raise ValidationError(
                field, f"the window must be one of {', '.join(WINDOWS)}, got {per!r:.20}"
            )
        return cls(int(amount), per)

    @classmethod
    def from_env(cls) -> SpendLimit | None:
        """``MAGICGIF_SPEND_LIMIT``, or None when unset."""
        return cls.parse(os.environ.get(SPEND_ENV), SPEND_ENV)


def limits_for(value: Any, field: str = "spend_limit") -> tuple[SpendLimit, ...]:
    """The limits a job must keep: the argument's and the environment's (each is enforced,
    so the lower holds and a cell cannot raise the class's limit)."""
    found = (SpendLimit.parse(value, field), SpendLimit.from_env())
    return tuple(dict.fromkeys(limit for limit in found if limit is not None))


def over_limit(total: int, limit: SpendLimit, spent: int, balance: int | None = None) -> str:
    """Why a job or batch costing ``total`` is refused by ``limit`` (``spent`` in its window)."""
    left = max(0, limit.credits - spent)
    text = (
        f"refused before sending anything: this would cost {total} credits, and the spend "
        f"limit is {limit.describe()}, of which {spent} were spent in the last {limit.per} "
        f"({left} left)"
    )
    if balance is not None:
        text += f"; the account has {balance} credits"
    return text


def over_balance(total: int, balance: int, limits: tuple[SpendLimit, ...] = ()) -> str:
    """Why a batch costing ``total`` is refused by the account's ``balance``."""
    text = (
        f"refused before sending anything: this would cost {total} credits and the account "
        f"has {balance}"
    )
    if limits:
        text += "; spend limit " + ", ".join(limit.describe() for limit in limits)
    return text + ". Buy credits, or make fewer GIFs"
