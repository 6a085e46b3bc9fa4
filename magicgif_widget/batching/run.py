"""``generate_many``: many jobs on one loop, bounded, resumable, never paying twice.

Items run ``concurrency`` at a time through the same workflow as ``generate``; the client's
transport already holds every request after a 429, so a rate limit slows the whole batch.
The ledger (``ledger.py``) decides per item: create, poll an existing job, or report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..client import workflow
from ..client.download import safe_stem
from ..client.errors import (
    APIStatusError,
    AuthenticationError,
    CreateOutcomeUnknown,
    InsufficientCreditsError,
    MagicHourError,
    NetworkError,
    NotFoundError,
    SpendLimitError,
    ValidationError,
)
from ..client.job_errors import JobCanceledError, JobError, JobFailedError
from ..client.limits import over_balance, over_limit
from ..client.models import Created, Event, ImageProject, StatusChanged
from ..client.options import GenerateOptions
from ..contract import CREDITS_PER_GIF
from ..jobstore.batch_writer import BatchWriter
from ..jobstore.ledger import Entry, Ledger
from .results import BatchCounts, BatchProgress, BatchResults, Result, item_keys

log = logging.getLogger("magicgif_widget")

STOPPERS = (AuthenticationError, InsufficientCreditsError)  # later items would fail the same


class Batch:
    """One run of ``generate_many`` over a ledger."""

    def __init__(
        self,
        api: workflow.Api,
        ledger: Ledger,
        items: list[dict[str, Any] | ValidationError],
        template: GenerateOptions,
        *,
        concurrency: int,
        retry_failed: bool,
        retry_unknown: bool,
        sandbox: bool,
        on_event: Callable[[BatchProgress], None] | None,
        writer: BatchWriter | None = None,
        collect_only: bool = False,
    ) -> None:
        self.api = api
        self.ledger = ledger
        self.writer = writer
        self.collect_only = collect_only
        self.items = items
        self.template = template
        self.retry_failed = retry_failed
        self.retry_unknown = retry_unknown
        self.sandbox = sandbox
        self._on_event = on_event
        self._gate = asyncio.Semaphore(concurrency)
        self.results: list[Result | None] = [None] * len(items)
        self.counts = BatchCounts(total=len(items), sandbox=sandbox)
        self._credits: dict[str, int] = {}
        self._stop: MagicHourError | None = None

    @property
    def directory(self) -> Path:
        return self.ledger.directory

    async def run(self) -> BatchResults:
        bodies = [i if isinstance(i, dict) else None for i in self.items]
        keys = item_keys(bodies)
        entries = self.ledger.ensure(
            [
                (key, index, body)
                for index, (key, body) in enumerate(zip(keys, bodies, strict=True))
                if key is not None and body is not None
            ]
        )
        self._credits = {k: e.credits for k, e in entries.items()}
        if self.writer is not None:
            self.writer.started(len(self.items), self.ledger.items())
        await self._check_cost(entries.values())
        self.counts = replace(self.counts, to_create=self.to_create(entries.values()))
        self._remove_stale_parts(entries.values())
        self._update()
        tasks = [
            asyncio.ensure_future(self._item(i, item, entries.get(keys[i] or "")))
            for i, item in enumerate(self.items)
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return BatchResults(self.results, self.counts, self.ledger.path)  # type: ignore[arg-type]

    def to_create(self, entries: Iterable[Entry]) -> int:
        """How many creates this run would send (items with no job, or retried on request)."""
        if self.collect_only:
            return 0
        return sum(
            1
            for e in entries
            if e.state == "pending"
            or (e.state == "failed" and self.retry_failed)
            or (e.state == "unknown" and self.retry_unknown)
        )

    async def _check_cost(self, entries: Iterable[Entry]) -> None:
        """Refuse the whole batch before anything is sent when its creates would pass a spend
        limit or the account's balance (the message gives the total, the limits, the balance).
        """
        count = self.to_create(entries)
        if count == 0 or self.sandbox:
            return
        total = count * CREDITS_PER_GIF
        limits = self.writer.limits if self.writer is not None else ()
        spent = {limit: self.writer.spent(limit) for limit in limits} if self.writer else {}
        try:
            balance: int | None = await self.api.balance()
        except MagicHourError as exc:
            log.info("the balance could not be read before the batch (%s)", type(exc).__name__)
            balance = None
        for limit, used in spent.items():
            if used + total > limit.credits:
                raise SpendLimitError(
                    over_limit(total, limit, used, balance) + f" ({count} GIFs)",
                    total=total,
                    limit=limit.credits,
                    spent=used,
                    balance=balance,
                )
        if balance is not None and total > balance:
            raise SpendLimitError(
                over_balance(total, balance, limits) + f" ({count} GIFs)",
                total=total,
                limit=min((limit.credits for limit in limits), default=None),
                spent=max(spent.values(), default=0),
                balance=balance,
            )

    # -- one item ----------------------------------------------------------------------

    async def _item(
        self, index: int, item: dict[str, Any] | ValidationError, entry: Entry | None
    ) -> None:
        if entry is None:  # an invalid item: it has no ledger row and is never sent
            if not isinstance(item, ValidationError):
                raise RuntimeError(f"internal error: item {index} has no ledger entry")
            self._finish(index, item, "failed")
            return
        if entry.state == "complete":
            reused = self._reuse(entry)
            if reused is not None:
                self._finish(index, reused, "complete", reused=True)
                return
        elif entry.state == "failed" and not self.retry_failed:
            self._finish(index, _stored_error(entry), "failed")
            return
        elif entry.state == "unknown" and not self.retry_unknown:
            self._finish(index, _unknown_error(entry), "unknown")
            return
        if self.collect_only and not (entry.state in ("created", "complete") and entry.project_id):
            self._finish(index, _skipped(entry), "skipped")
            return
        async with self._gate:
            if self._stop is not None:  # a bad key or an empty balance: the rest would fail too
                self._finish(index, _not_sent(self._stop), "failed")
                return
            self._update(running=+1)
            try:
                result, state = await self._run(index, entry)
            finally:
                self._update(running=-1)
        if isinstance(result, STOPPERS):
            self._stop = result
        self._finish(index, result, state)

    async def _run(self, index: int, entry: Entry) -> tuple[Result, str]:
        key = entry.key
        emit = self._emitter(index, key)
        if entry.state == "created" and entry.project_id:
            try:
                request = replace(self.template, adopt=_ours(entry))
                project = await workflow.resume(
                    self.api, entry.project_id, request, emit, journal=False
                )
            except NotFoundError as exc:
                if not self.sandbox:
                    return self._failed(key, exc), "failed"
                # Sandbox jobs live only as long as the process that made them; free to redo.
                self.ledger.pending(key, "the sandbox job was gone (it lives in one process)")
            except MagicHourError as exc:
                return self._classify(key, exc, created=True)
            else:
                return self._complete(key, project), "complete"
        if self.writer is not None:
            try:
                self.writer.intent(key, entry.position, entry.request)
            except SpendLimitError as exc:
                return exc, "failed"  # nothing sent: the item stays pending
        self.ledger.creating(key)
        request = replace(self.template, body=entry.request)
        try:
            project = await workflow.generate(self.api, request, emit, journal=False)
        except MagicHourError as exc:
            return self._classify(key, exc, created=exc.project_id is not None)
        except Exception as exc:  # a bug: the create may or may not have gone out
            log.exception("batch item %d crashed", index)
            err = CreateOutcomeUnknown(f"unexpected {type(exc).__name__}: {str(exc)[:200]}")
            self.ledger.unknown(key, err.message)
            return err, "unknown"
        return self._complete(key, project), "complete"

    def _emitter(self, index: int, key: str) -> Callable[[Event], None]:
        def emit(event: Event) -> None:
            if isinstance(event, Created):  # record the id before anything else happens
                self.ledger.created(key, event.project_id, event.credits_charged)
                if self.writer is not None:
                    self.writer.created(key, event.project_id, event.credits_charged)
                self._credits[key] = event.credits_charged
                self._update()
            elif (
                isinstance(event, StatusChanged)
                and self.writer is not None
                and event.status != "complete"
            ):
                self.writer.seen(event.project_id, event.status)
            self._send(BatchProgress(self.counts, str(self.ledger.path), index, event))

        return emit

    def _classify(self, key: str, exc: MagicHourError, *, created: bool) -> tuple[Result, str]:
        """Record what an error means for the item's job; never loses a project id."""
        if created:
            if isinstance(exc, (JobError, NotFoundError)):
                return self._failed(key, exc), "failed"
            self.ledger.note(key, str(exc))  # the job goes on; a rerun polls it
            return exc, "failed"
        if _refused(exc):
            self.ledger.pending(key, str(exc))  # no job was made; a rerun may try again
            if self.writer is not None:
                self.writer.not_created(key, exc.code)
            return exc, "failed"
        if not isinstance(exc, CreateOutcomeUnknown):
            exc = _as_unknown(exc)
        self.ledger.unknown(key, str(exc))
        if self.writer is not None:
            self.writer.lost(key)
        return exc, "unknown"

    def _failed(self, key: str, exc: MagicHourError) -> MagicHourError:
        project = exc.project if isinstance(exc, JobError) else None
        credits = project.credits_charged if project else self._credits.get(key, 0)
        self._credits[key] = credits
        raw = project.model_dump() if project else None
        self.ledger.failed(key, str(exc), raw, credits)
        if self.writer is not None and project is not None:
            charged = self._credits.get(key, 0)
            refunded = charged > 0 and project.credits_charged == 0
            self.writer.seen(
                project.id,
                project.status,
                error_code=project.error.code if project.error else None,
                credits=None if refunded else project.credits_charged,
                refunded=charged if refunded else None,
            )
        return exc

    def _complete(self, key: str, project: ImageProject) -> ImageProject:
        files = []
        for path in project.downloaded_paths or []:
            p = Path(path)
            files.append((p.name, p.stat().st_size))
        self._credits[key] = project.credits_charged
        self.ledger.complete(key, project.model_dump(), files, project.credits_charged)
        if self.writer is not None:
            self.writer.seen(project.id, "complete", credits=project.credits_charged)
            self.writer.collected(project.id, list(project.downloaded_paths or []))
        return project

    def _reuse(self, entry: Entry) -> ImageProject | None:
        """The stored result if every file is still there at its recorded size, else None."""
        paths = []
        for name, size in entry.files:
            path = self.directory / name
            try:
                ok = path.is_file() and path.stat().st_size == size
            except OSError:
                ok = False
            if not ok:
                self._reopen(entry, f"{name} was missing or changed; downloading again")
                return None
            paths.append(str(path))
        if not entry.project or not paths:
            self._reopen(entry, "no record of the files; downloading again")
            return None
        return _project(entry.project).with_paths(paths)

    def _reopen(self, entry: Entry, why: str) -> None:
        self.ledger.reopen(entry.key, why)
        entry.state = "created"

    def _remove_stale_parts(self, entries: Iterable[Entry]) -> None:
        """Temporary downloads of this ledger's jobs left by a killed run (never whole files)."""
        stems = {safe_stem(e.project_id) for e in entries if e.project_id and e.state != "complete"}
        for part in self.directory.glob(".*.part"):  # named .{stem}.{hex}.part; stems lack dots
            if part.name[1:].split(".", 1)[0] in stems:
                with contextlib.suppress(OSError):
                    part.unlink()

    # -- counts and events -------------------------------------------------------------

    def _finish(self, index: int, result: Result, state: str, reused: bool = False) -> None:
        self.results[index] = result
        if state not in ("complete", "failed", "unknown", "skipped"):
            raise RuntimeError(f"internal error: unknown batch item state {state!r}")
        self.counts = replace(
            self.counts,
            **{state: getattr(self.counts, state) + 1},
            reused=self.counts.reused + reused,
            credits=sum(self._credits.values()),
        )
        self._send(BatchProgress(self.counts, str(self.ledger.path), index, None, result))

    def _update(self, running: int = 0) -> None:
        self.counts = replace(
            self.counts,
            running=self.counts.running + running,
            credits=sum(self._credits.values()),
        )
        self._send(BatchProgress(self.counts, str(self.ledger.path)))

    def _send(self, progress: BatchProgress) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(progress)
        except Exception:  # a broken progress callback must not lose the batch
            log.exception("batch progress callback failed; ignored")


