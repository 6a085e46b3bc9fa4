"""``GifWidget``: prompt, format, Generate, a live progress bar, the result inline, a history.

The job runs as an asyncio task on the kernel's own loop (the kernel stays responsive);
the token stays in the kernel: only ``sandbox`` and results are synced to the front end.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import logging
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from . import stills
from .client import AsyncClient, Client, errors
from .client.batch import BatchProgress, BatchResults, check_concurrency
from .client.errors import ClientClosedError, MagicHourError, ValidationError
from .client.models import (
    Created,
    DownloadProgress,
    Event,
    ImageProject,
    Retrying,
    StatusChanged,
)
from .client.settings import SandboxWarning, Settings, default_settings
from .client.timing import History, backend_key
from .client.validation import (
    check_name,
    check_output_format,
    check_positive,
    check_style,
)
from .contract import MEDIA_TYPES, OUTPUT_FORMATS, PROMPT_MAX_CHARS

log = logging.getLogger("magicgif_widget")

CHUNK = 4 * 1024 * 1024  # media goes to the browser in binary messages of at most this size
# Where a host drops binary buffers (Colab's widget manager), media goes as base64 text
# instead, in messages small enough for such a connection: 192 KiB of bytes, 256 KiB of text.
TEXT_CHUNK = 192 * 1024
MEDIA_TIMEOUT = 20.0  # seconds the front end waits for the next chunk before offering a retry
PROGRESS_EVERY = 0.12  # seconds between download-progress trait updates


def _asset(name: str) -> Path:
    """The front-end file: packaged under ``static/`` in a wheel, ``js/`` in a checkout."""
    here = Path(__file__).parent
    packaged = here / "static" / name
    return packaged if packaged.is_file() else here.parent / "js" / name


@dataclass(frozen=True)
class Result:
    """A finished generation: the file on disk, its project, and its bytes on demand."""

    path: Path
    output_format: str
    project: ImageProject
    prompt: str = ""

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()

    @property
    def mime(self) -> str:
        return MEDIA_TYPES.get(self.output_format, "application/octet-stream")


class GifWidget(anywidget.AnyWidget):
    """Magic Hour's AI GIF generator as a notebook widget (on the sandbox without a token)."""

    _esm = _asset("widget.js")
    _css = _asset("widget.css")

    prompt = t.Unicode("").tag(sync=True)
    output_format = t.Enum(OUTPUT_FORMATS, default_value="gif").tag(sync=True)
    name = t.Unicode("").tag(sync=True)
    status = t.Unicode("idle").tag(sync=True)
    progress = t.Float(0.0).tag(sync=True)
    phase_started = t.Float(0.0).tag(sync=True)
    job_started = t.Float(0.0).tag(sync=True)
    render_estimate = t.Float(30.0).tag(sync=True)
    running = t.Bool(False).tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    notice = t.Unicode("").tag(sync=True)
    sandbox = t.Bool(True).tag(sync=True)
    project_id = t.Unicode("").tag(sync=True)
    credits_charged = t.Int(0).tag(sync=True)
    media = t.Dict().tag(sync=True)
    history = t.List(t.Dict()).tag(sync=True)
    gallery_mode = t.Bool(False).tag(sync=True)  # one job per line of the prompt
    gallery = t.List(t.Dict()).tag(sync=True)
    summary = t.Unicode("").tag(sync=True)
    # Read-only facts the front end needs, sent once instead of copied into the JS.
    limits = t.Dict().tag(sync=True)
    still_id = t.Unicode("").tag(sync=True)  # marks this widget's static output (stills.py)

    def __init__(
        self,
        client: Client | AsyncClient | None = None,
        prompt: str = "",
        output_format: str = "gif",
        name: str | None = None,
        download_directory: str | Path | None = None,
        gallery_concurrency: int = 4,
        timeout: float | None = 900.0,
        **kwargs: Any,
    ) -> None:
        if client is None:
            with warnings.catch_warnings():  # the widget shows its own sandbox badge and hint
                warnings.simplefilter("ignore", SandboxWarning)
                self._settings: Settings = default_settings()
        elif isinstance(client, (Client, AsyncClient)):
            self._settings = client.settings
        else:
            raise ValidationError("client", "must be a magicgif_widget Client or AsyncClient")
        fmt = check_output_format(output_format) or "gif"
        width = check_concurrency(gallery_concurrency)
        deadline = check_positive("timeout", timeout)
        super().__init__(prompt=prompt, output_format=fmt, name=name or "", **kwargs)
        self.limits = {
            "formats": list(OUTPUT_FORMATS),
            "prompt_max_chars": PROMPT_MAX_CHARS,
            "gallery_max": MAX_GALLERY,
            "media_timeout_ms": int(MEDIA_TIMEOUT * 1000),
        }
        self.still_id = uuid.uuid4().hex[:16]
        self.sandbox = self._settings.sandbox
        self.render_estimate = _estimate(self._settings, fmt)
        self.download_directory = Path(download_directory or Path.cwd() / "magicgif-output")
        self.gallery_concurrency = width
        self.timeout = deadline  # per job, create to file
        self.gallery_results: BatchResults | None = None
        self._gallery_dir: Path | None = None
        self._loop = _running_loop()
        self._aclient: AsyncClient | None = None
        self._task: Any = None  # the running job's future (asyncio, or concurrent off-loop)
        self._job = 0  # the current job's number: older runs may no longer touch the traits
        self._canceled = False
        self._closed = False
        self._shutdown: Any = None
        self._files: dict[str, tuple[Path, str]] = {}
        self._displays: dict[str, Any] = {}
        self._last_progress = 0.0
        self._retry_notice = False  # the notice shows a retry, to clear once things move on
        self._still: dict[str, str] | None = None  # the static output's bundle (stills.py)
        self.result: Result | None = None
        self.on_msg(self._on_front_end_msg)

    # -- public ------------------------------------------------------------------------

    def generate(self) -> Any:
        """Start a job with the current settings; returns its awaitable (the running one if busy).

        Bad input raises ValidationError (and shows it in the widget) before anything is sent.
        """
        if self._closed:
            raise ClientClosedError("this widget is closed; create a new one")
        if self._task is not None and not self._task.done() and not self._canceled:
            return self._awaitable(self._task)
        try:
            name = check_name(self.name.strip() or None)
            fmt = check_output_format(self.output_format) or "gif"
            if self.gallery_mode:
                prompts = gallery_prompts(self.prompt)
            else:
                style = check_style({"prompt": self.prompt})
        except ValidationError as exc:
            self.error = _friendly(exc)
            raise
        self._job += 1
        self._canceled = False
        # The poller's model, which has learned every job that ended before this one.
        self.render_estimate = _estimate(self._settings, fmt)
        self.error = ""
        self.notice = ""
        self.running = True
        self.status = "creating"
        self.progress = 1.0
        self.project_id = ""
        self.credits_charged = 0
        now = time.time() * 1000
        self.job_started = self.phase_started = now
        self._gallery_dir = None
        if self.gallery_mode:
            self.summary = ""
            self.gallery = [_card(i, p) for i, p in enumerate(prompts)]
            self._task = self._spawn(self._run_gallery(self._job, prompts, name, fmt))
        else:
            self._task = self._spawn(self._run(self._job, style, name, fmt))
        self._task.add_done_callback(_observe)
        return self._awaitable(self._task)

    def cancel(self) -> None:
        """Stop waiting now; the widget says what became of the server-side job."""
        task = getattr(self, "_task", None)  # a widget whose __init__ failed has none
        if task is None or task.done() or self._canceled:
            return
        self._canceled = True
        self._finish("canceled")
        self.notice = self._cancel_notice()
        if isinstance(task, asyncio.Task) and task.get_loop() is not _running_loop():
            task.get_loop().call_soon_threadsafe(task.cancel)  # a Task is not thread-safe
        else:
            task.cancel()  # a concurrent future cancels its task on the owning loop

    def close(self) -> None:
        """Cancel a running job, close the client's connections, and close the widget."""
        if getattr(self, "_closed", True):
            super().close()
            return
        self._closed = True
        self.cancel()
        task, aclient, self._aclient = self._task, self._aclient, None
        self._displays.clear()
        loop = self._loop
        if aclient is not None and loop is not None and not loop.is_closed():
            self._shutdown = self._spawn(_close_after(task, aclient))
            self._shutdown.add_done_callback(_observe)
        super().close()

    def __repr__(self) -> str:
        """Settings, not progress: stable while a job runs, so saved notebooks compare cleanly."""
        prompt = self.prompt if len(self.prompt) <= 40 else self.prompt[:39] + "…"
        backend = "sandbox" if self.sandbox else "magic hour"
        fmt = self.output_format
        return f"GifWidget(prompt={prompt!r}, output_format={fmt!r}, backend={backend!r})"

    # -- display: the widget, then its static output for readers without a kernel -------

    def _ipython_display_(self) -> None:
        """Two outputs: the widget view (anywidget's bundle and metadata, Colab's included)
        and the last result as a plain image, which the live view hides (see stills.py)."""
        from IPython.display import display

        bundle = self._repr_mimebundle_()
        if bundle is None:  # a closed widget has no view to show
            return
        data, meta = bundle
        display(data, metadata=meta, raw=True)
        still = self._still or stills.placeholder(self.still_id)
        handle = display(still, raw=True, display_id=True)
        if handle is not None:
            self._displays[handle.display_id] = handle
            while len(self._displays) > 8:  # old outputs (re-run cells) stop being updated
                self._displays.pop(next(iter(self._displays)))

    def _refresh_displays(self) -> None:
        if not self._displays or self._still is None:
            return
        for handle in list(self._displays.values()):
            try:
                handle.update(self._still, raw=True)
            except Exception:
                log.debug("display update failed", exc_info=True)

    # -- the job -------------------------------------------------------------------------

    async def _run(self, job: int, style: dict[str, Any], name: str | None, fmt: str) -> Result:
        client = self._client()
        try:
            project = await client.v1.ai_gif_generator.generate(
                style=style,
                name=name,
                output_format=fmt,
                download_directory=self.download_directory,
                timeout=self.timeout,
                on_event=lambda event: self._on_event(job, event),
            )
        except (asyncio.CancelledError, Exception) as exc:
            self._stopped(job, exc)
            raise
        path = Path((project.downloaded_paths or [""])[0])
        result = Result(path, fmt, project, style["prompt"])
        if job == self._job and not self._canceled:
            self._publish(result, style["prompt"], name)
        return result

    def _stopped(self, job: int, exc: BaseException) -> None:
        """Run ``job`` ended without a result: say so, unless a newer run owns the traits."""
        if job != self._job:
            return
        if isinstance(exc, asyncio.CancelledError):
            self._canceled = True
            self._finish("canceled")
            self.notice = self._cancel_notice()
        elif not self._canceled:
            text = (
                _friendly(exc)
                if isinstance(exc, MagicHourError)
                else f"Unexpected error: {type(exc).__name__}: {exc}"
            )
            token = self._settings.token
            self.error = token.redact(text) if token is not None else text
            self._finish("failed")

    def _register(self, result: Result) -> str:
        """A key the front end can fetch ``result``'s file by."""
        key = f"{result.project.id}:{len(self._files)}"
        self._files[key] = (result.path, result.mime)
        return key

    def _publish(self, result: Result, prompt: str, name: str | None) -> None:
        key = self._register(result)
        entry = {
            "key": key,
            "project_id": result.project.id,
            "prompt": prompt,
            "name": name or "",
            "format": result.output_format,
            "mime": result.mime,
            "filename": result.path.name,
            "size": result.path.stat().st_size,
            "credits": 0 if self.sandbox else result.project.credits_charged,
        }
        self.result = result
        self._still = stills.result_bundle(self.still_id, result.path, prompt)
        self.media = entry
        self.history = [entry, *self.history][:24]
        self.credits_charged = result.project.credits_charged
        self.progress = 100.0
        self._finish("complete")
        self._refresh_displays()

    async def _run_gallery(
        self, job: int, prompts: list[str], name: str | None, fmt: str
    ) -> BatchResults:
        """One job per prompt through ``generate_many``, in a new folder with its own ledger."""
        client = self._client()
        directory = _fresh_folder(self.download_directory, "gallery")
        self._gallery_dir = directory
        items = [
            {"prompt": p, **({"name": f"{name} {i + 1}"} if name else {})}
            for i, p in enumerate(prompts)
        ]
        try:
            results = await client.v1.ai_gif_generator.generate_many(
                items,
                download_directory=directory,
                concurrency=self.gallery_concurrency,
                output_format=fmt,
                timeout=self.timeout,
                progress=False,
                on_event=lambda progress: self._on_batch(job, progress),
            )
        except (asyncio.CancelledError, Exception) as exc:
            self._stopped(job, exc)
            raise
        if job == self._job and not self._canceled:
            self.gallery_results = results
            sheet = stills.sheet_bundle(self.still_id, [Path(p) for p in results.paths])
            self._still = sheet or self._still
            counts = results.counts
            self.progress = 100.0
            self.summary = counts.describe()
            self.credits_charged = 0 if self.sandbox else counts.credits
            if counts.complete < counts.total:
                self.error = (
                    f"{counts.total - counts.complete} of {counts.total} did not complete; "
                    f"see each card. Saved in {directory}"
                )
                self._finish("failed")
            else:
                self.notice = f"Saved in {directory}"
                self._finish("complete")
            self._refresh_displays()
        return results

    def _on_batch(self, job: int, progress: BatchProgress) -> None:
        if job != self._job or self._canceled:
            return
        counts = progress.counts
        self.summary = counts.describe()
        self.progress = max(self.progress, 100.0 * counts.finished / max(1, counts.total))
        if progress.index is None:
            return
        cards = list(self.gallery)
        card = dict(cards[progress.index])
        event, result = progress.event, progress.result
        if isinstance(event, Created):
            card.update(status="queued", project_id=event.project_id)
        elif isinstance(event, StatusChanged):
            card["status"] = "downloading" if event.status == "complete" else event.status
        elif isinstance(event, Retrying):
            self.notice = f"{event.reason} on {event.operation}; retrying in {event.delay:.1f} s"
        elif isinstance(result, ImageProject):
            path = Path((result.downloaded_paths or [""])[0])
            done = Result(path, path.suffix.lstrip(".") or "gif", result)
            card.update(
                status="complete",
                project_id=result.id,
                key=self._register(done),
                format=done.output_format,
                mime=done.mime,
                filename=path.name,
            )
        elif isinstance(result, MagicHourError):
            unknown = isinstance(result, errors.CreateOutcomeUnknown)
            card.update(
                status="unknown" if unknown else "failed",
                error=_friendly(result),
                project_id=result.project_id or card.get("project_id", ""),
            )
        else:
            return
        cards[progress.index] = card
        self.gallery = cards

    def _on_event(self, job: int, event: Event) -> None:
        if job != self._job:
            return  # a replaced job's late events
        now = time.monotonic()
        if self._canceled:
            if isinstance(event, Created):  # the id arrived after the cancel: say which job
                self.project_id = event.project_id
                self.notice = self._cancel_notice()
            return
        if isinstance(event, Created):
            self.project_id = event.project_id
            self.credits_charged = event.credits_charged
            self._phase("queued", 5.0)
        elif isinstance(event, StatusChanged):
            if event.status == "rendering":
                self._phase("rendering", 12.0)
            elif event.status == "complete":
                self._phase("downloading", 88.0)
            elif event.status == "queued":
                self._phase("queued", 5.0)
        elif isinstance(event, DownloadProgress):
            if event.total and now - self._last_progress >= PROGRESS_EVERY:
                self._last_progress = now
                self.progress = max(self.progress, 88.0 + 11.0 * event.received / event.total)
        elif isinstance(event, Retrying):
            self.notice = f"{event.reason} on {event.operation}; retrying in {event.delay:.1f} s"
            self._retry_notice = True

    def _finish(self, status: str) -> None:
        """End the job: ``phase_started`` then marks when, so the front end shows the total."""
        self.phase_started = time.time() * 1000
        self.running = False
        self.status = status

    def _phase(self, status: str, floor: float) -> None:
        self.status = status
        self.phase_started = time.time() * 1000
        self.progress = max(self.progress, floor)
        if status != "rendering" and self._retry_notice:
            self.notice = ""
            self._retry_notice = False

    def _cancel_notice(self) -> str:
        if self._gallery_dir is not None:
            return self._gallery_cancel_notice(self._gallery_dir)
        pid, sandbox = self.project_id, self.sandbox
        if not pid:
            if sandbox:
                return "Canceled while the job was being created (the sandbox charges nothing)."
            return (
                "Canceled while the create request was in flight: Magic Hour may have created "
                "(and charged) a job whose id never arrived."
            )
        if sandbox:
            return f"Canceled. Sandbox job {pid} was abandoned (the sandbox charges nothing)."
        return (
            f"Stopped waiting. Magic Hour has no cancel endpoint, so job {pid} keeps running "
            f"and its credits are spent; fetch it later with "
            f"client.v1.image_projects.check_result({pid!r})."
        )

    def _gallery_cancel_notice(self, directory: Path) -> str:
        started = [c for c in self.gallery if c.get("project_id") and c["status"] != "complete"]
        if self.sandbox:
            return "Canceled the gallery (the sandbox charges nothing)."
        if not started:
            return "Canceled the gallery; no job was left running."
        prompts = [c["prompt"] for c in self.gallery]
        return (
            f"Stopped waiting. {len(started)} job(s) already created keep running on Magic Hour "
            f"(credits spent). Collect them without paying again: "
            f"client.v1.ai_gif_generator.generate_many({prompts!r:.80}, "
            f"download_directory={str(directory)!r})"
        )

    @staticmethod
    def _awaitable(task: Any) -> Any:
        """``task`` as something the caller's own loop can await (or the future itself)."""
        if isinstance(task, concurrent.futures.Future) and _running_loop() is not None:
            return asyncio.wrap_future(task)
        return task

    def _client(self) -> AsyncClient:
        if self._aclient is None:
            self._aclient = AsyncClient.from_settings(self._settings)
        return self._aclient

    def _spawn(self, coro: Any) -> Any:
        """Run ``coro`` as a task on the kernel's loop (from any thread)."""
        running = _running_loop()
        if self._loop is None or self._loop.is_closed():
            self._loop = running
        if self._loop is None:
            self._loop = _fallback_loop()
        if running is self._loop:
            return self._loop.create_task(coro)
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    # -- messages from the front end -----------------------------------------------------

    def _on_front_end_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "generate":
            self._apply_settings(content.get("settings"))
            with contextlib.suppress(ValidationError):  # already shown in the alert area
                self.generate()
        elif kind == "cancel":
            self.cancel()
        elif kind == "media":
            text = content.get("encoding") == "base64"
            self._send_media(str(content.get("key", "")), content.get("req"), text)

    def _apply_settings(self, settings: Any) -> None:
        """The form's values as the front end saw them when Generate was pressed (a state
        update sent just before may still be held back by the widget manager)."""
        if not isinstance(settings, dict) or self.running:
            return
        for trait in ("prompt", "name"):
            if isinstance(settings.get(trait), str):
                setattr(self, trait, settings[trait])
        if settings.get("output_format") in OUTPUT_FORMATS:
            self.output_format = settings["output_format"]
        if isinstance(settings.get("gallery_mode"), bool):
            self.gallery_mode = settings["gallery_mode"]

    def _send_media(self, key: str, req: Any, text: bool = False) -> None:
        """The file behind ``key`` in chunks: binary buffers, or base64 text where a host
        drops buffers (the front end asks for text once it has seen a chunk arrive empty)."""
        entry = self._files.get(key)
        if entry is None or not entry[0].is_file():
            self.send(
                {
                    "type": "media-error",
                    "req": req,
                    "key": key,
                    "message": "this output is no longer on disk",
                }
            )
            return
        path, mime = entry
        size = path.stat().st_size
        step = TEXT_CHUNK if text else CHUNK
        chunks = max(1, -(-size // step))
        header = {
            "type": "media",
            "req": req,
            "key": key,
            "mime": mime,
            "chunks": chunks,
            "size": size,
            "encoding": "base64" if text else "binary",
        }
        with path.open("rb") as source:  # one chunk in memory at a time
            for seq in range(chunks):
                part = source.read(step)
                if text:
                    self.send({**header, "seq": seq, "data": base64.b64encode(part).decode()})
                else:
                    self.send({**header, "seq": seq}, buffers=[part])


# ---- helpers -------------------------------------------------------------------------------


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
        from .client.sync import LoopThread

        _fallback = LoopThread("magicgif-widget")
    return _fallback.loop  # type: ignore[no-any-return]


MAX_GALLERY = 48  # prompts in one gallery: a paste of a whole file is likely a mistake


def gallery_prompts(text: str) -> list[str]:
    """The non-blank lines of ``text`` as checked prompts; any bad line fails the whole lot."""
    prompts = [line.strip() for line in text.splitlines() if line.strip()]
    if not prompts:
        raise ValidationError("style.prompt", "write one prompt per line")
    if len(prompts) > MAX_GALLERY:
        raise ValidationError(
            "style.prompt", f"{len(prompts)} lines; a gallery takes at most {MAX_GALLERY}"
        )
    for number, prompt in enumerate(prompts, start=1):
        try:
            check_style({"prompt": prompt})
        except ValidationError as exc:
            raise ValidationError(
                "style.prompt", f"line {number}: {exc.message.split(': ', 1)[-1]}"
            ) from None
    return prompts


def _card(index: int, prompt: str) -> dict[str, Any]:
    return {"index": index, "prompt": prompt, "status": "waiting", "project_id": "", "key": ""}


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


def _estimate(settings: Settings, output_format: str) -> float:
    """Expected seconds of rendering, from the poller's model (client/timing.py): what earlier
    jobs of this backend and format took, else the vendor's published median."""
    key = backend_key(settings.base_url, settings.sandbox)
    return round(History().render_estimate(key, output_format, settings.sandbox), 2)


async def _close_after(task: Any, aclient: AsyncClient) -> None:
    """Let a canceled job finish its cancellation (it may be learning its id), then close."""
    if task is not None:
        with contextlib.suppress(BaseException):
            await (
                asyncio.wrap_future(task) if isinstance(task, concurrent.futures.Future) else task
            )
    await aclient.close()


_PREFIXES: dict[type[MagicHourError], str] = {
    errors.ValidationError: "Check your input",
    errors.AuthenticationError: "The API token was rejected",
    errors.InsufficientCreditsError: "Not enough credits",
    errors.RateLimitError: "Rate limited by Magic Hour",
    errors.JobFailedError: "The job failed",
    errors.JobCanceledError: "The job was canceled",
    errors.GenerationTimeout: "Gave up waiting",
    errors.NetworkError: "Network problem",
    errors.ServerError: "Magic Hour had a server error",
    errors.DownloadError: "The download failed",
}


def _friendly(exc: MagicHourError) -> str:
    """One actionable sentence for the alert area (never includes the token)."""
    for cls, text in _PREFIXES.items():
        if isinstance(exc, cls):
            return f"{text}: {exc}"
    return str(exc)
