"""Where the workflow reports a job's life: a ``JobRecords`` the client is given.

The API client records nothing itself; ``magicgif_widget.Client`` passes the job journal
(``jobstore.journaling.Recorder``). ``NO_RECORDS`` is the default: nothing is written.
"""

from __future__ import annotations

from typing import Any, Protocol

from .errors import MagicHourError
from .models import Emit, Event
from .settings import Settings


class JobRecord(Protocol):
    """One job's record: sees its events, and how it ended if it failed."""

    def relay(self, emit: Emit | None) -> Emit: ...

    def failed(self, exc: MagicHourError) -> None: ...


class JobRecords(Protocol):
    """Opens a record for a create about to be sent, or for a job made earlier.

    ``start`` may refuse the create (``SpendLimitError``) before anything is sent.
    """

    def start(
        self, settings: Settings, body: dict[str, Any], directory: str | None, *, enabled: bool
    ) -> JobRecord: ...

    def existing(self, settings: Settings, project_id: str, *, enabled: bool) -> JobRecord: ...


class _Unrecorded:
    def relay(self, emit: Emit | None) -> Emit:
        return emit if emit is not None else _ignore

    def failed(self, exc: MagicHourError) -> None:
        return None


def _ignore(event: Event) -> None:
    return None


class _NoRecords:
    """Writes nothing anywhere."""

    def start(
        self, settings: Settings, body: dict[str, Any], directory: str | None, *, enabled: bool
    ) -> JobRecord:
        return _Unrecorded()

    def existing(self, settings: Settings, project_id: str, *, enabled: bool) -> JobRecord:
        return _Unrecorded()


NO_RECORDS: JobRecords = _NoRecords()
