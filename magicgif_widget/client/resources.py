"""The async API surface, shaped like the vendor SDK's ``client.v1`` (request shapes only)."""

from __future__ import annotations

import asyncio
import io
import mimetypes
import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit

import httpx

from ..contract import UPLOAD_TYPES
from . import batch, workflow
from . import validation as check
from .batch import BatchProgress, BatchResults
from .errors import (
    CreateOutcomeUnknown,
    InvalidResponseError,
    MagicHourError,
    NetworkError,
    ValidationError,
)
from .models import Account, CreateResponse, Event, ImageProject, UploadUrlsResponse
from .settings import PollPolicy
from .transport import OnRetry, Transport, parse_retry_after

DEFAULT_GENERATE_TIMEOUT = 900.0  # seconds: create to downloaded file
UPLOAD_CHUNK = 256 * 1024
RequestOptions = Mapping[str, Any]


def _options(request_options: RequestOptions | None) -> dict[str, Any]:
    """The vendor's ``request_options``: ``timeout`` and ``additional_headers`` are honoured."""
    if not request_options:
        return {}
    if not isinstance(request_options, Mapping):
        raise ValidationError("request_options", "must be a dict")
    out: dict[str, Any] = {}
    if request_options.get("timeout") is not None:
        out["timeout"] = check.check_positive("request_options.timeout", request_options["timeout"])
    headers = request_options.get("additional_headers")
    if headers:
        if not isinstance(headers, Mapping):
            raise ValidationError("request_options.additional_headers", "must be a dict")
        if any(str(k).lower() == "authorization" for k in headers):
            raise ValidationError(
                "request_options.additional_headers",
                "must not set Authorization; pass token= to the client",
            )
        out["headers"] = {str(k): str(v) for k, v in headers.items()}
    return out


def _project_path(project_id: Any) -> str:
    if not isinstance(project_id, str) or not project_id.strip():
        raise ValidationError("id", f"must be a non-empty string, got {project_id!r:.40}")
    return f"/v1/image-projects/{quote(project_id, safe='')}"


class AsyncImageProjects:
    """``client.v1.image_projects``: read, wait for, and delete projects."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def get(self, *, id: str, request_options: RequestOptions | None = None) -> ImageProject:
        """The project's current state (retried on 429, 5xx and network errors)."""
        return await self.fetch(id, None, **_options(request_options))

    async def delete(self, *, id: str, request_options: RequestOptions | None = None) -> None:
        """Delete the project and its outputs for good (a retry's 404 counts as deleted)."""
        path = _project_path(id)
        await self.transport.call(
            "DELETE",
            path,
            operation="delete",
            project_id=id,
            done_if_retry_finds=404,
            **_options(request_options),
        )

    async def check_result(
        self,
        id: str,
        wait_for_completion: bool = True,
        download_outputs: bool = True,
        download_directory: str | os.PathLike[str] | None = None,
        *,
        timeout: float | None = DEFAULT_GENERATE_TIMEOUT,
        poll_interval: float | PollPolicy | None = None,
        on_event: workflow.Emit | None = None,
    ) -> ImageProject:
        """Wait for an existing project and download its outputs, as ``generate`` does.

        The way to pick a job up again from the ``project_id`` an error carried.
        """
        if not isinstance(id, str) or not id.strip():
            raise ValidationError("id", f"must be a non-empty string, got {id!r:.40}")
        request = _request(
            self.transport,
            {},
            wait_for_completion,
            download_outputs,
            download_directory,
            timeout,
            poll_interval,
        )
        return await workflow.resume(self, id, request, on_event)

    async def fetch(
        self, project_id: str, on_retry: OnRetry | None, **options: Any
    ) -> ImageProject:
        """One read of the project (the workflow's poll)."""
        response = await self.transport.call(
            "GET",
            _project_path(project_id),
            operation="poll",
            project_id=project_id,
            on_retry=on_retry,
            **options,
        )
        data = self.transport.json(response, "poll", project_id)
        return ImageProject.from_json(data, project_id=project_id)


