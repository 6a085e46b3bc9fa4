"""What a job tells the user's journal: the intent before the create, the id the moment it
arrives, each status, and where the files went. A journal that cannot be written never fails
the job; it is logged and skipped. Sandbox jobs are not journaled: they cost nothing and live
only as long as their process.
"""

from __future__ import annotations

import logging
from typing import Any

from ..client.errors import (
    CreateOutcomeUnknown,
    GenerationInterrupted,
    MagicHourError,
    SpendLimitError,
)
from ..client.models import Completed, Created, Emit, Event, StatusChanged
from ..client.settings import Settings
from .journal import Journal, JournalError, server_for, shared_journal

log = logging.getLogger("magicgif_widget")


class Recorder:
    """Writes one job's life to the journal; every write is best effort."""

    def __init__(self, journal: Journal | None, project_id: str | None = None) -> None:
        self._journal = journal
        self._key: str | None = None
        self._charged: int | None = None
        self.project_id = project_id

    @classmethod
    def start(
        cls,
        settings: Settings,
        body: dict[str, Any],
        directory: str | None,
        *,
        enabled: bool = True,
    ) -> Recorder:
        """Record the intent of a create about to be sent (before it is sent).

        Under a spend limit the intent is where the limit is kept, so it is not best effort:
        ``SpendLimitError`` when this job would pass a limit, or the journal cannot be used.
        """
        journaled = enabled and _journaled(settings)
        limits = settings.spend_limits if journaled else ()
        recorder = cls(_open(required=bool(limits)) if journaled else None)
        if not limits:
            recorder._key = recorder._write(
                "intent", server_for(settings), body, settings.surface, directory=directory
            )
            return recorder
        journal = recorder._journal
        assert journal is not None  # _open(required=True) raised otherwise
        try:
            recorder._key = journal.intent(
                server_for(settings),
                body,
                settings.surface,  # type: ignore[arg-type]
                directory=directory,
                limits=limits,
            )
        except JournalError as exc:
            raise SpendLimitError(
                f"refused before sending anything: the spend limit is counted in the job "
                f"journal, which cannot be written ({exc})"
            ) from None
        return recorder

    @classmethod
    def existing(cls, settings: Settings, project_id: str, *, enabled: bool = True) -> Recorder:
        """For a job made earlier (``check_result``): its entry is adopted or added."""
        recorder = cls(_open() if enabled and _journaled(settings) else None, project_id)
        recorder._write("adopt", server_for(settings), project_id, settings.surface)
        return recorder

    def relay(self, emit: Emit | None) -> Emit:
        """``emit`` with each event written to the journal first."""

        def relay(event: Event) -> None:
            self.saw(event)
            if emit is not None:
                emit(event)

        return relay

    def saw(self, event: Event) -> None:
        if isinstance(event, Created):
            self.project_id = event.project_id
            self._charged = event.credits_charged
            if self._key is not None:
                self._write("created", self._key, event.project_id, event.credits_charged)
        elif isinstance(event, StatusChanged) and event.status != "complete":
            self._write("seen", event.project_id, event.status)
        elif isinstance(event, Completed):
            project = event.project
            paths = list(project.downloaded_paths or [])
            self._write("seen", project.id, project.status, credits=project.credits_charged)
            if paths:
                self._write("collected", project.id, paths)

    def failed(self, exc: MagicHourError) -> None:
        """Record how the run ended: a refused create, a lost answer, or a failed job."""
        if self.project_id is None:
            if self._key is None or isinstance(exc, GenerationInterrupted):
                return
            if isinstance(exc, CreateOutcomeUnknown):
                self._write("lost", self._key)
            elif exc.status_code is not None and exc.status_code < 500:
                self._write("not_created", self._key, exc.code)
            return
        project = getattr(exc, "project", None)
        if project is None:
            return  # timeouts, network errors: the job goes on; its entry stays pending
        code = project.error.code if project.error else None
        refunded = (self._charged or 0) > 0 and project.credits_charged == 0
        self._write(
            "seen",
            self.project_id,
            project.status,
            error_code=code,
            credits=None if refunded else project.credits_charged,
            refunded=self._charged if refunded else None,
        )

    def _write(self, method: str, *args: Any, default: Any = None, **kwargs: Any) -> Any:
        if self._journal is None:
            return default
        try:
            return getattr(self._journal, method)(*args, **kwargs)
        except (JournalError, OSError) as exc:
            log.warning("the job journal could not be written (%s); the job goes on", exc)
            return default


def _journaled(settings: Settings) -> bool:
    return settings.journal and not settings.sandbox


def _open(*, required: bool = False) -> Journal | None:
    try:
        return shared_journal()
    except (JournalError, OSError) as exc:
        if required:
            raise SpendLimitError(
                f"refused before sending anything: the spend limit is counted in the job "
                f"journal, which cannot be opened ({exc})"
            ) from None
        log.warning("the job journal cannot be opened (%s); jobs are not journaled", exc)
        return None
