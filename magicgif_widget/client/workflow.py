"""The generate workflow, create → poll → download, reporting each step as an event.

Everything user-facing (sync and async ``generate``, ``stream``, the widget, the CLI) runs
this one function; nothing else polls or downloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .download import download_all
from .errors import GenerationTimeout, JobCanceledError, JobFailedError, MagicHourError
from .models import Completed, Created, CreateResponse, Event, ImageProject, StatusChanged
from .settings import PollPolicy
from .transport import OnRetry, Transport

log = logging.getLogger("magicgif_widget")

Emit = Callable[[Event], None]
CREATE_GRACE = 2.0  # seconds a canceled workflow still waits for an in-flight create's answer


@dataclass(frozen=True)
class GenerateRequest:
    """Checked arguments of one ``generate`` call."""

    body: dict[str, Any]
    wait: bool
    download: bool
    directory: Path | None
    timeout: float | None
    poll: PollPolicy

    @property
    def output_format(self) -> str:
        return str(self.body.get("output_format") or "gif")


class Api(Protocol):
    """The two calls the workflow needs, and the transport downloads go through."""

    transport: Transport

    async def send_create(self, body: dict[str, Any], on_retry: OnRetry) -> CreateResponse: ...

    async def fetch(self, project_id: str, on_retry: OnRetry) -> ImageProject: ...


class Tracker:
    """Remembers the project id as soon as it is known, for errors and interrupts."""

    def __init__(self, emit: Emit | None) -> None:
        self.project_id: str | None = None
        self._emit = emit

    def __call__(self, event: Event) -> None:
        if isinstance(event, Created):
            self.project_id = event.project_id
        if self._emit is None:
            return
        try:
            self._emit(event)
        except Exception:  # a broken progress callback must not lose the job
            log.exception("progress callback failed on %s event; ignored", event.kind)


async def generate(
    api: Api, request: GenerateRequest, on_event: Emit | None = None
) -> ImageProject:
    """Run the workflow to its end; errors after the create carry the project id."""
    tracker = Tracker(on_event)
    steps = _steps(api, request, tracker)
    try:
        if request.timeout is None:
            return await steps
        try:
            return await asyncio.wait_for(steps, request.timeout)
        except asyncio.TimeoutError:
            where = (
                f"project {tracker.project_id} may still finish on the server"
                if tracker.project_id
                else "no job was created"
            )
            raise GenerationTimeout(
                f"no result within {request.timeout:g} s; {where}", project_id=tracker.project_id
            ) from None
    except MagicHourError as exc:
        if exc.project_id is None:
            exc.project_id = tracker.project_id
        raise
    except asyncio.CancelledError:
        if tracker.project_id:
            log.info("generate canceled; project %s goes on on the server", tracker.project_id)
        raise


async def stream(api: Api, request: GenerateRequest) -> AsyncIterator[Event]:
    """The workflow's events as an async iterator; its error, if any, is raised at the end."""
    queue: asyncio.Queue[Event | None] = asyncio.Queue()
    task = asyncio.ensure_future(generate(api, request, queue.put_nowait))
    task.add_done_callback(lambda _: queue.put_nowait(None))
    try:
        while (event := await queue.get()) is not None:
            yield event
        task.result()
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


async def _steps(api: Api, request: GenerateRequest, emit: Tracker) -> ImageProject:
    created = await _create(api, request, emit)
    started = time.monotonic()
    pid = created.id
    if not request.wait:
        return await api.fetch(pid, emit)
    project = await _poll(api, pid, request.poll, started, emit)
    if project.status == "error":
        err = project.error
        code = err.code if err else "unknown"
        detail = err.message if err else "no message"
        raise JobFailedError(f"job {pid} failed: {code}: {detail}", project=project, code=code)
    if project.status == "canceled":
        raise JobCanceledError(f"job {pid} was canceled on the server", project=project)
    if not project.enabled:
        raise JobCanceledError(f"job {pid} was deleted while running", project=project)
    if request.download and request.directory is not None:
        paths = await download_all(
            api.transport,
            project,
            request.directory,
            emit,
            refresh=lambda: api.fetch(pid, emit),
            fallback_ext=request.output_format,
        )
        project = project.with_paths(paths)
    emit(Completed(project, time.monotonic() - started))
    return project


async def _create(api: Api, request: GenerateRequest, emit: Tracker) -> CreateResponse:
    """Send the create; if canceled meanwhile, wait briefly for its answer to learn the id."""
    task = asyncio.ensure_future(api.send_create(request.body, emit))
    try:
        created = await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            late = await asyncio.wait_for(asyncio.shield(task), CREATE_GRACE)
            emit(Created(late.id, late.credits_charged))
        if not task.done():
            task.cancel()
        raise
    emit(Created(created.id, created.credits_charged))
    return created


async def _poll(
    api: Api, pid: str, policy: PollPolicy, started: float, emit: Tracker
) -> ImageProject:
    """GET until a final status: first after one interval, each wait from the last GET's start."""
    interval = policy.interval
    due = started + interval
    last_status: str | None = None
    while True:
        await _sleep_until(due)
        sent = time.monotonic()
        project = await api.fetch(pid, emit)
        if project.status != last_status:
            last_status = project.status
            emit(StatusChanged(pid, project.status, time.monotonic() - started, project))
        if project.done or not project.enabled:
            return project
        interval = policy.next_interval(interval, sent - started)
        due = sent + interval


async def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
