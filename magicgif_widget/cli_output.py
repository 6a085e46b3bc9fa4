"""What ``magicgif generate`` and ``magicgif batch`` show on stderr: a tqdm bar on a terminal,
plain lines otherwise (a log gets no carriage returns)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any, TextIO

from .batching.results import BatchProgress
from .client.errors import MagicHourError
from .client.models import Completed, Created, DownloadProgress, Event, Retrying, StatusChanged
from .progress import DEFAULT_ESTIMATE, WAITING_STATUSES, fraction

SANDBOX_NOTE = (
    "magicgif: running on the offline SANDBOX (no API token set): the animation is drawn "
    "locally, no AI, no credits. Set MAGIC_HOUR_API_TOKEN to use Magic Hour."
)
# The status is padded to the longest ("downloading") so the bar keeps its width.
FORMAT = "magicgif: {percentage:3.0f}%|{bar}| {desc:<11} [{elapsed}]"
TICK = 0.2  # seconds between redraws while the API reports nothing


class Progress:
    """One job's progress: a tqdm bar (percent, status, elapsed) on a terminal, else one line
    per status. It fills as the widget's does (progress.py): by time from the create while
    the job waits (each status fills from its band's start), then by bytes; notes (the job's id,
    retries) go above the bar."""

    def __init__(self, stream: TextIO, estimate: float = DEFAULT_ESTIMATE) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.estimate = estimate  # expected seconds of rendering
        self.started = time.monotonic()
        self.status = "creating"
        self.fraction = fraction("creating")
        self._since = self.started
        self._bar: Any = None
        self._shown: tuple[int, str, int] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if self.tty:
            from tqdm.std import tqdm

            self._bar = tqdm(
                total=100,
                desc=self.status,
                file=self.stream,
                bar_format=FORMAT,
                leave=True,
                **sizing(self.stream),
            )
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the clock and leave the bar's last state on its own line."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            self._close()

    def _tick(self) -> None:
        """Keep the bar alive while the API reports nothing: rendering moves on time."""
        while not self._stop.wait(TICK):
            with self._lock:
                if self.status in WAITING_STATUSES:
                    elapsed = time.monotonic() - self._since
                    now = fraction(self.status, elapsed=elapsed, estimate=self.estimate)
                    self.fraction = max(self.fraction, now)
                self._draw()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._handle(event)

    def _handle(self, event: Event) -> None:
        if isinstance(event, Created):
            self._set("queued", f"job {event.project_id} created")
        elif isinstance(event, StatusChanged):
            self._set("downloading" if event.status == "complete" else event.status)
        elif isinstance(event, Retrying):
            self._note(f"{event.operation}: {event.reason}; retrying in {event.delay:.1f}s")
        elif isinstance(event, DownloadProgress):
            self._set("downloading", received=event.received, total=event.total)
        elif isinstance(event, Completed):
            self._set("complete")
            self._close()

    def _set(
        self, status: str, note: str | None = None, *, received: int = 0, total: int | None = None
    ) -> None:
        changed = status != self.status
        if changed and not (status in WAITING_STATUSES and self.status in WAITING_STATUSES):
            self._since = time.monotonic()  # the wait (queued, rendering) runs one clock
        elapsed = time.monotonic() - self._since
        now = fraction(
            status, elapsed=elapsed, estimate=self.estimate, received=received, total=total
        )
        self.status, self.fraction = status, max(self.fraction, now)
        if note:
            self._note(note)
        if self.tty:
            self._draw()
        elif changed:
            self.stream.write(f"magicgif: {status} ({time.monotonic() - self.started:.1f}s)\n")

    def _draw(self) -> None:
        """Redraw the bar when its fill, its status or its clock's second moved."""
        bar = self._bar
        if bar is None or bar.disable:
            return
        shown = (int(1000 * self.fraction), self.status, int(bar.format_dict["elapsed"]))
        if shown == self._shown:
            return
        self._shown = shown
        bar.n = 100 * self.fraction
        bar.set_description_str(self.status, refresh=False)
        bar.refresh()

    def _note(self, text: str) -> None:
        line = f"magicgif: {text}"
        if self._bar is not None and not self._bar.disable:
            self._bar.write(line, file=self.stream)
        else:
            self.stream.write(line + "\n")

    def _close(self) -> None:
        if self._bar is not None and not self._bar.disable:
            self._draw()
            self._bar.close()


def sizing(stream: TextIO) -> dict[str, Any]:
    """tqdm's size arguments for a bar on ``stream``: follow a resized window, or claim two
    rows where the terminal reports none (tqdm draws nothing on a terminal of 0 rows)."""
    sized = _rows(stream) > 0
    return {"dynamic_ncols": sized, "nrows": None if sized else 2}


def _rows(stream: TextIO) -> int:
    """The terminal's height in rows; 0 when it reports none (a pseudo-terminal never sized)."""
    try:
        return os.get_terminal_size(stream.fileno()).lines
    except (AttributeError, OSError, ValueError):
        return 0


class BatchLines:
    """Batch progress on a terminal (one bar), or one line per finished item otherwise; the
    cost of the creates is said once, before any is sent."""

    def __init__(self, stream: TextIO, lines: list[int] | None) -> None:
        from .batching import BatchBar

        self.stream = stream
        self.lines = lines
        self.bar = BatchBar(file=stream, **sizing(stream)) if stream.isatty() else None
        self._told = False

    def __call__(self, progress: BatchProgress) -> None:
        if not self._told:
            self._told = True
            counts = progress.counts
            self._write(f"magicgif: batch of {counts.total}: {counts.planned_cost}")
        if self.bar is not None:
            self.bar(progress)
        if progress.result is None or progress.index is None:
            return
        where = self._where(progress.index)
        result = progress.result
        if isinstance(result, MagicHourError):
            self._write(f"magicgif: {where}: {type(result).__name__}: {result}")
        elif self.bar is None:
            counts = progress.counts
            paths = ", ".join(result.downloaded_paths or [])
            self._write(f"magicgif: [{counts.finished}/{counts.total}] {where}: {paths}")

    def _where(self, index: int) -> str:
        if self.lines is not None and index < len(self.lines):
            return f"line {self.lines[index]}"
        return f"item {index + 1}"

    def _write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