class AsyncAiGifGenerator:
    """``client.v1.ai_gif_generator``: ``create``, ``generate`` and ``stream``."""

    def __init__(self, transport: Transport, projects: AsyncImageProjects) -> None:
        self.transport = transport
        self._projects = projects

    async def create(
        self,
        *,
        style: Mapping[str, Any],
        name: str | None = None,
        output_format: str | None = None,
        request_options: RequestOptions | None = None,
        on_event: workflow.Emit | None = None,
    ) -> CreateResponse:
        """Start a job (costs credits); returns its id. Never re-sent if it may have arrived."""
        body = self._body(style, name, output_format)
        return await workflow.create(self, body, on_event, _options(request_options))

    async def generate(
        self,
        *,
        style: Mapping[str, Any],
        name: str | None = None,
        output_format: str | None = None,
        wait_for_completion: bool = True,
        download_outputs: bool = True,
        download_directory: str | os.PathLike[str] | None = None,
        timeout: float | None = DEFAULT_GENERATE_TIMEOUT,
        poll_interval: float | PollPolicy | None = None,
        on_event: workflow.Emit | None = None,
        request_options: RequestOptions | None = None,
    ) -> ImageProject:
        """Create a job, wait for it, download its outputs; raises typed errors with the id.

        ``timeout`` bounds the whole run; ``on_event`` receives each progress event.
        """
        request = self._request(
            style,
            name,
            output_format,
            wait_for_completion,
            download_outputs,
            download_directory,
            timeout,
            poll_interval,
            request_options,
        )
        return await workflow.generate(self, request, on_event)

    def stream(
        self,
        *,
        style: Mapping[str, Any],
        name: str | None = None,
        output_format: str | None = None,
        wait_for_completion: bool = True,
        download_outputs: bool = True,
        download_directory: str | os.PathLike[str] | None = None,
        timeout: float | None = DEFAULT_GENERATE_TIMEOUT,
        poll_interval: float | PollPolicy | None = None,
    ) -> AsyncIterator[Event]:
        """``generate`` as an async iterator of events, ending with ``Completed``."""
        request = self._request(
            style,
            name,
            output_format,
            wait_for_completion,
            download_outputs,
            download_directory,
            timeout,
            poll_interval,
        )
        return workflow.stream(self, request)

    async def generate_many(
        self,
        items: Iterable[str | Mapping[str, Any]],
        *,
        download_directory: str | os.PathLike[str],
        concurrency: int = 4,
        output_format: str | None = None,
        retry_failed: bool = False,
        retry_unknown: bool = False,
        timeout: float | None = DEFAULT_GENERATE_TIMEOUT,
        poll_interval: float | PollPolicy | None = None,
        progress: bool = True,
        on_event: Callable[[BatchProgress], None] | None = None,
    ) -> BatchResults:
        """``generate`` for many items (prompts or dicts of its arguments), ``concurrency`` at once.

        Results come in input order, each an ``ImageProject`` or that item's typed error. A
        ledger in ``download_directory`` makes a rerun resume: jobs already created are polled,
        never created again; failed and unknown items are re-created only on request.
        """
        template, bodies, options = self._batch_args(
            items, download_directory, concurrency, output_format, timeout, poll_interval
        )
        for flag, value in (("retry_failed", retry_failed), ("retry_unknown", retry_unknown)):
            if not isinstance(value, bool):
                raise ValidationError(flag, f"must be True or False, got {value!r:.40}")
        bar = None
        if progress:
            from .batchbar import BatchBar

            bar = BatchBar()

        def relay(event: BatchProgress) -> None:
            if bar is not None:
                bar(event)
            if on_event is not None:
                on_event(event)

        try:
            return await batch.generate_many(
                self,
                bodies,
                template,
                server=self.transport.settings.base_url,
                concurrency=options,
                retry_failed=retry_failed,
                retry_unknown=retry_unknown,
                sandbox=self.transport.settings.sandbox,
                on_event=relay,
            )
        finally:
            if bar is not None:
                bar.close()

    def _batch_args(
        self,
        items: Any,
        directory: Any,
        concurrency: Any,
        output_format: Any,
        timeout: Any,
        poll_interval: Any,
    ) -> tuple[workflow.GenerateRequest, list[dict[str, Any] | ValidationError], int]:
        """Checked batch arguments; a bad item becomes that item's error, not the batch's."""
        if directory is None:
            raise ValidationError(
                "download_directory", "is required for a batch (its ledger lives there)"
            )
        if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
            raise ValidationError(
                "items", "must be a list of prompts or of dicts of generate() arguments"
            )
        items = list(items)
        if not items:
            raise ValidationError("items", "is empty")
        fmt = check.check_output_format(output_format)
        width = batch.check_concurrency(concurrency)
        template = _request(self.transport, {}, True, True, directory, timeout, poll_interval)
        bodies: list[dict[str, Any] | ValidationError] = []
        for index, item in enumerate(items):
            try:
                bodies.append(batch.normalize(item, index, fmt))
            except ValidationError as exc:
                bodies.append(exc)
        return template, bodies, width

    # -- the workflow's Api ------------------------------------------------------------

    async def send_create(
        self, body: dict[str, Any], on_retry: OnRetry | None, **options: Any
    ) -> CreateResponse:
        response = await self.transport.call(
            "POST",
            "/v1/ai-gif-generator",
            operation="create",
            json=body,
            idempotent=False,
            on_retry=on_retry,
            **options,
        )
        try:
            return CreateResponse.from_json(self.transport.json(response, "create"))
        except InvalidResponseError as exc:
            raise CreateOutcomeUnknown(
                f"{exc.message}; the create was answered with HTTP {response.status_code}, so the "
                "job probably exists and was charged, but its id could not be read"
            ) from None

    async def fetch(self, project_id: str, on_retry: OnRetry | None) -> ImageProject:
        return await self._projects.fetch(project_id, on_retry)

    # -- argument checks ---------------------------------------------------------------

    @staticmethod
    def _body(style: Any, name: Any, output_format: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"style": check.check_style(style)}
        name = check.check_name(name)
        fmt = check.check_output_format(output_format)
        if name is not None:
            body["name"] = name
        if fmt is not None:
            body["output_format"] = fmt
        return body

    def _request(
        self,
        style: Any,
        name: Any,
        output_format: Any,
        wait: Any,
        download: Any,
        directory: Any,
        timeout: Any,
        poll_interval: Any,
        request_options: RequestOptions | None = None,
    ) -> workflow.GenerateRequest:
        body = self._body(style, name, output_format)
        return _request(
            self.transport,
            body,
            wait,
            download,
            directory,
            timeout,
            poll_interval,
            _options(request_options),
        )


