"""The async API surface, shaped like the vendor SDK's ``client.v1`` (request shapes only)."""

from __future__ import annotations

import io
import mimetypes
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from ..contract import ACCOUNT_PATH, UPLOAD_TYPES, UPLOAD_URLS_PATH
from . import validation as check
from . import workflow
from .endpoints import Endpoints, project_path
from .errors import MagicHourError, NetworkError, ValidationError
from .models import Account, CreateResponse, Emit, Event, ImageProject, UploadUrlsResponse
from .options import GenerateOptions, RequestOptions
from .options import check_request_options as _options
from .params import DEFAULT_GENERATE_TIMEOUT, GenerateParams, spelled_out
from .records import NO_RECORDS, JobRecords
from .settings import PollPolicy, parse_retry_after
from .transport import Transient, Transport, transient_status

if TYPE_CHECKING:
    from typing_extensions import Unpack

UPLOAD_CHUNK = 256 * 1024


class AsyncImageProjects:
    """``client.v1.image_projects``: read, wait for, and delete projects."""

    def __init__(self, api: Endpoints) -> None:
        self._api = api

    async def get(self, *, id: str, request_options: RequestOptions | None = None) -> ImageProject:
        """The project's current state (retried on 429, 5xx and network errors)."""
        project_path(id)
        return await self._api.fetch(id, None, **_options(request_options))

    async def delete(self, *, id: str, request_options: RequestOptions | None = None) -> None:
        """Delete the project and its outputs for good (a retry's 404 counts as deleted)."""
        project_path(id)
        await self._api.delete(id, **_options(request_options))

    async def check_result(
        self,
        id: str,
        wait_for_completion: bool = True,
        download_outputs: bool = True,
        download_directory: str | os.PathLike[str] | None = None,
        *,
        timeout: float | None = DEFAULT_GENERATE_TIMEOUT,
        poll_interval: float | PollPolicy | None = None,
        on_event: Emit | None = None,
    ) -> ImageProject:
        """Wait for an existing project and download its outputs, as ``generate`` does.

        The way to pick a job up again from the ``project_id`` an error carried.
        """
        project_path(id)
        options = GenerateOptions.waiting(
            wait_for_completion=wait_for_completion,
            download_outputs=download_outputs,
            download_directory=download_directory,
            timeout=timeout,
            poll_interval=poll_interval,
        )
        return await workflow.resume(self._api, id, options, on_event)


class AsyncAiGifGenerator:
    """``client.v1.ai_gif_generator``: ``create``, ``generate`` and ``stream``.

    ``magicgif_widget.AsyncClient``'s adds ``generate_many`` (``batching/generator.py``).
    """

    def __init__(self, api: Endpoints) -> None:
        self._api = api

    async def create(
        self,
        *,
        style: Mapping[str, Any],
        name: str | None = None,
        output_format: str | None = None,
        request_options: RequestOptions | None = None,
        on_event: Emit | None = None,
    ) -> CreateResponse:
        """Start a job (costs credits); returns its id. Never re-sent if it may have arrived."""
        options = GenerateOptions.check(
            style=style, name=name, output_format=output_format, request_options=request_options
        )
        return await workflow.create(self._api, options.body, on_event, options.request)

    @spelled_out
    async def generate(
        self,
        *,
        style: Mapping[str, Any],
        on_event: Emit | None = None,
        request_options: RequestOptions | None = None,
        **params: Unpack[GenerateParams],
    ) -> ImageProject:
        """Create a job, wait for it, download its outputs; raises typed errors with the id.

        ``timeout`` bounds the whole run; ``on_event`` receives each progress event.
        """
        options = GenerateOptions.check(style=style, request_options=request_options, **params)
        return await workflow.generate(self._api, options, on_event)

    @spelled_out
    def stream(
        self, *, style: Mapping[str, Any], **params: Unpack[GenerateParams]
    ) -> AsyncIterator[Event]:
        """``generate`` as an async iterator of events, ending with ``Completed``."""
        options = GenerateOptions.check(style=style, **params)
        return workflow.stream(self._api, options)


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
            UPLOAD_URLS_PATH,
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
        """PUT the bytes to the signed URL, through the transport's retry loop."""
        transport = self._transport
        if not transport.settings.url_allowed(url):
            raise ValidationError("upload_url", "the server returned a non-https upload URL")
        start = handle.tell()

        async def once(tries: int) -> None:
            handle.seek(start)
            try:
                response = await transport.files.put(
                    url, content=_chunks(handle, size), headers={"content-length": str(size)}
                )
            except httpx.TransportError as exc:
                reason = transport.redact(f"{type(exc).__name__}: {exc}"[:200])
                raise Transient(
                    reason, lambda n: NetworkError(f"upload: {reason} after {n} tries")
                ) from None
            status = response.status_code
            if status < 300:
                return
            wait = parse_retry_after(response.headers.get("retry-after"))
            if transient_status(status, idempotent=True):
                raise Transient(
                    f"HTTP {status}",
                    lambda n: transport.error_from(response, "upload", None, wait, n),
                    wait,
                    status,
                )
            raise transport.error_from(response, "upload", None, wait)

        await transport.retrying(once, operation="upload")


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
            "GET", ACCOUNT_PATH, operation="account", **_options(request_options)
        )
        return Account.from_json(self._transport.json(response, "account"))


class AsyncV1:
    """``client.v1``; each job's life goes to ``records``."""

    generator: type[AsyncAiGifGenerator] = AsyncAiGifGenerator

    def __init__(self, transport: Transport, records: JobRecords = NO_RECORDS) -> None:
        api = Endpoints(transport, records)
        self.image_projects = AsyncImageProjects(api)
        self.ai_gif_generator = self.generator(api)
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
