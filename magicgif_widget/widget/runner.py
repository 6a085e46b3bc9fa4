"""The current job's number and state, shared by the job kinds: only the newest job may set
the traits, so a canceled or replaced job's late events are dropped.

The traits change only through the pure mappings in ``run_state`` and ``gallery_state``;
the runner feeds them events and sets what they return (after storing the files they name).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from ..batching import BatchProgress
from ..client.errors import InsufficientCreditsError
from ..client.models import Created, Event
from ..client.settings import Settings
from ..clients import AsyncClient
from ..jobstore.journal import server_for
from ..progress import WAITING_STATUSES
from . import gallery_state, notices, run_state, stills
from .gallery_state import GalleryState
from .media import Changes, MediaStore
from .run_state import RunState
from .surface import Surface
from .tasks import KernelLoop, Task


class Reread(Protocol):
    def __call__(self, *, journal: bool, balance: bool = True) -> None: ...


class Runner:
    """The widget, its client and loop, and the job that owns the traits now."""

    def __init__(
        self,
        widget: Surface,
        settings: Settings,
        media: MediaStore,
        still: stills.StillOutput,
        reread: Reread,
    ) -> None:
        self.widget = widget
        self.settings = settings
        self.media = media
        self.still = still
        self.loop = KernelLoop()
        self.number = 0  # the current job's number: older runs may no longer touch the traits
        self.canceled = False
        self.task: Task = None  # the running job's future (asyncio, or concurrent off-loop)
        self.sent = False  # whether the current job has sent its create (or started a collect)
        self.gallery_dir: Path | None = None  # set while a gallery runs
        self.own: set[str] = set()  # ids of the jobs this widget made or is collecting
        self.server = server_for(settings)
        self.journaled = settings.journal and not settings.sandbox
        self.reread = reread  # read the journal and the balance again (after a job)
        self._client: AsyncClient | None = None

    def client(self) -> AsyncClient:
        if self._client is None:
            self._client = AsyncClient.from_settings(self.settings)
        return self._client

    def take_client(self) -> AsyncClient | None:
        """The client, if one was made; the runner makes a new one if asked again."""
        client, self._client = self._client, None
        return client

    def begin(self, render_estimate: float) -> RunState:
        """A new job number (older runs may no longer touch the traits) and the state to
        start from."""
        self.number += 1
        self.canceled = False
        self.sent = False
        self.gallery_dir = None
        self.set({"confirm": {}})
        return self.run_state(render_estimate=render_estimate)

    def busy(self) -> bool:
        return self.task is not None and not self.task.done() and not self.canceled

    def owns(self, job: int) -> bool:
        return job == self.number and not self.canceled

    def set(self, changes: Changes | Mapping[str, Any]) -> None:
        """Set the traits a mapping returned, after storing the files they name."""
        if isinstance(changes, Changes):
            self.media.add(changes.files)
            changes = changes.traits
        for name, value in changes.items():
            setattr(self.widget, name, value)

    def run_state(self, render_estimate: float | None = None) -> RunState:
        w = self.widget
        return RunState(
            progress=w.progress,
            project_id=w.project_id,
            notice=w.notice,
            sandbox=w.sandbox,
            render_estimate=w.render_estimate if render_estimate is None else render_estimate,
            history=w.history,
            canceled=self.canceled,
            now=time.time(),
            waiting=w.status in WAITING_STATUSES and bool(w.progress_curve),
        )

    def gallery_state(self) -> GalleryState:
        w = self.widget
        return GalleryState(w.gallery, w.progress, w.sandbox, now=time.time())

    # -- events to traits -------------------------------------------------------------------

    def on_event(self, job: int, event: Event) -> None:
        if isinstance(event, Created):
            self.own.add(event.project_id)  # never offered back to this widget as "earlier"
        if job == self.number:  # else a replaced job's late event
            self.set(run_state.on_event(self.run_state(), event))

    def on_batch(self, job: int, progress: BatchProgress) -> None:
        if self.owns(job):
            self.set(gallery_state.on_batch(self.gallery_state(), progress))

    def stopped(self, job: int, exc: BaseException) -> None:
        """Run ``job`` ended without a result: say so, unless a newer run owns the traits."""
        if job != self.number or (isinstance(exc, InsufficientCreditsError) and not self.sent):
            return  # a newer run owns the traits, or the refusal already said why
        if isinstance(exc, asyncio.CancelledError):
            self.canceled = True
            self.set(run_state.canceled(self.run_state(), self.cancel_notice()))
            if self.gallery_dir is not None and self.journaled:
                self.reread(journal=True, balance=False)  # the gallery comes back as a card
        elif not self.canceled:
            text, token = notices.failure(exc), self.settings.token
            error = token.redact(text) if token is not None else text
            self.set(run_state.failed(self.run_state(), error))

    def cancel_notice(self) -> str:
        if self.gallery_dir is not None:
            return gallery_state.cancel_notice(self.gallery_state(), self.gallery_dir)
        if not self.sent:
            return notices.CANCELED_BEFORE_SENDING
        return notices.canceled(self.widget.project_id, self.widget.sandbox)
