"""The earlier jobs' cards: the journal read off the loop, less what this widget runs."""

from __future__ import annotations

import asyncio
import logging
import time

from ..jobstore.journal import JournalError
from . import earlier, journal_reads
from .runner import Runner

log = logging.getLogger("magicgif_widget")


async def read_earlier(runner: Runner, born: float) -> None:
    """Set ``earlier_jobs`` from the journal: jobs journaled before ``born`` that may still
    give files, less this widget's own and the gallery it is running."""
    try:
        entries = await asyncio.to_thread(journal_reads.pending, runner.server)
        groups = await asyncio.to_thread(journal_reads.batches, runner.server)
    except (JournalError, OSError) as exc:
        log.warning("the job journal could not be read (%s); no earlier jobs shown", exc)
        return
    running = {str(runner.gallery_dir)} if runner.gallery_dir and runner.busy() else set()
    exclude = {*runner.own, *running}
    groups = [g for g in groups if g.directory not in running]
    cards = earlier.cards(entries, now=time.time(), before=born, exclude=exclude, batches=groups)
    runner.set({"earlier_jobs": cards})
