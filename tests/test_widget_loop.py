"""The kernel's loop stays free while the widget prepares a large result (PIL, the disk)."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from pathlib import Path

from PIL import Image

from magicgif_widget import GifWidget
from magicgif_widget.client.models import ImageProject
from magicgif_widget.widget import single_job
from magicgif_widget.widget.media import Result


def _large_gif(path: Path, frames: int = 80, size: int = 600) -> Path:
    """A GIF of noise: hard to compress, slow to thumbnail (tens of MB)."""
    images = [
        Image.frombytes("L", (size, size), os.urandom(size * size)).convert("P")
        for _ in range(frames)
    ]
    images[0].save(path, save_all=True, append_images=images[1:], duration=40, loop=0)
    return path


async def test_the_loop_keeps_ticking_while_a_large_result_is_prepared(tmp_path: Path):
    path = _large_gif(tmp_path / "large.gif")
    result = Result(path, "gif", ImageProject(id="cm-large", status="complete"), "noise")
    started = time.perf_counter()
    single_job.prepare("x", result)  # what the preparation costs when it blocks
    blocking = time.perf_counter() - started
    w = GifWidget(download_directory=tmp_path)
    try:
        ticks: list[float] = []

        async def ticker() -> None:
            while True:
                ticks.append(time.perf_counter())
                await asyncio.sleep(0.005)

        beat = asyncio.create_task(ticker())
        await asyncio.sleep(0.02)
        begun = time.perf_counter()
        await single_job.show(w._jobs.runner, w._jobs.runner.number, result, None)
        ended = time.perf_counter()
        beat.cancel()
        during = [t for t in ticks if begun <= t <= ended]
        gaps = [b - a for a, b in itertools.pairwise(during)]
        # The still was drawn and the traits set: the work was done, not skipped.
        assert w.result is result and w.status == "complete" and w.media["key"]
        assert w._still is not None and "image/png" in w._still
        # On the loop, the ticker would stall for the whole preparation (one gap ≈ blocking).
        assert blocking > 0.2, f"the GIF is too small to test anything ({blocking:.2f} s)"
        assert len(during) >= 10, f"{len(during)} ticks in {ended - begun:.2f} s"
        assert max(gaps) < blocking / 3, f"the loop stalled {max(gaps):.2f} s of {blocking:.2f}"
    finally:
        w.close()
