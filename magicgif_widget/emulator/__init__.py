"""A local, faithful emulator of the Magic Hour API: the tests' server and the offline sandbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .app import Emulator
from .clock import Clock, ManualClock, StepClock, SystemClock
from .sandbox import sandbox_emulator

if TYPE_CHECKING:
    from .server import BackgroundServer

__all__ = [
    "BackgroundServer",
    "Clock",
    "Emulator",
    "ManualClock",
    "StepClock",
    "SystemClock",
    "sandbox_emulator",
]


def __getattr__(name: str) -> object:
    """``BackgroundServer`` imports uvicorn (the ``emulator`` extra) on first use."""
    if name == "BackgroundServer":
        from .server import BackgroundServer

        return BackgroundServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