def _ours(entry: Entry) -> Callable[[str, int], bool]:
    """A file placed under the job's name is its output, unless recorded at another size.

    A killed run can place a file and die before the ledger hears of it; a rerun uses that
    file rather than downloading a second copy. A recorded file the user changed stays theirs.
    """
    recorded = dict(entry.files)

    def adopt(name: str, size: int) -> bool:
        return recorded.get(name, size) == size

    return adopt


def _not_sent(cause: MagicHourError) -> MagicHourError:
    """The error of an item not sent because ``cause`` would have failed it too."""
    return type(cause)(
        f"not sent: an earlier item failed with {cause.message}",
        status_code=cause.status_code,
        code=cause.code,
    )


def _refused(exc: MagicHourError) -> bool:
    """True when the create certainly made no job: a 4xx answer, or never sent at all."""
    if isinstance(exc, ValidationError):
        return True
    if isinstance(exc, APIStatusError):
        return exc.status_code is not None and exc.status_code < 500
    return type(exc) is NetworkError  # connect failures; CreateOutcomeUnknown is a subclass


def _as_unknown(exc: MagicHourError) -> CreateOutcomeUnknown:
    return CreateOutcomeUnknown(
        f"{exc}; the create may have made a job (and charged for it) whose id never arrived"
    )


