"""What a job costs and what is left: the account line, as a pure function of what is known.

The widget reads ``client.v1.account.get()`` when it is made and after each job, and sets
``account`` to what ``line`` returns; Generate refuses before anything is sent when
``shortfall`` says the balance cannot pay (``contract.CREDITS_PER_GIF`` per GIF).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..client import errors
from ..contract import CREDITS_PER_GIF

REJECTED = "rejected"  # the account read answered 401
SANDBOX_TEXT = (
    "Sandbox: no API token is set, so animations are drawn locally (no AI) and no credits "
    "are used. Set MAGIC_HOUR_API_TOKEN to use Magic Hour."
)


@dataclass(frozen=True)
class AccountState:
    """What the widget knows of the account: its balance, or why it could not be read
    (neither: the first read is under way)."""

    sandbox: bool = False
    credits: int | None = None
    problem: str | None = None  # REJECTED, or a few words on why the read failed


def cost_text(count: int = 1) -> str:
    """ "a GIF costs 50", or "3 GIFs cost 150"."""
    if count == 1:
        return f"a GIF costs {CREDITS_PER_GIF}"
    return f"{count} GIFs cost {count * CREDITS_PER_GIF}"


def shortfall(credits: int | None, count: int = 1) -> str | None:
    """The sentence refusing a job of ``count`` GIFs the balance cannot pay; None if it can
    (or the balance is unknown: a failed read never blocks Generate)."""
    if credits is None or credits >= count * CREDITS_PER_GIF:
        return None
    return f"Not enough credits: {credits:,} left, {cost_text(count)}"


def line(state: AccountState, count: int = 1) -> dict[str, Any]:
    """The ``account`` trait: ``state`` (sandbox, reading, ok, low, failed, rejected), the
    balance when known, the cost of one GIF, and the sentence shown; with ``count`` > 1 (a
    gallery) the sentence gives the gallery's total, before anything is sent."""
    base: dict[str, Any] = {"credits": None, "cost": CREDITS_PER_GIF}
    per_gif = f"{CREDITS_PER_GIF} credits per GIF"
    if count > 1:
        per_gif = f"This gallery: {count} GIFs cost {count * CREDITS_PER_GIF:,} credits"
    if state.sandbox:
        return {**base, "cost": 0, "state": "sandbox", "text": SANDBOX_TEXT}
    if state.problem == REJECTED:
        text = "The API token was rejected when reading the balance; check MAGIC_HOUR_API_TOKEN"
        return {**base, "state": "rejected", "text": text}
    if state.problem:
        text = f"{per_gif} · the balance could not be read ({state.problem})"
        return {**base, "state": "failed", "text": text}
    if state.credits is None:
        return {**base, "state": "reading", "text": f"{per_gif} · reading your balance…"}
    low = shortfall(state.credits, max(1, count))
    if low is not None:
        return {**base, "credits": state.credits, "state": "low", "text": low}
    text = f"{per_gif} · {state.credits:,} credits left"
    return {**base, "credits": state.credits, "state": "ok", "text": text}


def problem(exc: BaseException) -> str:
    """Why an account read failed, in a few words (never the server's text, never a token)."""
    if isinstance(exc, errors.AuthenticationError):
        return REJECTED
    if isinstance(exc, errors.NetworkError):
        return "network problem"
    if isinstance(exc, errors.RateLimitError):
        return "rate limited"
    if isinstance(exc, errors.ServerError):
        return "Magic Hour had a server error"
    if isinstance(exc, errors.APIStatusError):
        return f"HTTP {exc.status_code}" if exc.status_code else "refused"
    if isinstance(exc, errors.InvalidResponseError):
        return "an unexpected answer"
    return "an unexpected error"
