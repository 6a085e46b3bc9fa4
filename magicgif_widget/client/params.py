"""``generate``'s keywords after ``style``, said once: names and types, defaults, signature.

``GenerateParams`` types ``**params`` on ``generate``, ``stream`` and the layers that forward
them (mypy --strict then rejects a misspelled keyword); ``GENERATE_DEFAULTS`` is what a left-out
keyword means; ``spelled_out`` gives such a method the vendor SDK's explicit signature again for
``inspect.signature``, ``help()`` and a notebook's tooltip.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any, ForwardRef, TypedDict, TypeVar, cast

from .settings import PollPolicy

DEFAULT_GENERATE_TIMEOUT = 900.0  # seconds: create to downloaded file

F = TypeVar("F", bound=Callable[..., Any])


class WaitParams(TypedDict, total=False):
    """How to wait for a job and where its outputs go (``generate``, ``stream``, batches)."""

    wait_for_completion: bool
    download_outputs: bool
    download_directory: str | os.PathLike[str] | None
    timeout: float | None
    poll_interval: float | PollPolicy | None


class GenerateParams(WaitParams, total=False):
    """The keywords ``generate`` and ``stream`` share after ``style``; a left-out one takes
    its value in ``GENERATE_DEFAULTS``."""

    name: str | None
    output_format: str | None


GENERATE_DEFAULTS: GenerateParams = {
    "name": None,
    "output_format": None,
    "wait_for_completion": True,
    "download_outputs": True,
    "download_directory": None,
    "timeout": DEFAULT_GENERATE_TIMEOUT,
    "poll_interval": None,
}


def with_defaults(params: WaitParams | GenerateParams) -> GenerateParams:
    """``params`` over ``GENERATE_DEFAULTS``; an unknown keyword (from an untyped caller)
    raises ``TypeError``, as Python does for a misspelled argument."""
    unknown = sorted(set(params) - set(GENERATE_DEFAULTS))
    if unknown:
        raise TypeError(f"got an unexpected keyword argument {unknown[0]!r}")
    return cast(GenerateParams, {**GENERATE_DEFAULTS, **params})


def spelled_out(function: F) -> F:
    """``function``'s ``**params: Unpack[GenerateParams]`` shown as the keyword-only parameters
    they stand for (with ``GENERATE_DEFAULTS``), placed after its required keywords."""
    signature = inspect.signature(function)
    kept = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    at = next((i for i, p in enumerate(kept) if p.default is not p.empty), len(kept))
    hints = GenerateParams.__annotations__
    spelled = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=_text(hints[name])
        )
        for name, default in GENERATE_DEFAULTS.items()
    ]
    function.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*kept[:at], *spelled, *kept[at:]]
    )
    return function


def _text(hint: object) -> object:
    """An annotation as written (``TypedDict`` keeps postponed ones as ``ForwardRef``)."""
    return hint.__forward_arg__ if isinstance(hint, ForwardRef) else hint


__all__ = [
    "DEFAULT_GENERATE_TIMEOUT",
    "GENERATE_DEFAULTS",
    "GenerateParams",
    "WaitParams",
    "spelled_out",
    "with_defaults",
]