def _request(
    transport: Transport,
    body: dict[str, Any],
    wait: Any,
    download: Any,
    directory: Any,
    timeout: Any,
    poll_interval: Any,
    options: dict[str, Any] | None = None,
) -> workflow.GenerateRequest:
    """Checked workflow arguments; the download directory is created when it will be used."""
    for field, value in (("wait_for_completion", wait), ("download_outputs", download)):
        if not isinstance(value, bool):
            raise ValidationError(field, f"must be True or False, got {value!r:.40}")
    path = check.check_directory(directory, create=True) if wait and download else None
    if isinstance(poll_interval, PollPolicy):
        poll = poll_interval
    elif poll_interval is None:
        poll = transport.settings.poll
    else:
        poll = PollPolicy(interval=check.check_positive("poll_interval", poll_interval) or 0.5)
    return workflow.GenerateRequest(
        body=body,
        wait=wait,
        download=download,
        directory=path,
        timeout=check.check_positive("timeout", timeout),
        poll=poll,
        options=options or {},
    )


class AsyncUploadUrls:
    """``client.v1.files.upload_urls``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def create(
        self, *, items: list[Mapping[str, Any]], request_options: RequestOptions | None = None
    ) -> UploadUrlsResponse:
        """Signed upload URLs, in request order, for ``[{"extension": "png", "type": "image"}]``."""
        body = {"items": check.check_upload_items(items)}
        response = await self._transport.call(
            "POST",
            "/v1/files/upload-urls",
            operation="upload-urls",
            json=body,
            **_options(request_options),
        )
        return UploadUrlsResponse.from_json(self._transport.json(response, "upload-urls"))


class AsyncFiles:
    """``client.v1.files``: upload URLs and a streamed upload helper."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self.upload_urls = AsyncUploadUrls(transport)

    async def upload_file(self, file: str | os.PathLike[str] | IO[bytes]) -> str:
        """Upload a local file (path or binary file object with a name); returns its ``file_path``.

        URLs and ``api-assets/...`` paths are returned unchanged, as the vendor SDK does.
        """
        if isinstance(file, str) and (
            urlsplit(file).scheme in ("http", "https") or file.startswith("api-assets/")
        ):
            return file
        handle, size, ext, kind, owned = _open_upload(file)
        try:
            signed = await self.upload_urls.create(items=[{"extension": ext, "type": kind}])
            target = signed.items[0]
            await self._put(target.upload_url, handle, size)
            return target.file_path
        finally:
            if owned:
                handle.close()

    async def _put(self, url: str, handle: IO[bytes], size: int) -> None:
        transport = self._transport
        if not transport.settings.url_allowed(url):
            raise ValidationError("upload_url", "the server returned a non-https upload URL")
        policy = transport.settings.retry
        start = handle.tell()
        for attempt in range(1, policy.attempts + 1):
            handle.seek(start)
            try:
                response = await transport.files.put(
                    url,
                    content=_chunks(handle, size),
                    headers={"content-length": str(size)},
                )
            except httpx.TransportError as exc:
                reason = transport.redact(f"{type(exc).__name__}: {exc}"[:200])
                if attempt == policy.attempts:
                    raise NetworkError(f"upload: {reason} after {attempt} tries") from None
                await asyncio.sleep(policy.delay(attempt))
                continue
            if response.status_code < 300:
                return
            transient = response.status_code == 429 or response.status_code >= 500
            if not transient or attempt == policy.attempts:
                raise transport.error_from(response, "upload", None)
            await asyncio.sleep(
                policy.delay(attempt, parse_retry_after(response.headers.get("retry-after")))
            )


