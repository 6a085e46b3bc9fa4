"""Before a Generate pays: the balance read again when the last read could not pay, and the
question when the journal and the server say the same job (or gallery) is still running."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..client.errors import InsufficientCreditsError
from ..jobstore.journal import BatchRecord, JobSettings, JournalEntry, JournalError
from . import account, earlier, journal_reads, notices, run_state
from .account_reader import AccountReader
from .request import Request
from .runner import Runner

log = logging.getLogger("magicgif_widget")
T = TypeVar("T")


async def preflight(
    runner: Runner,
    balance: AccountReader,
    job: int,
    request: Request,
    *,
    confirmed: bool = True,
    recheck: bool = False,
) -> bool:
    """False when nothing is to be sent (the traits say why); a balance still short raises
    InsufficientCreditsError."""
    if recheck:
        low = account.shortfall((await balance.read()).credits, request.count)
        if low is not None:
            refusal = notices.not_enough_credits(low)
            if runner.owns(job):
                runner.set(run_state.refused(runner.run_state(), refusal))
                if request.prompts is not None:
                    runner.set({"gallery": [], "summary": ""})  # no card will move
            raise InsufficientCreditsError(refusal, code="insufficient_credits")
    if not confirmed and request.prompts is not None:
        earlier_gallery = await gallery_like(runner, request)
        if earlier_gallery is not None:  # ask first: a new Generate, or Collect that one
            if runner.owns(job):
                runner.set(run_state.asked(runner.run_state()))
                runner.set({"gallery": [], "summary": ""})
                runner.set({"confirm": earlier.confirm_gallery(earlier_gallery, time.time())})
            return False
    if not confirmed and request.prompts is None:
        running = await running_like(runner, request.settings)
        if running is not None:  # ask first: the answer is a new Generate or a Collect
            if runner.owns(job):
                runner.set(run_state.asked(runner.run_state()))
                runner.set({"confirm": earlier.confirm(running, time.time())})
            return False
    return True


async def pay_after_preflight(
    runner: Runner,
    balance: AccountReader,
    job: int,
    request: Request,
    send: Callable[[], Awaitable[T]],
    *,
    confirmed: bool,
    recheck: bool,
) -> T | None:
    """``send()`` once the preflight lets it (None when it does not); an error or a cancel is
    shown through ``runner.stopped``, and once sent the balance is read again."""
    sent = False
    try:
        if not await preflight(runner, balance, job, request, confirmed=confirmed, recheck=recheck):
            return None
        runner.sent = sent = True
        return await send()
    except (asyncio.CancelledError, Exception) as exc:
        runner.stopped(job, exc)
        raise
    finally:
        if sent:
            runner.reread(journal=False)  # credits spent or refunded


async def running_like(runner: Runner, settings: JobSettings) -> JournalEntry | None:
    """A journaled job with these settings on this server that Magic Hour says is still
    running (the journal's word alone may be stale: a kernel killed mid-render leaves
    ``rendering`` behind). When the server cannot say, nothing is asked."""
    if not runner.journaled:
        return None
    try:
        entry = await asyncio.to_thread(journal_reads.active_like, runner.server, settings)
    except (JournalError, OSError) as exc:
        log.warning("the job journal could not be read (%s); not checking for duplicates", exc)
        return None
    if entry is None or entry.project_id is None:
        return None  # a create in flight has no id to wait for: not asked about
    try:
        project = await runner.client().v1.image_projects.get(id=entry.project_id)
    except Exception as exc:  # gone (404), or no answer: do not stand in the way
        log.debug("could not check job %s: %s", entry.project_id, type(exc).__name__)
        return None
    return entry if project.enabled and not project.done else None


async def gallery_like(runner: Runner, request: Request) -> BatchRecord | None:
    """A journaled gallery of this server with exactly these lines and format whose jobs are
    not all collected: a second Generate would pay for them again."""
    if not runner.journaled:
        return None
    try:
        groups = await asyncio.to_thread(journal_reads.batches, runner.server)
    except (JournalError, OSError) as exc:
        log.warning("the job journal could not be read (%s); not checking for duplicates", exc)
        return None
    prompts = request.prompts or []
    for record in groups:
        if earlier.same_gallery(record, prompts, request.output_format):
            return record
    return None
