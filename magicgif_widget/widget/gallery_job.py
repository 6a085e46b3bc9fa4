"""A gallery: one job per prompt through ``generate_many`` in a new folder with its own
ledger, or a recorded gallery resumed from its folder; cards, a summary, a contact sheet."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ..batching import BatchResults
from ..jobstore.journal import BatchRecord, JobSettings
from ..jobstore.ledger import read_items
from . import gallery_state, stills
from .account_reader import AccountReader
from .preflight import pay_after_preflight
from .request import Request, fresh_folder
from .runner import Runner


async def gallery(
    runner: Runner,
    balance: AccountReader,
    job: int,
    request: Request,
    confirmed: bool,
    recheck: bool,
) -> BatchResults | None:
    """Run ``request``'s prompts as job number ``job``; None when the preflight sent nothing."""
    w = runner.widget

    async def send() -> tuple[BatchResults, Path]:
        directory = runner.gallery_dir = fresh_folder(w.download_directory, "gallery")
        results = await runner.client().v1.ai_gif_generator.generate_many(
            request.items(),
            download_directory=directory,
            concurrency=w.gallery_concurrency,
            output_format=request.output_format,
            timeout=w.timeout,
            progress=False,
            on_event=lambda progress: runner.on_batch(job, progress),
        )
        return results, directory

    done = await pay_after_preflight(
        runner, balance, job, request, send, confirmed=confirmed, recheck=recheck
    )
    if done is None:
        return None
    results, directory = done
    await finish(runner, job, results, directory)
    return results


async def again(runner: Runner, job: int, record: BatchRecord, create: bool) -> BatchResults:
    """A recorded gallery, resumed from its folder's ledger: the same cards, the same end;
    with ``create``, also the items never sent."""
    directory = Path(record.directory)
    try:
        items = await asyncio.to_thread(read_items, directory)
        prompts = [JobSettings.from_request(e.request).prompt for e in items]
        if runner.owns(job):
            runner.set(gallery_state.started(prompts))
        runner.gallery_dir = directory
        results = await runner.client().v1.ai_gif_generator.generate_many(
            resume=directory,
            collect_only=not create,
            concurrency=runner.widget.gallery_concurrency,
            timeout=runner.widget.timeout,
            progress=False,
            on_event=lambda progress: runner.on_batch(job, progress),
        )
    except (asyncio.CancelledError, Exception) as exc:
        runner.stopped(job, exc)
        raise
    await finish(runner, job, results, directory)
    return results


async def finish(runner: Runner, job: int, results: BatchResults, directory: Path) -> None:
    """The cards' end, the summary and the contact sheet (drawn in a thread: PIL)."""
    if not runner.owns(job):
        return
    paths = [Path(p) for p in results.paths]
    still = await asyncio.to_thread(stills.sheet_bundle, runner.widget.still_id, paths)
    if not runner.owns(job):
        return
    runner.widget.gallery_results = results
    runner.set(gallery_state.finished(runner.gallery_state(), results, directory))
    runner.still.show(still)
