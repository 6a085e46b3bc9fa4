"""``GifWidget``: prompt, format, Generate, a live progress bar, the result inline, a history.

The job runs as an asyncio task on the kernel's own loop (the kernel stays responsive);
the token stays in the kernel: only ``sandbox`` and results are synced to the front end.
Off the sandbox it also offers the user's earlier jobs from the journal (Collect, Dismiss),
asks before repeating a job still running, and shows the cost and the balance.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
import warnings
from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from .. import progress as bar
from ..batching.results import BatchResults, check_concurrency
from ..client.errors import ClientClosedError, MagicHourError, ValidationError
from ..client.limits import SpendLimit, limits_for
from ..client.settings import SandboxWarning, Settings, default_settings
from ..client.validation import check_output_format, check_positive
from ..clients import AsyncClient, Client
from ..contract import DEFAULT_FORMAT, OUTPUT_FORMATS, PROMPT_MAX_CHARS
from . import account, earlier, journal_reads, not_loaded, notices
from .account import AccountState
from .gallery_state import MAX_GALLERY
from .jobs import Jobs
from .media import MEDIA_TIMEOUT, MediaStore, Result
from .request import estimate, request
from .stills import StillOutput


def _asset(name: str) -> Path:
    """The front-end file: packaged under ``static/`` in a wheel, ``js/`` in a checkout."""
    package = Path(__file__).parents[1]
    packaged = package / "static" / name
    return packaged if packaged.is_file() else package.parent / "js" / name


class GifWidget(anywidget.AnyWidget):
    """Magic Hour's AI GIF generator as a notebook widget (on the sandbox without a token)."""

    _esm = _asset("widget.js")
    _css = _asset("widget.css")

    # -- the form --------------------------------------------------------------------------
    prompt = t.Unicode("").tag(sync=True)
    """The prompt; in gallery mode, one prompt per line."""
    output_format = t.Enum(OUTPUT_FORMATS, default_value=DEFAULT_FORMAT).tag(sync=True)
    name = t.Unicode("").tag(sync=True)
    """The job's name at Magic Hour (optional; a gallery numbers it per line)."""
    gallery_mode = t.Bool(False).tag(sync=True)
    """One job per line of the prompt, shown as cards."""

    # -- the job ---------------------------------------------------------------------------
    status = t.Unicode("idle").tag(sync=True)
    """idle, creating (or checking: the balance read again first; or collecting: a job made
    earlier), queued, rendering, downloading, then complete, failed or canceled."""
    running = t.Bool(False).tag(sync=True)
    progress = t.Float(0.0).tag(sync=True)
    """The bar's floor, in percent: the front end never shows less."""
    progress_curve = t.List(t.List(t.Float())).tag(sync=True)
    """[seconds into the phase, percent] points the bar follows between status reports."""
    phase_started = t.Float(0.0).tag(sync=True)
    """When the phase began, or the job ended (ms since the epoch, the kernel's clock)."""
    job_started = t.Float(0.0).tag(sync=True)
    render_estimate = t.Float(bar.DEFAULT_ESTIMATE).tag(sync=True)
    """Expected seconds of rendering, learned from earlier jobs (client/timing.py)."""
    error = t.Unicode("").tag(sync=True)
    notice = t.Unicode("").tag(sync=True)
    """What became of a job, or a retry under way."""
    project_id = t.Unicode("").tag(sync=True)
    credits_charged = t.Int(0).tag(sync=True)
    summary = t.Unicode("").tag(sync=True)
    """A gallery's counts, e.g. "2 of 3 complete, 100 credits"."""

    # -- the results -----------------------------------------------------------------------
    media = t.Dict().tag(sync=True)
    """The current result: its media key, format, size, file name and cost."""
    history = t.List(t.Dict()).tag(sync=True)
    """Earlier results, newest first (as many as ``run_state.HISTORY_MAX``)."""
    gallery = t.List(t.Dict()).tag(sync=True)
    """A gallery's cards, one per prompt line, in order."""

    # -- the journal and the account (never on the sandbox) --------------------------------
    earlier_jobs = t.List(t.Dict()).tag(sync=True)
    """Jobs of this server from earlier sessions that may still give files, newest first:
    ``earlier.card`` (id, project_id, prompt, name, format, age, meta, status, kind: collect
    or unknown). ``collect(id)`` and ``dismiss(id)`` act on one."""
    confirm = t.Dict().tag(sync=True)
    """The question asked instead of a create that would repeat a job still running
    (``earlier.confirm``: id, project_id, prompt, name, output_format, text); {} when none.
    The answer is ``generate(confirmed=True)`` or ``collect(confirm["id"])``."""
    account = t.Dict().tag(sync=True)
    """The cost and the balance (``account.line``: state, credits, cost, text)."""

    # -- read-only facts for the front end -------------------------------------------------
    sandbox = t.Bool(True).tag(sync=True)
    limits = t.Dict().tag(sync=True)
    """The API's limits the front end shows, sent once instead of copied into the JS."""
    still_id = t.Unicode("").tag(sync=True)
    """Marks this widget's static output, which a live view hides (stills.py)."""
    unanswered = t.Dict().tag(sync=True)
    """What a view says when the kernel does not answer its hello (after_ms, text)."""

    def __init__(
        self,
        client: Client | AsyncClient | None = None,
        prompt: str = "",
        output_format: str = DEFAULT_FORMAT,
        name: str | None = None,
        download_directory: str | Path | None = None,
        gallery_concurrency: int = 4,
        timeout: float | None = 900.0,
        spend_limit: int | str | SpendLimit | None = None,
        **kwargs: Any,
    ) -> None:
        # The widget's jobs are journaled as the widget's, under its limits and the client's.
        settings = dataclasses.replace(_settings(client), surface="widget")
        limits = limits_for(spend_limit)  # checked on the sandbox too, which has no limit
        if limits and not settings.sandbox:
            joined = tuple(dict.fromkeys((*settings.spend_limits, *limits)))
            settings = dataclasses.replace(settings, spend_limits=joined)
        fmt = check_output_format(output_format) or DEFAULT_FORMAT
        width = check_concurrency(gallery_concurrency)
        deadline = check_positive("timeout", timeout)
        # Every trait the front end reads is set in the constructor, so the very first state
        # it receives is already true (never the sandbox, or a default, for something else).
        super().__init__(
            prompt=prompt,
            output_format=fmt,
            name=name or "",
            limits={
                "formats": list(OUTPUT_FORMATS),
                "prompt_max_chars": PROMPT_MAX_CHARS,
                "gallery_max": MAX_GALLERY,
                "media_timeout_ms": int(MEDIA_TIMEOUT * 1000),
            },
            still_id=uuid.uuid4().hex[:16],
            unanswered={
                "after_ms": not_loaded.UNANSWERED_AFTER_MS,
                "text": not_loaded.UNANSWERED,
            },
            sandbox=settings.sandbox,
            account=account.line(AccountState(sandbox=settings.sandbox)),
            render_estimate=estimate(settings, fmt),
            **kwargs,
        )
        self.download_directory = Path(download_directory or Path.cwd() / "magicgif-output")
        self.gallery_concurrency = width
        self.timeout = deadline  # per job, create to file
        self.result: Result | None = None
        self.gallery_results: BatchResults | None = None
        self._closed = False
        self._media = MediaStore()
        self._stills = StillOutput(self.still_id)
        self._jobs = Jobs(self, settings, self._media, self._stills)
        self.observe(self._form_changed, names=["prompt", "name", "output_format", "gallery_mode"])
        self.on_msg(self._on_front_end_msg)
        if not settings.sandbox:
            self._jobs.refresh()  # earlier jobs and the balance, in the background

    def generate(self, confirmed: bool = False) -> Any:
        """Start a job with the current settings; returns its awaitable (the running one if busy).

        Bad input raises ValidationError (shown in the widget) before anything is sent. When
        the last balance read could not pay for the job, the balance is read again first and,
        if it still cannot, the awaitable raises InsufficientCreditsError with nothing sent.
        A job whose settings match one still running at Magic Hour (the journal says so, the
        server agrees) is not created unless ``confirmed``: the ``confirm`` trait asks, and
        the awaitable gives None.
        """
        if self._closed:
            raise ClientClosedError("this widget is closed; create a new one")
        if self._jobs.busy():
            return self._jobs.current()
        try:
            job = request(self.prompt, self.name, self.output_format, self.gallery_mode)
        except ValidationError as exc:
            self.error = notices.friendly(exc)
            raise
        # The last balance read could not pay: read it again before sending anything (credits
        # bought meanwhile count), and refuse if it still cannot.
        credits = None if self.sandbox else self.account.get("credits")
        short = account.shortfall(credits, job.count) is not None
        return self._jobs.start(job, confirmed=confirmed, recheck=short)

    def collect(self, project_id: str) -> Any:
        """Wait for and download a job made earlier (an ``earlier_jobs`` card's id, or any
        journaled job of this server) like a fresh result, with no create; returns its
        awaitable. A job that cannot be collected raises ValidationError (shown in the widget).
        """
        if self._closed:
            raise ClientClosedError("this widget is closed; create a new one")
        if not self.sandbox and self._is_gallery(project_id):
            self.confirm = {}
            record, why = self._gallery_record(project_id)
            if record is None:
                self.error = f"Cannot collect: {why}"
                raise ValidationError("id", str(why))
            return self._jobs.collect_gallery(record)
        problem = "sandbox jobs are not journaled; make it again" if self.sandbox else None
        if problem is None and self._jobs.busy():
            problem = "a job is running in this widget; wait for it or cancel it first"
        entry = None
        if problem is None:
            try:
                entry = journal_reads.entry(project_id)
            except MagicHourError as exc:
                self.error = notices.friendly(exc)
                raise
            problem = journal_reads.uncollectable(entry, project_id, self._jobs.server)
        if problem is not None or entry is None:
            self.error = f"Cannot collect: {problem}"
            raise ValidationError("project_id", str(problem))
        return self._jobs.collect(entry)

    def resume_gallery(self, ref: str, confirmed: bool = False) -> Any:
        """Resume a recorded gallery (its card's id): collect every job it made and, once
        ``confirmed`` (the ``confirm`` trait asks first), create the items never sent.
        Returns the awaitable (None when it asked)."""
        record, problem = self._gallery_record(ref)
        if record is None:
            self.error = f"Cannot resume: {problem}"
            raise ValidationError("id", str(problem))
        never = record.never_sent
        if never and not confirmed:
            made = len([e for e in record.items if e.project_id])
            self.confirm = earlier.confirm_resume(ref, made, never)
            return None
        self.confirm = {}
        return self._jobs.collect_gallery(record, create=bool(never))

    def _is_gallery(self, ref: str) -> bool:
        if any(c.get("id") == ref and c.get("kind") == "gallery" for c in self.earlier_jobs):
            return True
        try:
            return journal_reads.batch(ref) is not None
        except MagicHourError:
            return False

    def _gallery_record(self, ref: str) -> tuple[Any, str | None]:
        """The journal's batch ``ref`` if this widget may collect it, else why not."""
        if self._closed:
            raise ClientClosedError("this widget is closed; create a new one")
        if self.sandbox:
            return None, "sandbox galleries are not journaled; make it again"
        if self._jobs.busy():
            return None, "a job is running in this widget; wait for it or cancel it first"
        try:
            record = journal_reads.batch(ref)
        except MagicHourError as exc:
            self.error = notices.friendly(exc)
            raise
        if record is None:
            return None, f"no gallery {ref} in the job journal"
        if record.server != self._jobs.server:
            return None, f"that gallery was made on {record.server}; this widget talks to another"
        return record, None

    def dismiss(self, project_id: str) -> bool:
        """Forget an earlier job (its card's id): the journal marks it dismissed and the card
        goes. Returns False when the journal had nothing to dismiss."""
        try:
            done = False if self.sandbox else journal_reads.dismiss(project_id)
        except MagicHourError as exc:
            self.error = notices.friendly(exc)
            raise
        self.earlier_jobs = earlier.without(self.earlier_jobs, project_id)
        if project_id and project_id in (self.confirm.get("id"), self.confirm.get("project_id")):
            self.confirm = {}
        return done

    def refresh(self) -> Any:
        """Read the journal for earlier jobs and the account for the balance again; returns
        an awaitable (done at once on the sandbox, which has neither)."""
        return self._jobs.refresh()

    def cancel(self) -> None:
        """Stop waiting now; the widget says what became of the server-side job."""
        running = getattr(self, "_jobs", None)  # a widget whose __init__ failed has none
        if running is not None:
            running.cancel()

    def close(self) -> None:
        """Cancel a running job, close the client's connections, and close the widget."""
        if not getattr(self, "_closed", True):
            self._closed = True
            with contextlib.suppress(Exception):  # views stop redrawing themselves (widget.js)
                self.send({"type": "closed"})
            self._jobs.close()
            self._stills.close()
        super().close()

    def __repr__(self) -> str:
        """Settings, not progress: stable while a job runs, so saved notebooks compare cleanly."""
        prompt = self.prompt if len(self.prompt) <= 40 else self.prompt[:39] + "…"
        backend = "sandbox" if self.sandbox else "magic hour"
        fmt = self.output_format
        return f"GifWidget(prompt={prompt!r}, output_format={fmt!r}, backend={backend!r})"

    def _ipython_display_(self) -> None:
        """Two outputs: the widget view (anywidget's bundle and metadata, Colab's included)
        and the last result as a plain image, or what to do if the view does not show, which
        the live view hides (see stills.py)."""
        from IPython.display import display

        bundle = self._repr_mimebundle_()
        if bundle is None:  # a closed widget has no view to show
            return
        data, meta = bundle
        display(data, metadata=meta, raw=True)
        self._stills.display()

    @property
    def _still(self) -> dict[str, str] | None:
        """The static output's bundle (None before any result)."""
        return self._stills.bundle

    # -- messages from the front end -------------------------------------------------------

    def _on_front_end_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "generate":
            self._apply_settings(content.get("settings"))
            with contextlib.suppress(ValidationError):  # already shown in the alert area
                self.generate(confirmed=content.get("confirmed") is True)
        elif kind == "cancel":
            self.cancel()
        elif kind in ("collect", "dismiss", "resume_gallery"):
            ref = content.get("id")
            if isinstance(ref, str) and ref:
                with contextlib.suppress(MagicHourError):  # shown in the alert area
                    if kind == "collect":
                        self.collect(ref)
                    elif kind == "resume_gallery":
                        self.resume_gallery(ref, confirmed=content.get("confirmed") is True)
                    else:
                        self.dismiss(ref)
        elif kind == "confirm_no":
            self.confirm = {}
        elif kind == "hello":  # a view checks that this kernel still has its widget
            self.send({"type": "hello"})
        elif kind == "still_again":  # a host forgot the static output's display id (widget.js)
            self._stills.show(self._stills.bundle)
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

    def gifs_asked(self) -> int:
        """How many GIFs a Generate now would make (and pay for): one per gallery line."""
        if not self.gallery_mode:
            return 1
        return max(1, sum(1 for line in self.prompt.splitlines() if line.strip()))

    def _form_changed(self, _change: Any) -> None:
        """A question about other settings than the form's now holds is no longer asked; the
        account line follows the gallery's size (its total is shown before it starts)."""
        if not self.sandbox and self._jobs.account_state.credits is not None:
            self.account = account.line(self._jobs.account_state, self.gifs_asked())
        question = self.confirm
        if question and (
            self.gallery_mode
            or not earlier.same_settings(question, self.prompt, self.name, self.output_format)
        ):
            self.confirm = {}

    def _send_media(self, key: str, req: Any, text: bool = False) -> None:
        """The file behind ``key``, in binary chunks or base64 text ones (media.py)."""
        for content, buffers in self._media.messages(key, req, text):
            self.send(content, buffers=buffers)


def _settings(client: Client | AsyncClient | None) -> Settings:
    """The client's settings; without one, the environment's (the sandbox if no token)."""
    if client is None:
        with warnings.catch_warnings():  # the widget shows its own sandbox badge and hint
            warnings.simplefilter("ignore", SandboxWarning)
            return default_settings()
    if isinstance(client, (Client, AsyncClient)):
        return client.settings
    raise ValidationError("client", "must be a magicgif_widget Client or AsyncClient")