def _unknown_error(entry: Entry) -> CreateOutcomeUnknown:
    return CreateOutcomeUnknown(
        f"an earlier run sent this item's create but never learned its answer "
        f"({entry.error or 'no detail'}); the job may exist and may have been charged. "
        "Check your Magic Hour library, then pass retry_unknown=True (CLI: --retry-unknown) "
        "to create it again"
    )


def _skipped(entry: Entry) -> MagicHourError:
    """An item left unsent by a collect-only run."""
    return MagicHourError(
        "never sent, and not created now (collect only): resume without collect_only "
        "(CLI: without --collect-only) to create it",
        code="not_sent",
    )


def _stored_error(entry: Entry) -> MagicHourError:
    note = "(from an earlier run; pass retry_failed=True, CLI --retry-failed, to create it again)"
    text = f"{entry.error or 'failed'} {note}"
    if entry.project:
        project = _project(entry.project)
        if project.status == "error":
            code = project.error.code if project.error else None
            return JobFailedError(text, project=project, code=code)
        return JobCanceledError(text, project=project)
    return MagicHourError(text, project_id=entry.project_id)


def _project(raw: dict[str, Any]) -> ImageProject:
    data = dict(raw)
    data.pop("downloaded_paths", None)
    return ImageProject.from_json(data)
