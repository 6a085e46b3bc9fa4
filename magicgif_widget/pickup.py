"""Picking jobs up again from the user's journal: list them, and collect one without a create.

``jobs()`` reads the journal; ``collect(entry)`` waits for the entry's job on the server it was
made against and downloads it, as ``check_result`` does (which records what it collects).
``batches()`` lists batches and galleries; ``collect_batch(record)`` collects a batch's jobs
through its own folder's ledger (``generate_many(resume=..., collect_only=True)``), so the
folder and the journal stay one record. None of them creates a job.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .batching import BatchCounts, BatchResults
from .client.errors import MagicHourError, ValidationError
from .client.models import Emit, ImageProject
from .client.options import DEFAULT_GENERATE_TIMEOUT
from .client.settings import Settings
from .clients import AsyncClient
from .jobstore.journal import BatchRecord, JournalEntry, shared_journal
from .jobstore.ledger import LEDGER_NAME


def jobs(*, pending_only: bool = False, limit: int | None = 50) -> list[JournalEntry]:
    """The journal's entries, newest first; ``pending_only`` keeps the ones worth collecting:
    still running, finished but never downloaded, or unknown."""
    return shared_journal().entries(pending_only=pending_only, limit=limit)


def batches(*, pending_only: bool = False) -> list[BatchRecord]:
    """The journal's batches and galleries, newest first, each with its items' entries."""
    return shared_journal().batches(pending_only=pending_only)


def collectable(entry: JournalEntry) -> bool:
    """True when the entry names a job that may still give files: an id, not failed or
    dismissed, not already on disk."""
    if entry.project_id is None or entry.dismissed or entry.status in ("error", "canceled"):
        return False
    return not entry.files_exist()


def client_settings(entry: JournalEntry, base: Settings | None = None) -> dict[str, Any]:
    """Arguments for a client of the entry's server (the token comes from the environment)."""
    if entry.server == "sandbox":
        raise ValidationError(
            "id", "sandbox jobs live only as long as the process that made them; make it again"
        )
    return {"base_url": entry.server}


async def collect(
    entry: JournalEntry,
    *,
    download_directory: str | os.PathLike[str] | None = None,
    timeout: float | None = DEFAULT_GENERATE_TIMEOUT,
    on_event: Emit | None = None,
    client: AsyncClient | None = None,
) -> ImageProject:
    """Wait for the entry's job and download it (into its own directory unless told), with
    no create; the journal records the files."""
    if entry.project_id is None:
        raise ValidationError(
            "id",
            "this job's create was sent but its answer was lost, so its id is unknown; "
            "look for it in your Magic Hour library",
        )
    directory = download_directory or entry.directory or "."
    own = client is None
    active = client or AsyncClient(**client_settings(entry))
    try:
        return await active.v1.image_projects.check_result(
            entry.project_id,
            download_directory=directory,
            timeout=timeout,
            on_event=on_event,
        )
    finally:
        if own:
            await active.close()


def batch_collectable(record: BatchRecord) -> bool:
    """True when the batch has an item whose job may still give files."""
    return record.dismissed_at is None and any(collectable(e) for e in record.items)


async def collect_batch(
    record: BatchRecord,
    *,
    timeout: float | None = DEFAULT_GENERATE_TIMEOUT,
    on_event: Any = None,
    client: AsyncClient | None = None,
) -> BatchResults:
    """Collect every job of a batch or gallery that exists, into its folder, with no create:
    through the folder's ledger when it is there, else job by job from the journal."""
    if record.server == "sandbox":
        raise ValidationError("batch", "sandbox batches live only as long as their process")
    own = client is None
    active = client or AsyncClient(base_url=record.server)
    try:
        if os.path.isfile(os.path.join(record.directory, LEDGER_NAME)):
            return await active.v1.ai_gif_generator.generate_many(
                resume=record.directory,
                collect_only=True,
                timeout=timeout,
                progress=False,
                on_event=on_event,
            )
        os.makedirs(record.directory, exist_ok=True)  # the folder went: its journal entries
        results: list[ImageProject | MagicHourError] = []
        for entry in (e for e in record.items if collectable(e)):
            try:
                results.append(
                    await collect(
                        entry, download_directory=record.directory, timeout=timeout, client=active
                    )
                )
            except MagicHourError as exc:
                results.append(exc)
        done = sum(isinstance(r, ImageProject) for r in results)
        counts = BatchCounts(total=len(results), complete=done, failed=len(results) - done)
        return BatchResults(results, counts, Path(record.directory) / LEDGER_NAME)
    finally:
        if own:
            await active.close()
