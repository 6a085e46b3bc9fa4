"""``generate_many`` on ``client.v1.ai_gif_generator``, async and sync, and the batch it runs.

``AsyncV1`` and ``V1`` are the API client's with this generator in place of the plain one;
``magicgif_widget.Client`` uses them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from ..client import clients, resources, workflow
from ..client import validation as check
from ..client.errors import GenerationInterrupted, ValidationError
from ..client.limits import SpendLimit, limits_for
from ..client.options import GenerateOptions
from ..client.params import DEFAULT_GENERATE_TIMEOUT
from ..client.settings import PollPolicy
from ..jobstore.batch_writer import BatchWriter
from ..jobstore.ledger import LEDGER_NAME, Ledger
from .bar import BatchBar
from .results import BatchInterrupted, BatchProgress, BatchResults, check_concurrency, normalize
from .run import Batch

if TYPE_CHECKING:
    from typing_extensions import Unpack


class BatchParams(TypedDict, total=False):
    """The async ``generate_many``'s keywords that the sync one forwards (all but ``items``,
    ``progress`` and ``on_event``); their defaults are the async signature's."""

    download_directory: str | os.PathLike[str] | None
    resume: str | os.PathLike[str] | None
    collect_only: bool
    concurrency: int
    output_format: str | None
    retry_failed: bool
    retry_unknown: bool
    spend_limit: int | str | SpendLimit | None
    timeout: float | None
    poll_interval: float | PollPolicy | None


class AsyncAiGifGenerator(resources.AsyncAiGifGenerator):
    """``client.v1.ai_gif_generator`` with ``generate_many``."""

    async def generate_many(
        self,
        items: Iterable[str | Mapping[str, Any]] | None = None,
        *,
        download_directory: str | os.PathLike[str] | None = None,
        resume: str | os.PathLike[str] | None = None,
        collect_only: bool = False,
        concurrency: int = 4,
        output_format: str | None = None,
        retry_failed: bool = False,
        retry_unknown: bool = False,
        spend_limit: int | str | SpendLimit | None = None,
        timeout: float | None = DEFAULT_GENERATE_TIMEOUT,
        poll_interval: float | PollPolicy | None = None,
        progress: bool = True,
        on_event: Callable[[BatchProgress], None] | None = None,
    ) -> BatchResults:
        """``generate`` for many items (prompts or dicts of its arguments), ``concurrency`` at once.

        Results come in input order, each an ``ImageProject`` or that item's typed error. A
        ledger in ``download_directory`` makes a rerun resume: jobs already created are polled,
        never created again; failed and unknown items are re-created only on request.
        ``resume=DIR`` continues the batch or gallery recorded in DIR (items, names, formats,
        ids) with no items given; ``collect_only`` then creates nothing, only collects. The
        whole batch is refused before anything is sent if its creates would pass
        ``spend_limit`` (and the client's limits) or the account's balance.
        """
        if resume is not None:
            if items is not None:
                raise ValidationError("resume", "give items or resume=DIR, not both")
            if download_directory is not None and Path(download_directory) != Path(resume):
                raise ValidationError(
                    "download_directory", "a resumed batch downloads to its own folder (resume=)"
                )
            download_directory = resume
        elif items is None:
            raise ValidationError("items", "give the items, or resume= a batch's folder")
        template, bodies, width = _batch_args(
            items, download_directory, concurrency, output_format, timeout, poll_interval
        )
        flags = (
            ("retry_failed", retry_failed),
            ("retry_unknown", retry_unknown),
            ("collect_only", collect_only),
        )
        for flag, value in flags:
            if not isinstance(value, bool):
                raise ValidationError(flag, f"must be True or False, got {value!r:.40}")
        settings = self._api.transport.settings
        limits = settings.spend_limits + limits_for(spend_limit)
        if settings.sandbox:
            limits = ()
        elif limits and not settings.journal:
            raise ValidationError("spend_limit", "is counted in the job journal (journal=False)")
        bar = None
        if progress:
            bar = BatchBar()

        def relay(event: BatchProgress) -> None:
            if bar is not None:
                bar(event)
            if on_event is not None:
                on_event(event)

        try:
            return await run_batch(
                self._api,
                bodies,
                template,
                server=settings.base_url,
                concurrency=width,
                retry_failed=retry_failed,
                retry_unknown=retry_unknown,
                sandbox=settings.sandbox,
                on_event=relay,
                collect_only=collect_only,
                journal=settings.journal,
                surface=settings.surface,
                limits=tuple(dict.fromkeys(limits)),
            )
        finally:
            if bar is not None:
                bar.close()


