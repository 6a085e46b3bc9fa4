"""One progress bar for a batch: tqdm's auto flavour (a widget in notebooks, text on a terminal)."""

from __future__ import annotations

import sys
from typing import Any

from .results import BatchProgress

FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"


class BatchBar:
    """Feeds ``BatchProgress`` events to a tqdm bar: finished of total, then the counts."""

    def __init__(self, **tqdm_args: Any) -> None:
        self._args = {
            "unit": "job",
            "desc": "magicgif batch",
            "bar_format": FORMAT,
            "dynamic_ncols": True,
            **tqdm_args,
        }
        self._bar: Any = None

    def __call__(self, progress: BatchProgress) -> None:
        counts = progress.counts
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=counts.total, **self._args)
        bar = self._bar
        postfix = f"{counts.complete} done, {counts.failed} failed"
        if counts.unknown:
            postfix += f", {counts.unknown} unknown"
        postfix += f", {counts.running} running, {counts.cost}"
        if bar.n != counts.finished or getattr(bar, "postfix", None) != postfix:
            bar.n = counts.finished
            bar.set_postfix_str(postfix, refresh=False)
            bar.refresh()

    def write(self, text: str) -> None:
        """Print a line above the bar, to the bar's stream (stderr unless ``file=`` said)."""
        stream = self._args.get("file") or sys.stderr
        if self._bar is None:
            print(text, file=stream, flush=True)
        else:
            self._bar.write(text, file=stream)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
