"""Picking jobs up again from the user's journal: list them, and collect one without a create.

``jobs()`` reads the journal; ``collect(entry)`` waits for the entry's job on the server it was
made against and downloads it, as ``check_result`` does (which records what it collects).
"""

from __future__ import annotations

import os
from typing import Any

from ..client.clients import AsyncClient
from ..client.errors import ValidationError
from ..client.models import ImageProject
from ..client.options import DEFAULT_GENERATE_TIMEOUT
from ..client.settings import Settings
from ..client.workflow import Emit
from .journal import JournalEntry, shared_journal


def jobs(*, pending_only: bool = False, limit: int | None = 50) -> list[JournalEntry]:
    """The journal's entries, newest first; ``pending_only`` keeps the ones worth collecting:
    still running, finished but never downloaded, or unknown."""
    return shared_journal().entries(pending_only=pending_only, limit=limit)


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