class AiGifGenerator(clients.AiGifGenerator):
    """The sync ``client.v1.ai_gif_generator`` with ``generate_many``."""

    def generate_many(
        self,
        items: Iterable[str | Mapping[str, Any]] | None = None,
        *,
        progress: bool = True,
        on_event: Callable[[BatchProgress], None] | None = None,
        **kwargs: Unpack[BatchParams],
    ) -> BatchResults:
        """``generate`` for many items at once, resumable; see ``AsyncClient``'s twin.

        The bar and ``on_event`` run in this thread; Ctrl-C raises ``BatchInterrupted``.
        """
        inner: AsyncAiGifGenerator = self._inner
        items = list(items) if isinstance(items, Iterable) and not isinstance(items, str) else items
        bar = BatchBar() if progress else None
        last: list[BatchProgress] = []

        def relay(event: Any) -> None:
            last[:] = [event]
            if bar is not None:
                bar(event)
            if on_event is not None:
                on_event(event)

        try:
            return self._runner.run_events(
                lambda emit: inner.generate_many(items, progress=False, on_event=emit, **kwargs),
                relay,
            )
        except GenerationInterrupted:
            counts = last[0].counts if last else None
            folder = kwargs.get("resume") or kwargs.get("download_directory") or "."
            where = last[0].ledger_path if last else str(Path(folder) / LEDGER_NAME)
            raise BatchInterrupted(counts, where) from None
        finally:
            if bar is not None:
                bar.close()


class AsyncV1(resources.AsyncV1):
    """``client.v1`` whose generator runs batches."""

    generator = AsyncAiGifGenerator
    ai_gif_generator: AsyncAiGifGenerator


class V1(clients.V1):
    """The sync ``client.v1`` whose generator runs batches."""

    generator = AiGifGenerator
    ai_gif_generator: AiGifGenerator


def _batch_args(
    items: Any,
    directory: Any,
    concurrency: Any,
    output_format: Any,
    timeout: Any,
    poll_interval: Any,
) -> tuple[GenerateOptions, list[dict[str, Any] | ValidationError] | None, int]:
    """Checked batch arguments; a bad item becomes that item's error, not the batch's."""
    if directory is None:
        raise ValidationError(
            "download_directory", "is required for a batch (its ledger lives there)"
        )
    fmt = check.check_output_format(output_format)
    width = check_concurrency(concurrency)
    if items is not None:
        if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
            raise ValidationError(
                "items", "must be a list of prompts or of dicts of generate() arguments"
            )
        items = list(items)
        if not items:
            raise ValidationError("items", "is empty")
    template = GenerateOptions.waiting(
        download_directory=directory, timeout=timeout, poll_interval=poll_interval
    )
    if items is None:  # resumed: the ledger has the items
        return template, None, width
    bodies: list[dict[str, Any] | ValidationError] = []
    for index, item in enumerate(items):
        try:
            bodies.append(normalize(item, index, fmt))
        except ValidationError as exc:
            bodies.append(exc)
    return template, bodies, width


async def run_batch(
    api: workflow.Api,
    items: list[dict[str, Any] | ValidationError] | None,
    template: GenerateOptions,
    *,
    server: str,
    concurrency: int,
    retry_failed: bool,
    retry_unknown: bool,
    sandbox: bool,
    on_event: Callable[[BatchProgress], None] | None,
    collect_only: bool = False,
    journal: bool = True,
    surface: str = "python",
    limits: tuple[SpendLimit, ...] = (),
) -> BatchResults:
    """Run the batch over the ledger of ``template.directory``; see ``Batch``. With ``items``
    None the batch resumes from what the ledger recorded (its items, names, formats, ids)."""
    if template.directory is None:
        raise ValidationError(
            "download_directory", "is required for a batch (its ledger lives there)"
        )
    with Ledger(template.directory, server, surface) as ledger:
        if items is None:
            recorded = ledger.items()
            if not recorded:
                raise ValidationError(
                    "resume", f"the batch in {template.directory} records no items to resume"
                )
            items = [dict(e.request) for e in recorded]
        writer = None
        if journal and not sandbox:
            writer = BatchWriter.open(
                server=server,
                surface=ledger.surface,
                batch=ledger.batch_id,
                directory=ledger.directory.resolve(),
                limits=limits,
            )
        batch = Batch(
            api,
            ledger,
            items,
            template,
            concurrency=concurrency,
            retry_failed=retry_failed,
            retry_unknown=retry_unknown,
            sandbox=sandbox,
            on_event=on_event,
            writer=writer,
            collect_only=collect_only,
        )
        return await batch.run()
