"""The widget's reads of the job journal (blocking: callers on the loop use a thread), and
why a journaled job cannot be collected here."""

from __future__ import annotations

from ..jobstore.journal import BatchRecord, JobSettings, JournalEntry, shared_journal
from . import earlier


def pending(server: str) -> list[JournalEntry]:
    """The journal's pending entries of ``server``, newest first."""
    return shared_journal().entries(server=server, pending_only=True)


def batches(server: str) -> list[BatchRecord]:
    """The journal's batches and galleries of ``server`` with jobs to collect."""
    return shared_journal().batches(server=server, pending_only=True)


def batch(ref: str) -> BatchRecord | None:
    """The journal's batch or gallery with this id (a short read)."""
    return shared_journal().batch(ref)


def active_like(server: str, settings: JobSettings) -> JournalEntry | None:
    """A journaled job of ``server`` with these settings that may still be running."""
    return shared_journal().active_like(server, settings)


def entry(ref: str) -> JournalEntry | None:
    """The journal's entry for a project id or key (a short read)."""
    return shared_journal().get(ref)


def dismiss(ref: str) -> bool:
    """Mark the entry dismissed in the journal; False when there was none to dismiss."""
    return shared_journal().dismiss(ref)


def uncollectable(found: JournalEntry | None, ref: str, server: str) -> str | None:
    """Why ``found`` cannot be collected by a widget talking to ``server``; None if it can."""
    if found is None:
        return f"no job {ref} in the job journal"
    if found.server != server:
        return f"job {ref} was made on {found.server}; this widget talks to {server}"
    if found.project_id is None:
        if found.status == "creating":
            return "that job is still being created and has no id yet; try again in a moment"
        return earlier.UNKNOWN_TEXT
    if found.status in ("error", "canceled", "not_created"):
        return f"job {found.project_id} ended {found.status}: there is nothing to collect"
    return None
