"""Batches: many jobs on one loop, bounded, resumable from their ledger, never paying twice.

- ``generator``: ``generate_many`` on ``client.v1.ai_gif_generator`` (async and sync), and
  the ``V1`` faces that carry it.
- ``run``: one run of a batch over its ledger (create, poll an existing job, or report).
- ``results``: what a batch returns and reports (``BatchResults``, ``BatchProgress``).
- ``bar``: the tqdm bar a batch shows.
"""

from __future__ import annotations

from .bar import BatchBar
from .generator import V1, AiGifGenerator, AsyncAiGifGenerator, AsyncV1
from .results import BatchCounts, BatchInterrupted, BatchProgress, BatchResults

__all__ = [
    "V1",
    "AiGifGenerator",
    "AsyncAiGifGenerator",
    "AsyncV1",
    "BatchBar",
    "BatchCounts",
    "BatchInterrupted",
    "BatchProgress",
    "BatchResults",
]
