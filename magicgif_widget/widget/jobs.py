"""The widget's jobs: one at a time, each a task on the kernel's own loop.

Every job has a number; only the newest may change the traits, so a canceled or replaced
job's late events are dropped. The traits change only through the pure mappings in
``run_state`` and ``gallery_state``; this module feeds them events and sets what they return.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..client import AsyncClient
from ..client.batch import BatchProgress, BatchResults
from ..client.errors import ValidationError
from ..client.models import Event
from ..client.settings import Settings
from ..client.timing import History, backend_key
from ..client.validation import check_name, check_output_format, check_style
from ..contract import DEFAULT_FORMAT
from . import gallery_state, notices, run_state, stills
from .gallery_state import GalleryState, gallery_prompts
from .media import Changes, MediaStore, Result, referenced
from .run_state import RunState

if TYPE_CHECKING:
    from .gif_widget import GifWidget


@dataclass(frozen=True)
class Request:
    """A checked job: one prompt (``style``), or a gallery (``prompts``, one job each)."""

    output_format: str
    name: str | None = None
    style: dict[str, Any] | None = None
    prompts: list[str] | None = None


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
        # The store serves only what the traits can still show.
        widget.observe(self._retain_media, names=["media", "history", "gallery"])

    def busy(self) -> bool:
        return self.task is not None and not self.task.done() and not self.canceled

    def current(self) -> Any:
        """The running task as something the caller's loop can await (or the future itself)."""
        if isinstance(self.task, concurrent.futures.Future) and _running_loop() is not None:
            return asyncio.wrap_future(self.task)
        return self.task

    def start(self, job: Request) -> Any:
        self.number += 1
        self.canceled = False
        self._gallery_dir = None
        fmt = job.output_format
        # The poller's model, which has learned every job that ended before this one.
        state = self._run_state(render_estimate=estimate(self.settings, fmt))
        self._set(run_state.started(state))
        if job.prompts is not None:
            self._set(gallery_state.started(job.prompts))
            self.task = self._spawn(self._gallery(self.number, job))
        else:
            self.task = self._spawn(self._one(self.number, job))
        self.task.add_done_callback(_observe)
        return self.current()

    def cancel(self) -> None:
        """Stop waiting now; the notice says what became of the server-side job."""
        task = self.task
        if task is None or task.done() or self.canceled:
            return
        self.canceled = True
        self._set(run_state.canceled(self._run_state(), self._cancel_notice()))
        if isinstance(task, asyncio.Task) and task.get_loop() is not _running_loop():
            task.get_loop().call_soon_threadsafe(task.cancel)  # a Task is not thread-safe
        else:
            task.cancel()  # a concurrent future cancels its task on the owning loop

    def close(self) -> None:
        """Cancel a running job, then close the client's connections once it has wound down."""
        self.cancel()
        task, aclient, self._aclient = self.task, self._aclient, None
        loop = self._loop
        if aclient is not None and loop is not None and not loop.is_closed():
            self._shutdown = self._spawn(_close_after(task, aclient))
            self._shutdown.add_done_callback(_observe)

    # -- the two kinds of job --------------------------------------------------------------

    async def _one(self, job: int, request: Request) -> Result:
        w, style = self.widget, request.style or {}
        try:
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
        path = Path((project.downloaded_paths or [""])[0])
        result = Result(path, request.output_format, project, style["prompt"])
        if self._owns(job):
            w.result = result
            still = stills.result_bundle(w.still_id, path, result.prompt)
            size = path.stat().st_size
            self._set(run_state.completed(self._run_state(), result, name=request.name, size=size))
            self._still.show(still)
        return result

    async def _gallery(self, job: int, request: Request) -> BatchResults:
        """One job per prompt through ``generate_many``, in a new folder with its own ledger."""
        w, name = self.widget, request.name
        items = [
            {"prompt": p, **({"name": f"{name} {i + 1}"} if name else {})}
            for i, p in enumerate(request.prompts or [])
        ]
        try:
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
        if self._owns(job):
            w.gallery_results = results
            still = stills.sheet_bundle(w.still_id, [Path(p) for p in results.paths])
            self._set(gallery_state.finished(self._gallery_state(), results, directory))
            self._still.show(still)
        return results

    # -- events to traits -------------------------------------------------------------------

    def _on_event(self, job: int, event: Event) -> None:
        if job == self.number:  # else a replaced job's late event
            self._set(run_state.on_event(self._run_state(), event))

    def _on_batch(self, job: int, progress: BatchProgress) -> None:
        if self._owns(job):
            self._set(gallery_state.on_batch(self._gallery_state(), progress))

    def _stopped(self, job: int, exc: BaseException) -> None:
        """Run ``job`` ended without a result: say so, unless a newer run owns the traits."""
        if job != self.number:
            return
        if isinstance(exc, asyncio.CancelledError):
            self.canceled = True
            self._set(run_state.canceled(self._run_state(), self._cancel_notice()))
        elif not self.canceled:
            text, token = notices.failure(exc), self.settings.token
            error = token.redact(text) if token is not None else text
            self._set(run_state.failed(self._run_state(), error))

    def _cancel_notice(self) -> str:
        if self._gallery_dir is not None:
            return gallery_state.cancel_notice(self._gallery_state(), self._gallery_dir)
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


async def _close_after(task: Any, aclient: AsyncClient) -> None:
    """Let a canceled job finish its cancellation (it may be learning its id), then close."""
    if task is not None:
        with contextlib.suppress(BaseException):
            await (
                asyncio.wrap_future(task) if isinstance(task, concurrent.futures.Future) else task
            )
    await aclient.close()
