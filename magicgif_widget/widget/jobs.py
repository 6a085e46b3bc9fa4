"""The widget's jobs: one at a time, each a task on the kernel's own loop.

Every job has a number; only the newest may change the traits, so a canceled or replaced
job's late events are dropped. The traits change only through the pure mappings in
``run_state``, ``gallery_state``, ``earlier`` and ``account``; this module feeds them events
and sets what they return.

A job is a fresh one (``start``: create, wait, download) or one made earlier and found in the
user's journal (``collect``: wait and download, no create). Beside the jobs, ``refresh`` reads
the journal (off the loop) for earlier jobs and the account for the balance.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import pickup
from ..batching import BatchProgress, BatchResults
from ..client.errors import InsufficientCreditsError, ValidationError
from ..client.models import Created, Event
from ..client.settings import Settings
from ..client.timing import History, backend_key
from ..client.validation import check_name, check_output_format, check_style
from ..clients import AsyncClient
from ..contract import DEFAULT_FORMAT
from ..jobstore.journal import (
    BatchRecord,
    JobSettings,
    JournalEntry,
    JournalError,
    server_for,
    shared_journal,
)
from ..jobstore.ledger import read_items
from . import account, earlier, gallery_state, notices, run_state, stills
from .account import AccountState
from .gallery_state import GalleryState, gallery_prompts
from .media import Changes, MediaStore, Result, referenced
from .run_state import RunState

if TYPE_CHECKING:
    from .gif_widget import GifWidget

log = logging.getLogger("magicgif_widget")


@dataclass(frozen=True)
class Request:
    """A checked job: one prompt (``style``), or a gallery (``prompts``, one job each)."""

    output_format: str
    name: str | None = None
    style: dict[str, Any] | None = None
    prompts: list[str] | None = None

    @property
    def count(self) -> int:
        """How many GIFs the request makes (and pays for)."""
        return len(self.prompts) if self.prompts is not None else 1

    @property
    def settings(self) -> JobSettings:
        """What the journal knows a single job by."""
        return JobSettings(str((self.style or {}).get("prompt", "")), self.name, self.output_format)


def request(prompt: str, name: str, output_format: str, gallery_mode: bool) -> Request:
    """The form's values as a job; bad input raises ValidationError before anything is sent."""
    checked_name = check_name(name.strip() or None)
    fmt = check_output_format(output_format) or DEFAULT_FORMAT
    if gallery_mode:
        return Request(fmt, checked_name, prompts=gallery_prompts(prompt))
    return Request(fmt, checked_name, style=check_style({"prompt": prompt}))


def estimate(settings: Settings, output_format: str) -> float:
    """Expected seconds of rendering, from the poller's model (client/timing.py): what earlier
    jobs of this backend and format took, else the vendor's published median."""
    key = backend_key(settings.base_url, settings.sandbox)
    return round(History().render_estimate(key, output_format, settings.sandbox), 2)