async def _chunks(handle: IO[bytes], size: int) -> AsyncIterator[bytes]:
    left = size
    while left > 0:
        chunk = handle.read(min(UPLOAD_CHUNK, left))
        if not chunk:
            raise MagicHourError("upload: the file shrank while it was being sent")
        left -= len(chunk)
        yield chunk


def _open_upload(file: Any) -> tuple[IO[bytes], int, str, str, bool]:
    """(handle, size, extension, type, opened_here) for a path or a named binary file object."""
    if isinstance(file, (str, os.PathLike)):
        path = Path(file)
        if not path.is_file():
            raise ValidationError("file", f"{os.fspath(file)!r} is not a file")
        ext, kind = _kind_of(path.name)
        handle = path.open("rb")
        return handle, path.stat().st_size, ext, kind, True
    if isinstance(file, io.IOBase) or hasattr(file, "read"):
        name = getattr(file, "name", None)
        if not isinstance(name, str):
            raise ValidationError("file", "a file object needs a str .name to tell its type")
        if isinstance(file, io.TextIOBase):
            raise ValidationError("file", "open the file in binary mode ('rb')")
        ext, kind = _kind_of(name)
        here = file.tell()
        size = file.seek(0, os.SEEK_END) - here
        file.seek(here)
        return file, size, ext, kind, False
    raise ValidationError(
        "file", f"must be a path or a binary file object, got {type(file).__name__}"
    )


def _kind_of(name: str) -> tuple[str, str]:
    ext = Path(name).suffix.lstrip(".").lower()
    mime, _ = mimetypes.guess_type(name, strict=False)
    for kind in UPLOAD_TYPES:
        if mime and mime.startswith(kind + "/") and ext:
            return ext, kind
    raise ValidationError("file", f"cannot tell an image, video or audio type from {name!r}")


class AsyncAccount:
    """``client.v1.account``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def get(self, *, request_options: RequestOptions | None = None) -> Account:
        """The account behind the token, with the credits left to spend."""
        response = await self._transport.call(
            "GET", "/v1/account", operation="account", **_options(request_options)
        )
        return Account.from_json(self._transport.json(response, "account"))


class AsyncV1:
    """``client.v1``."""

    def __init__(self, transport: Transport) -> None:
        self.image_projects = AsyncImageProjects(transport)
        self.ai_gif_generator = AsyncAiGifGenerator(transport, self.image_projects)
        self.files = AsyncFiles(transport)
        self.account = AsyncAccount(transport)


__all__ = [
    "DEFAULT_GENERATE_TIMEOUT",
    "AsyncAccount",
    "AsyncAiGifGenerator",
    "AsyncFiles",
    "AsyncImageProjects",
    "AsyncUploadUrls",
    "AsyncV1",
    "MagicHourError",
]
