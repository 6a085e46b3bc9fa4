"""The generate workflow, create → poll → download, reporting each step as an event.

Everything user-facing (sync and async ``generate``, ``stream``, ``check_result``, the CLI)
runs these functions; nothing else polls or downloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Protocol, TypeVar

from .download import download_all
from .errors import (
    GenerationTimeout,
    MagicHourError,
    SpendLimitError,
)
from .job_errors import JobCanceledError, JobFailedError
from .models import Completed, Created, CreateResponse, Emit, Event, ImageProject, StatusChanged
from .options import GenerateOptions
from .records import JobRecord, JobRecords
from .settings import PollPolicy
from .timing import History, Schedule, backend_key
from .transport import OnRetry, Transport

log = logging.getLogger("magicgif_widget")

T = TypeVar("T")
CREATE_GRACE = 2.0  # seconds a canceled workflow still waits for an in-flight create's answer


class Poller(Protocol):
    """What waiting and downloading need: project reads and the transport."""

    transport: Transport
    records: JobRecords

    async def fetch(self, project_id: str, on_retry: OnRetry | None) -> ImageProject: ...


class Api(Poller, Protocol):
    """``Poller`` plus the create."""

    async def send_create(
        self, body: dict[str, Any], on_retry: OnRetry | None, **options: Any
    ) -> CreateResponse: ...

    async def balance(self) -> int: ...


class Tracker:
    """Forwards events and remembers the project id as soon as it is known."""

    def __init__(self, emit: Emit | None, project_id: str | None = None) -> None:
        self.project_id = project_id
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


async def create(
    api: Api, body: dict[str, Any], on_event: Emit | None, options: dict[str, Any]
) -> CreateResponse:
    """Only the create, guarded like ``generate``'s (Ctrl-C still learns the id)."""
    record = await _start(api, body, None, True)
    tracker = Tracker(record.relay(on_event))
    return await _guard(_create(api, body, tracker, options), tracker, None)


async def generate(
    api: Api, request: GenerateOptions, on_event: Emit | None = None, *, journal: bool = True
) -> ImageProject:
    """Create, wait, download; every error once the job exists carries its id.

    The job's intent, id, statuses and files go to ``api.records`` (the user's job journal,
    in ``magicgif_widget.Client``) unless ``journal`` is False (batches keep their own ledger).
    """
    directory = str(request.directory) if request.directory is not None else None
    record = await _start(api, request.body, directory, journal)
    tracker = Tracker(record.relay(on_event))
    try:
        return await _guard(_generate(api, request, tracker), tracker, request.timeout)
    except MagicHourError as exc:
        record.failed(exc)
        raise


async def _start(api: Api, body: dict[str, Any], directory: str | None, journal: bool) -> JobRecord:
    """The record's intent for a create about to be sent; a job refused by a spend limit is
    told with the account's balance too (read only then), and nothing is sent."""
    try:
        return api.records.start(api.transport.settings, body, directory, enabled=journal)
    except SpendLimitError as exc:
        if exc.limit is None:
            raise
        try:
            balance: int | None = await api.balance()
        except MagicHourError:
            balance = None
        if balance is not None:
            exc.balance = balance
            exc.message = f"{exc.message}; the account has {balance} credits"
            exc.args = (exc.message,)
        raise


async def resume(
    api: Poller,
    project_id: str,
    request: GenerateOptions,
    on_event: Emit | None = None,
    *,
    journal: bool = True,
) -> ImageProject:
    """Wait for and download an existing project (after a timeout, say), as ``generate`` would.

    What it collects goes to ``api.records`` (the journal adds an entry if it has none).
    """
    record = api.records.existing(api.transport.settings, project_id, enabled=journal)
    tracker = Tracker(record.relay(on_event), project_id)
    steps = _finish(api, project_id, request, tracker, time.monotonic(), first_wait=False)
    try:
        return await _guard(steps, tracker, request.timeout)
    except MagicHourError as exc:
        record.failed(exc)
        raise


async def stream(api: Api, request: GenerateOptions) -> AsyncIterator[Event]:
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


async def _guard(steps: Awaitable[T], tracker: Tracker, timeout: float | None) -> T:
    """Apply the deadline, and make sure whatever escapes names the project."""
    try:
        if timeout is None:
            return await steps
        try:
            return await asyncio.wait_for(steps, timeout)
        except asyncio.TimeoutError:
            where = (
                f"project {tracker.project_id} may still finish on the server"
                if tracker.project_id
                else "no project id was received"
            )
            raise GenerationTimeout(
                f"no result within {timeout:g} s; {where}", project_id=tracker.project_id
            ) from None
    except MagicHourError as exc:
        if exc.project_id is None:
            exc.project_id = tracker.project_id
        raise
    except asyncio.CancelledError:
        if tracker.project_id:
            log.info("canceled; project %s goes on on the server", tracker.project_id)
        raise
    except Exception as exc:
        if tracker.project_id is None:
            raise
        log.exception("unexpected error while handling project %s", tracker.project_id)
        raise MagicHourError(
            f"unexpected {type(exc).__name__} while handling the job: {str(exc)[:200]}",
            project_id=tracker.project_id,
        ) from exc