class Jobs:
    """Starts, cancels and closes ``widget``'s jobs, and maps their events to its traits."""

    def __init__(
        self, widget: GifWidget, settings: Settings, media: MediaStore, still: stills.StillOutput
    ) -> None:
        self.widget = widget
        self.settings = settings
        self.number = 0  # the current job's number: older runs may no longer touch the traits
        self.canceled = False
        self.task: Any = None  # the running job's future (asyncio, or concurrent off-loop)
        self._gallery_dir: Path | None = None  # set while a gallery runs
        self._media = media
        self._still = still
        self._loop = _running_loop()
        self._aclient: AsyncClient | None = None
        self._shutdown: Any = None
        self._sent = False  # whether the current job has sent its create (or started a collect)
        self._side: list[Any] = []  # refresh tasks, canceled on close
        self._reads = 0  # account reads started: only the newest may set the trait
        self.server = server_for(settings)
        self.journaled = settings.journal and not settings.sandbox
        self.born = time.time()  # jobs journaled before this are "earlier"
        self.own: set[str] = set()  # ids of the jobs this widget made or is collecting
        self.closed = False
        self.account_state = AccountState(sandbox=settings.sandbox)  # the last balance read
        # The store serves only what the traits can still show.
        widget.observe(self._retain_media, names=["media", "history", "gallery"])

    def busy(self) -> bool:
        return self.task is not None and not self.task.done() and not self.canceled

    def current(self) -> Any:
        """The running task as something the caller's loop can await (or the future itself)."""
        return _awaitable(self.task)

    def start(self, job: Request, *, confirmed: bool = False, recheck: bool = False) -> Any:
        """A fresh job. Unless ``confirmed``, one that repeats a job still running at Magic
        Hour asks first (the ``confirm`` trait) and sends nothing. With ``recheck`` (the last
        balance read could not pay for it) the balance is read again first, and a job it
        still cannot pay for is refused before anything is sent."""
        state = self._begin(job.output_format)
        if job.prompts is not None and not confirmed and self.asks_cost(job.count):
            self._set(run_state.asked(state))  # nothing sent: the answer is a new Generate
            self._set({"confirm": earlier.confirm_cost(job.count, self._credits())})
            return _done()
        self._set(run_state.checking(state) if recheck else run_state.started(state))
        if job.prompts is not None:
            self._set(gallery_state.started(job.prompts))
            self.task = self._spawn(self._gallery(self.number, job, recheck, confirmed))
        else:
            self.task = self._spawn(self._one(self.number, job, confirmed, recheck))
        self.task.add_done_callback(_observe)
        return self.current()

    def asks_cost(self, count: int) -> bool:
        """Whether a gallery of ``count`` GIFs asks before paying (never on the sandbox)."""
        return not self.settings.sandbox and count > earlier.ASK_ABOVE

    def _credits(self) -> int | None:
        credits = self.widget.account.get("credits")
        return credits if isinstance(credits, int) else None

    def collect_gallery(self, record: BatchRecord, *, create: bool = False) -> Any:
        """Collect a batch or gallery made earlier (or canceled here), through its folder:
        every job it made, with no create; with ``create``, also the items never sent."""
        fmt = record.items[0].settings.output_format if record.items else DEFAULT_FORMAT
        state = self._begin(fmt)
        self._sent = True
        self._set({"earlier_jobs": earlier.without(self.widget.earlier_jobs, record.id)})
        self._set({"gallery_mode": True})  # its result is a gallery: cards and a summary
        self._set(run_state.collecting(state, ""))
        self.task = self._spawn(self._gallery_again(self.number, record, create))
        self.task.add_done_callback(_observe)
        self.task.add_done_callback(lambda _task: self._after_job(journal=True))
        return self.current()

    def collect(self, entry: JournalEntry) -> Any:
        """Wait for and download a job made earlier (``entry`` has an id); no create."""
        pid = str(entry.project_id)
        state = self._begin(entry.settings.output_format)
        self.own.add(pid)
        self._sent = True
        self._set({"earlier_jobs": earlier.without(self.widget.earlier_jobs, pid)})
        self._set(run_state.collecting(state, pid))
        self.task = self._spawn(self._collect(self.number, entry))
        self.task.add_done_callback(_observe)
        # Even a collect canceled before it ran: no longer running, its card may come back.
        self.task.add_done_callback(lambda _task: self._collected(pid))
        return self.current()

    def refresh(self, *, journal: bool = True, balance: bool = True) -> Any:
        """Read the journal for earlier jobs and the account for the balance, in the background
        (never on the sandbox); returns an awaitable."""
        if self.closed:
            return _done()
        task = self._spawn(self._refresh(journal, balance))
        task.add_done_callback(_observe)
        self._side = [t for t in self._side if not t.done()] + [task]
        return _awaitable(task)

    def _begin(self, output_format: str) -> RunState:
        """A new job number (older runs may no longer touch the traits) and the state to start
        from, with the poller's model, which has learned every job that ended before."""
        self.number += 1
        self.canceled = False
        self._sent = False
        self._gallery_dir = None
        self._set({"confirm": {}})
        return self._run_state(render_estimate=estimate(self.settings, output_format))

    def cancel(self) -> None:
        """Stop waiting now; the notice says what became of the server-side job."""
        task = self.task
        if task is None or task.done() or self.canceled:
            return
        self.canceled = True
        self._set(run_state.canceled(self._run_state(), self._cancel_notice()))
        _cancel(task)

    def close(self) -> None:
        """Cancel a running job and any refresh, then close the client's connections once
        they have wound down."""
        self.cancel()
        self.closed = True
        side, self._side = self._side, []
        for task in side:
            _cancel(task)
        task, aclient, self._aclient = self.task, self._aclient, None
        loop = self._loop
        if aclient is not None and loop is not None and not loop.is_closed():
            self._shutdown = self._spawn(_close_after([task, *side], aclient))
            self._shutdown.add_done_callback(_observe)

    # -- the two kinds of job --------------------------------------------------------------

    async def _preflight(
        self, job: int, request: Request, *, confirmed: bool = True, recheck: bool = False
    ) -> bool:
        """Before anything is sent: the balance read again when the last read could not pay,
        and the question when a job with these settings still runs. False when nothing is to
        be sent (the traits say why); a balance still short raises InsufficientCreditsError.
        """
        if recheck:
            low = account.shortfall((await self._read_account()).credits, request.count)
            if low is not None:
                refusal = notices.not_enough_credits(low)
                if self._owns(job):
                    self._set(run_state.refused(self._run_state(), refusal))
                    if request.prompts is not None:
                        self._set({"gallery": [], "summary": ""})  # no card will move
                raise InsufficientCreditsError(refusal, code="insufficient_credits")
        if not confirmed and request.prompts is not None:
            earlier_gallery = await self._gallery_like(request)
            if earlier_gallery is not None:  # ask first: a new Generate, or Collect that one
                if self._owns(job):
                    self._set(run_state.asked(self._run_state()))
                    self._set({"gallery": [], "summary": ""})
                    self._set({"confirm": earlier.confirm_gallery(earlier_gallery, time.time())})
                return False
        if not confirmed and request.prompts is None:
            running = await self._running_like(request.settings)
            if running is not None:  # ask first: the answer is a new Generate or a Collect
                if self._owns(job):
                    self._set(run_state.asked(self._run_state()))
                    self._set({"confirm": earlier.confirm(running, time.time())})
                return False
        return True

    async def _one(
        self, job: int, request: Request, confirmed: bool, recheck: bool
    ) -> Result | None:
        w, style, sent = self.widget, request.style or {}, False
        try:
            if not await self._preflight(job, request, confirmed=confirmed, recheck=recheck):
                return None
            self._sent = sent = True
            project = await self._client().v1.ai_gif_generator.generate(
                style=style,
                name=request.name,
                output_format=request.output_format,
                download_directory=w.download_directory,
                timeout=w.timeout,
                on_event=lambda event: self._on_event(job, event),
            )
        except (asyncio.CancelledError, Exception) as exc:
            self._stopped(job, exc)
            raise
        finally:
            if sent:
                self._after_job(journal=False)
        result = Result(path_of(project), request.output_format, project, style["prompt"])
        self._show(job, result, request.name)
        return result

    async def _collect(self, job: int, entry: JournalEntry) -> Result:
        """A job made earlier, through ``pickup.collect``: the same events, the same result."""
        w = self.widget
        try:
            project = await pickup.collect(
                entry,
                download_directory=w.download_directory,
                timeout=w.timeout,
                on_event=lambda event: self._on_event(job, event),
                client=self._client(),
            )
        except (asyncio.CancelledError, Exception) as exc:
            self._stopped(job, exc)
            raise
        path = path_of(project)
        fmt = path.suffix.lstrip(".").lower() or entry.settings.output_format
        result = Result(path, fmt, project, entry.settings.prompt)
        self._show(job, result, entry.settings.name)
        return result

    def _show(self, job: int, result: Result, name: str | None) -> None:
        """A result on disk, fresh or collected: the media, the history, the static output."""
        w = self.widget
        if not self._owns(job):
            return
        w.result = result
        still = stills.result_bundle(w.still_id, result.path, result.prompt)
        size = result.path.stat().st_size
        self._set(run_state.completed(self._run_state(), result, name=name, size=size))
        self._still.show(still)

    async def _running_like(self, settings: JobSettings) -> JournalEntry | None:
        """A journaled job with these settings on this server that Magic Hour says is still
        running (the journal's word alone may be stale: a kernel killed mid-render leaves
        ``rendering`` behind). When the server cannot say, nothing is asked."""
        if not self.journaled:
            return None
        try:
            entry = await asyncio.to_thread(_active_like, self.server, settings)
        except (JournalError, OSError) as exc:
            log.warning("the job journal could not be read (%s); not checking for duplicates", exc)
            return None
        if entry is None or entry.project_id is None:
            return None  # a create in flight has no id to wait for: not asked about
        try:
            project = await self._client().v1.image_projects.get(id=entry.project_id)
        except Exception as exc:  # gone (404), or no answer: do not stand in the way
            log.debug("could not check job %s: %s", entry.project_id, type(exc).__name__)
            return None
        return entry if project.enabled and not project.done else None

    # -- the journal and the account --------------------------------------------------------

    def _collected(self, pid: str) -> None:
        self.own.discard(pid)  # not running any more: offered again if still pending
        self._after_job(journal=True)

    def _after_job(self, *, journal: bool) -> None:
        """A job ended (its credits spent or refunded): read the balance again, and the
        journal too after a collect (a job picked up in vain comes back as a card)."""
        if not self.settings.sandbox:
            self.refresh(journal=journal)

    async def _refresh(self, journal: bool, balance: bool) -> None:
        if journal and self.journaled:
            await self._read_earlier()
        if balance and not self.settings.sandbox:
            await self._read_account()

    async def _read_earlier(self) -> None:
        try:
            entries = await asyncio.to_thread(_pending, self.server)
            groups = await asyncio.to_thread(_batches, self.server)
        except (JournalError, OSError) as exc:
            log.warning("the job journal could not be read (%s); no earlier jobs shown", exc)
            return
        running = {str(self._gallery_dir)} if self._gallery_dir and self.busy() else set()
        exclude = {*self.own, *running}
        groups = [g for g in groups if g.directory not in running]
        cards = earlier.cards(
            entries, now=time.time(), before=self.born, exclude=exclude, batches=groups
        )
        self._set({"earlier_jobs": cards})

    async def _read_account(self) -> AccountState:
        self._reads += 1
        number = self._reads
        try:
            found = await self._client().v1.account.get()
            state = AccountState(credits=found.credits)
        except Exception as exc:
            log.info("the account could not be read (%s)", type(exc).__name__)
            state = AccountState(problem=account.problem(exc))
        if number == self._reads:  # else a newer read is under way
            self.account_state = state
            self._set({"account": account.line(state, self.widget.gifs_asked())})
        return state

    async def _gallery_like(self, request: Request) -> BatchRecord | None:
        """A journaled gallery of this server with exactly these lines and format whose jobs
        are not all collected: a second Generate would pay for them again."""
        if not self.journaled:
            return None
        try:
            groups = await asyncio.to_thread(_batches, self.server)
        except (JournalError, OSError) as exc:
            log.warning("the job journal could not be read (%s); not checking for duplicates", exc)
            return None
        prompts = request.prompts or []
        for record in groups:
            if earlier.same_gallery(record, prompts, request.output_format):
                return record
        return None

    async def _gallery(
        self, job: int, request: Request, recheck: bool, confirmed: bool = False
    ) -> BatchResults | None:
        """One job per prompt through ``generate_many``, in a new folder with its own ledger."""
        w, name = self.widget, request.name
        items = [
            {"prompt": p, **({"name": f"{name} {i + 1}"} if name else {})}
            for i, p in enumerate(request.prompts or [])
        ]
        sent = False
        try:
            if not await self._preflight(job, request, confirmed=confirmed, recheck=recheck):
                return None
            self._sent = sent = True
            directory = self._gallery_dir = _fresh_folder(w.download_directory, "gallery")
            results = await self._client().v1.ai_gif_generator.generate_many(
                items,
                download_directory=directory,
                concurrency=w.gallery_concurrency,
                output_format=request.output_format,
                timeout=w.timeout,
                progress=False,
                on_event=lambda progress: self._on_batch(job, progress),
            )
        except (asyncio.CancelledError, Exception) as exc:
            self._stopped(job, exc)
            raise
        finally:
            if sent:
                self._after_job(journal=False)
        self._gallery_done(job, results, directory)
        return results

    async def _gallery_again(self, job: int, record: BatchRecord, create: bool) -> BatchResults:
        """A recorded gallery, resumed from its folder's ledger: the same cards, the same end."""
        directory = Path(record.directory)
        try:
            items = await asyncio.to_thread(read_items, directory)
            prompts = [JobSettings.from_request(e.request).prompt for e in items]
            if self._owns(job):
                self._set(gallery_state.started(prompts))
            self._gallery_dir = directory
            results = await self._client().v1.ai_gif_generator.generate_many(
                resume=directory,
                collect_only=not create,
                concurrency=self.widget.gallery_concurrency,
                timeout=self.widget.timeout,
                progress=False,
                on_event=lambda progress: self._on_batch(job, progress),
            )
        except (asyncio.CancelledError, Exception) as exc:
            self._stopped(job, exc)
            raise
        self._gallery_done(job, results, directory)
        return results

    def _gallery_done(self, job: int, results: BatchResults, directory: Path) -> None:
        w = self.widget
        if self._owns(job):
            w.gallery_results = results
            still = stills.sheet_bundle(w.still_id, [Path(p) for p in results.paths])
            self._set(gallery_state.finished(self._gallery_state(), results, directory))
            self._still.show(still)

    # -- events to traits -------------------------------------------------------------------

    def _on_event(self, job: int, event: Event) -> None:
        if isinstance(event, Created):
            self.own.add(event.project_id)  # never offered back to this widget as "earlier"
        if job == self.number:  # else a replaced job's late event
            self._set(run_state.on_event(self._run_state(), event))

    def _on_batch(self, job: int, progress: BatchProgress) -> None:
        if self._owns(job):
            self._set(gallery_state.on_batch(self._gallery_state(), progress))

    def _stopped(self, job: int, exc: BaseException) -> None:
        """Run ``job`` ended without a result: say so, unless a newer run owns the traits."""
        if job != self.number or (isinstance(exc, InsufficientCreditsError) and not self._sent):
            return  # a newer run owns the traits, or the refusal already said why
        if isinstance(exc, asyncio.CancelledError):
            self.canceled = True
            self._set(run_state.canceled(self._run_state(), self._cancel_notice()))
            if self._gallery_dir is not None and self.journaled:
                self.refresh(balance=False)  # the canceled gallery comes back as a card
        elif not self.canceled:
            text, token = notices.failure(exc), self.settings.token
            error = token.redact(text) if token is not None else text
            self._set(run_state.failed(self._run_state(), error))

    def _cancel_notice(self) -> str:
        if self._gallery_dir is not None:
            return gallery_state.cancel_notice(self._gallery_state(), self._gallery_dir)
        if not self._sent:
            return notices.CANCELED_BEFORE_SENDING
        return notices.canceled(self.widget.project_id, self.widget.sandbox)

    def _owns(self, job: int) -> bool:
        return job == self.number and not self.canceled

    def _run_state(self, render_estimate: float | None = None) -> RunState:
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
        )

    def _gallery_state(self) -> GalleryState:
        w = self.widget
        return GalleryState(w.gallery, w.progress, w.sandbox, now=time.time())

    def _set(self, changes: Changes | Mapping[str, Any]) -> None:
        """Set the traits a mapping returned, after storing the files they name."""
        if isinstance(changes, Changes):
            self._media.add(changes.files)
            changes = changes.traits
        for name, value in changes.items():
            setattr(self.widget, name, value)

    def _retain_media(self, _change: Any) -> None:
        w = self.widget
        self._media.retain(referenced(w.media, w.history, w.gallery))

    # -- the loop ---------------------------------------------------------------------------

    def _client(self) -> AsyncClient:
        if self._aclient is None:
            self._aclient = AsyncClient.from_settings(self.settings)
        return self._aclient

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` as a task on the kernel's loop (from any thread)."""
        running = _running_loop()
        if self._loop is None or self._loop.is_closed():
            self._loop = running
        if self._loop is None:
            self._loop = _fallback_loop()
        if running is self._loop:
            return self._loop.create_task(coro)
        return asyncio.run_coroutine_threadsafe(coro, self._loop)


def path_of(project: Any) -> Path:
    """The first downloaded file of a finished project."""
    return Path((project.downloaded_paths or [""])[0])


def _pending(server: str) -> list[JournalEntry]:
    """The journal's pending entries of ``server``, newest first (blocking: run off the loop)."""
    return shared_journal().entries(server=server, pending_only=True)


def _batches(server: str) -> list[BatchRecord]:
    """The journal's batches and galleries of ``server`` with jobs to collect (blocking)."""
    return shared_journal().batches(server=server, pending_only=True)


def journal_batch(ref: str) -> BatchRecord | None:
    """The journal's batch or gallery with this id (a short read)."""
    return shared_journal().batch(ref)


def _active_like(server: str, settings: JobSettings) -> JournalEntry | None:
    return shared_journal().active_like(server, settings)


def journal_entry(ref: str) -> JournalEntry | None:
    """The journal's entry for a project id or key (a short read)."""
    return shared_journal().get(ref)


def dismiss(ref: str) -> bool:
    """Mark the entry dismissed in the journal; False when there was none to dismiss."""
    return shared_journal().dismiss(ref)


def uncollectable(entry: JournalEntry | None, ref: str, server: str) -> str | None:
    """Why ``entry`` cannot be collected by a widget talking to ``server``; None if it can."""
    if entry is None:
        return f"no job {ref} in the job journal"
    if entry.server != server:
        return f"job {ref} was made on {entry.server}; this widget talks to {server}"
    if entry.project_id is None:
        if entry.status == "creating":
            return "that job is still being created and has no id yet; try again in a moment"
        return earlier.UNKNOWN_TEXT
    if entry.status in ("error", "canceled", "not_created"):
        return f"job {entry.project_id} ended {entry.status}: there is nothing to collect"
    return None


def _awaitable(task: Any) -> Any:
    """``task`` as something the caller's loop can await (or the future itself)."""
    if isinstance(task, concurrent.futures.Future) and _running_loop() is not None:
        return asyncio.wrap_future(task)
    return task


def _done() -> Any:
    """An awaitable that is already done (with None)."""
    loop = _running_loop()
    future: Any = loop.create_future() if loop is not None else concurrent.futures.Future()
    future.set_result(None)
    return future


def _cancel(task: Any) -> None:
    if task.done():
        return
    if isinstance(task, asyncio.Task) and task.get_loop() is not _running_loop():
        if not task.get_loop().is_closed():
            task.get_loop().call_soon_threadsafe(task.cancel)  # a Task is not thread-safe
    else:
        task.cancel()  # a concurrent future cancels its task on the owning loop


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


_fallback: Any = None


def _fallback_loop() -> asyncio.AbstractEventLoop:
    """Outside a kernel (a plain script) jobs run on one private loop thread."""
    global _fallback
    if _fallback is None:
        from ..client.sync import LoopThread

        _fallback = LoopThread("magicgif-widget")
    return _fallback.loop  # type: ignore[no-any-return]


def _fresh_folder(parent: Path, prefix: str) -> Path:
    """A new, empty folder ``parent/prefix-YYYYmmdd-HHMMSS[-n]`` (never an existing one)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        path = parent / (f"{prefix}-{stamp}" if n == 1 else f"{prefix}-{stamp}-{n}")
        try:
            path.mkdir(parents=True)
        except FileExistsError:
            continue
        except OSError as exc:
            raise ValidationError(
                "download_directory", f"cannot create {path}: {exc.strerror or exc}"
            ) from None
        return path
    raise ValidationError("download_directory", f"no free folder name under {parent}")


def _observe(task: Any) -> None:
    """Mark a task's exception as seen: the widget already shows it."""
    if not task.cancelled():
        task.exception()


async def _close_after(tasks: list[Any], aclient: AsyncClient) -> None:
    """Let a canceled job finish its cancellation (it may be learning its id), then close."""
    for task in tasks:
        if task is not None:
            with contextlib.suppress(BaseException):
                await (
                    asyncio.wrap_future(task)
                    if isinstance(task, concurrent.futures.Future)
                    else task
                )
    await aclient.close()
