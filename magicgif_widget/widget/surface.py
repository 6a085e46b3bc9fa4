"""What the widget's jobs read from and set on the widget: its traits, as a protocol, so the
runner depends on this and not on ``GifWidget`` itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ..batching import BatchResults
from .media import Result


class Surface(Protocol):
    """The traits and settings of a ``GifWidget`` that its jobs use (set by name)."""

    progress: float
    progress_curve: list[list[float]]
    status: str
    project_id: str
    notice: str
    sandbox: bool
    render_estimate: float
    media: dict[str, Any]
    history: list[dict[str, Any]]
    gallery: list[dict[str, Any]]
    account: dict[str, Any]
    earlier_jobs: list[dict[str, Any]]
    still_id: str
    download_directory: Path
    gallery_concurrency: int
    timeout: float | None
    result: Result | None
    gallery_results: BatchResults | None

    def observe(self, handler: Callable[..., Any], names: Any = ...) -> None: ...

    def gifs_asked(self) -> int: ...