async def _generate(api: Api, request: GenerateOptions, emit: Tracker) -> ImageProject:
    created = await _create(api, request.body, emit, request.request)
    started = time.monotonic()
    if not request.wait:
        return await api.fetch(created.id, emit)
    return await _finish(api, created.id, request, emit, started)


async def _finish(
    api: Poller,
    pid: str,
    request: GenerateOptions,
    emit: Tracker,
    started: float,
    first_wait: bool = True,
) -> ImageProject:
    if not request.wait:
        return await api.fetch(pid, emit)
    project = await _poll(api, pid, request, started, emit, first_wait)
    if project.status == "error":
        raise JobFailedError.from_project(project, redact=api.transport.redact)
    if project.status == "canceled":
        raise JobCanceledError(f"job {pid} was canceled on the server", project=project)
    if not project.enabled:
        raise JobCanceledError(f"job {pid} was deleted", project=project)
    if request.download and request.directory is not None:
        paths = await download_all(
            api.transport,
            project,
            request.directory,
            emit,
            refresh=lambda: api.fetch(pid, emit),
            fallback_ext=request.output_format,
            adopt=request.adopt,
        )
        project = project.with_paths(paths)
    emit(Completed(project, time.monotonic() - started))
    return project


async def _create(
    api: Api, body: dict[str, Any], emit: Tracker, options: dict[str, Any]
) -> CreateResponse:
    """Send the create; if canceled meanwhile, wait briefly for its answer to learn the id."""
    task = asyncio.ensure_future(api.send_create(body, emit, **options))
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
    api: Poller,
    pid: str,
    request: GenerateOptions,
    started: float,
    emit: Tracker,
    first_wait: bool,
) -> ImageProject:
    """GET until a final status, each wait measured from the last GET's start, none after it.

    A fixed policy waits one interval first. The adaptive one asks the learned schedule,
    tells it when the job turned to ``rendering``, and records the job's durations at the
    end (only for a job it saw from its create: a resumed one has no known start).
    """
    settings = api.transport.settings
    policy = request.policy(settings.poll)
    key = backend_key(settings.base_url, settings.sandbox)
    schedule: Schedule | None = None
    if policy.adaptive:
        # The cache is a file under a lock: read and write it off the event loop.
        schedule = await asyncio.to_thread(
            _schedule, key, request.output_format, settings.sandbox, policy
        )
    interval = policy.interval
    first = schedule.next_wait(0.0, None) if schedule is not None else interval
    due = started + first if first_wait else started
    last_status: str | None = None
    previous = 0.0  # seconds since ``started`` of the previous GET
    rendering_since: float | None = None
    pressure = api.transport.pressure
    while True:
        await _sleep_until(due)
        sent = time.monotonic()
        project = await api.fetch(pid, emit)
        elapsed = sent - started
        if project.status != last_status:
            last_status = project.status
            emit(StatusChanged(pid, project.status, time.monotonic() - started, project))
        if project.status == "rendering" and rendering_since is None:
            rendering_since = (previous + elapsed) / 2  # it turned between the two GETs
        if project.done or not project.enabled:
            if schedule is not None and first_wait and project.status == "complete":
                finished = (previous + elapsed) / 2
                render = finished - rendering_since if rendering_since is not None else None
                await asyncio.to_thread(_remember, key, request.output_format, finished, render)
            return project
        previous = elapsed
        if schedule is not None:
            interval = schedule.next_wait(elapsed, rendering_since, interval)
        else:
            interval = policy.next_interval(interval, elapsed)
        due = sent + pressure.widen(interval, policy.limited_wait)


def _schedule(key: str, output_format: str, sandbox: bool, policy: PollPolicy) -> Schedule:
    """The learned schedule, its plans worked out (an unreadable cache means the prior)."""
    schedule = History().schedule(
        key,
        output_format,
        sandbox,
        min_wait=policy.min_wait,
        max_wait=policy.max_wait,
        cost=policy.cost,
        unlikely=policy.unlikely,
    )
    _ = schedule.plans  # the dynamic programme runs here, in the worker thread
    return schedule


def _remember(key: str, output_format: str, total: float, render: float | None) -> None:
    try:
        History().record(key, output_format, total, render)
    except Exception:  # a read-only or full cache directory must not fail the job
        log.debug("could not record job timings", exc_info=True)


async def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
