"""Streamed, atomic, collision-free downloads of a project's outputs."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import httpx

from ..contract import MEDIA_TYPES
from .errors import DownloadError
from .models import Download, DownloadProgress, Emit, ImageProject
from .settings import parse_retry_after
from .transport import Transient, Transport, transient_status

log = logging.getLogger("magicgif_widget")

CHUNK = 64 * 1024
PROGRESS_EVERY = 0.1  # seconds between DownloadProgress events for one file
_SAFE = re.compile(r"[^A-Za-z0-9_-]+")
_MEDIA_EXT = {media: ext for ext, media in MEDIA_TYPES.items()} | {"image/png": "png"}
MEDIA_EXTENSIONS = frozenset({*MEDIA_TYPES, "png", "jpg", "jpeg", "webp", "mov"})
NOT_MEDIA = ("text/html", "application/json", "text/plain", "application/xml", "text/xml")

Refresh = Callable[[], Awaitable[ImageProject]]
Adopt = Callable[[str, int], bool]  # (file name, size): is this placed file the output?


def _retry(
    reason: str,
    project_id: str,
    retry_after: float | None = None,
    status: int = 0,
    *,
    expired: bool = False,
) -> Transient:
    """A transient failure of one download try, and the error once tries run out."""

    def fail(tries: int) -> DownloadError:
        return DownloadError(
            f"download failed: {reason} after {tries} tries", project_id=project_id
        )

    return Transient(reason, fail, retry_after, status, expired=expired)


def safe_stem(project_id: str) -> str:
    """A file-name stem from a project id that cannot leave the directory or hide itself."""
    stem = _SAFE.sub("_", project_id).strip("_-")[:80]
    return stem or "output"


def file_extension(url: str, content_type: str | None, fallback: str) -> str:
    """A media extension from the URL path, else from the media type, else ``fallback``.

    Only media extensions are used, so a server cannot make us write ``.html`` or ``.exe``.
    """
    suffix = PurePosixPath(urlsplit(url).path).suffix.lstrip(".").lower()
    if suffix in MEDIA_EXTENSIONS:
        return suffix
    media = (content_type or "").split(";")[0].strip().lower()
    return _MEDIA_EXT.get(media, fallback)


def place(temp: Path, directory: Path, stem: str, ext: str) -> Path:
    """Move ``temp`` to ``stem.ext`` (or ``stem-2.ext``, ...) without ever replacing a file."""
    for n in range(1, 10_000):
        target = directory / (f"{stem}.{ext}" if n == 1 else f"{stem}-{n}.{ext}")
        try:
            os.link(temp, target)
        except FileExistsError:
            continue
        except OSError:  # no hard links here: reserve the name, then replace the empty file
            try:
                fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                continue
            os.close(fd)
            os.replace(temp, target)
            return target
        temp.unlink()
        return target
    raise DownloadError(f"no free file name for {stem}.{ext} in {directory}")


async def download_all(
    transport: Transport,
    project: ImageProject,
    directory: Path,
    emit: Emit,
    refresh: Refresh,
    fallback_ext: str = "gif",
    adopt: Adopt | None = None,
) -> list[str]:
    """Download every output of ``project`` into ``directory``; paths in output order.

    With ``adopt``, an output already placed under its own name (by an earlier run that
    stopped before recording it) is used as it is when ``adopt(name, size)`` agrees.
    """
    if not project.downloads:
        raise DownloadError("the project is complete but lists no downloads", project_id=project.id)
    stem = safe_stem(project.id)
    paths: list[str] = []
    for index in range(len(project.downloads)):
        name = stem if index == 0 else f"{stem}_{index + 1}"
        if adopt is not None:
            placed = _placed(directory, name, project.downloads[index].url, fallback_ext, adopt)
            if placed is not None:
                path, size = placed
                log.info("output %d of %s is already in place: %s", index, project.id, path.name)
                emit(DownloadProgress(project.id, index, size, size))
                paths.append(str(path))
                continue
        path = await _download_one(
            transport, project, index, directory, name, emit, refresh, fallback_ext
        )
        paths.append(str(path))
    return paths


def _placed(
    directory: Path, name: str, url: str, fallback: str, adopt: Adopt
) -> tuple[Path, int] | None:
    """``name.ext`` and its size if it is there: ``place`` only moves whole, checked downloads."""
    first = file_extension(url, None, fallback)
    for ext in (first, *sorted(MEDIA_EXTENSIONS - {first})):
        path = directory / f"{name}.{ext}"
        try:
            info = path.stat()
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_size > 0 and adopt(path.name, info.st_size):
            return path, info.st_size
    return None


async def _download_one(
    transport: Transport,
    project: ImageProject,
    index: int,
    directory: Path,
    stem: str,
    emit: Emit,
    refresh: Refresh,
    fallback_ext: str,
) -> Path:
    """One output, through the transport's retry loop; an expired URL is refreshed (twice at
    most) without counting as a try."""
    item: Download = project.downloads[index]
    refreshes = 0

    async def once(tries: int) -> Path:
        nonlocal item, refreshes
        while True:
            if item.expired and refreshes < 2:
                item, refreshes = await _refreshed(refresh, index, project.id), refreshes + 1
            try:
                return await _fetch(
                    transport, project.id, index, item.url, directory, stem, emit, fallback_ext
                )
            except Transient as failure:
                if not failure.expired:
                    raise
                if refreshes >= 2:
                    raise failure.fail(tries) from None
                log.info("download %d of %s: signed URL expired; re-reading", index, project.id)
                item, refreshes = await _refreshed(refresh, index, project.id), refreshes + 1

    return await transport.retrying(
        once, operation="download", project_id=project.id, on_retry=emit
    )


async def _refreshed(refresh: Refresh, index: int, project_id: str) -> Download:
    fresh = await refresh()
    if len(fresh.downloads) <= index:
        raise DownloadError("the project no longer lists this output", project_id=project_id)
    return fresh.downloads[index]


async def _fetch(
    transport: Transport,
    project_id: str,
    index: int,
    url: str,
    directory: Path,
    stem: str,
    emit: Emit,
    fallback_ext: str,
) -> Path:
    """One try: stream ``url`` into a temporary file, check it, and move it into place."""
    if not transport.settings.url_allowed(url):
        scheme = urlsplit(url).scheme or "no scheme"
        raise DownloadError(f"refusing to download from a {scheme!r} URL", project_id=project_id)
    cap = transport.settings.max_download_bytes
    temp = directory / f".{stem}.{secrets.token_hex(4)}.part"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)  # the umask applies
        with os.fdopen(fd, "wb") as out:
            async with transport.files.stream("GET", url) as response:
                total = _check_response(response, cap, project_id)
                received, last = 0, 0.0
                async for chunk in response.aiter_bytes(CHUNK):
                    received += len(chunk)
                    if received > cap:
                        raise DownloadError(
                            f"output exceeds the {cap}-byte limit", project_id=project_id
                        )
                    out.write(chunk)
                    now = time.monotonic()
                    if now - last >= PROGRESS_EVERY:
                        last = now
                        emit(DownloadProgress(project_id, index, received, total))
                ext = file_extension(
                    str(response.url), response.headers.get("content-type"), fallback_ext
                )
            wire = response.num_bytes_downloaded
            if total is not None and wire != total:
                raise _retry(f"truncated: {wire} of {total} bytes", project_id)
            if received == 0:
                raise _retry("empty body", project_id)
            out.flush()
            os.fsync(out.fileno())
        emit(
            DownloadProgress(project_id, index, received, total if total is not None else received)
        )
        return place(temp, directory, stem, ext)
    except httpx.TransportError as exc:
        reason = transport.redact(f"{type(exc).__name__}: {exc}"[:200])
        raise _retry(reason, project_id) from None
    except httpx.HTTPError as exc:  # too many redirects, undecodable body, ...
        raise DownloadError(
            transport.redact(f"download failed: {type(exc).__name__}: {exc}"[:300]),
            project_id=project_id,
        ) from None
    except OSError as exc:  # disk full, permissions changed under us, ...
        raise DownloadError(
            f"cannot write the output in {directory}: {exc.strerror or exc}", project_id=project_id
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def _check_response(response: httpx.Response, cap: int, project_id: str) -> int | None:
    """The declared length of a good response; raises for bad ones (``Transient`` if worth
    another try)."""
    status = response.status_code
    if status == 403:
        raise _retry("HTTP 403 (signed URL expired)", project_id, expired=True)
    if transient_status(status, idempotent=True):
        wait = parse_retry_after(response.headers.get("retry-after"))
        raise _retry(f"HTTP {status}", project_id, wait, status)
    if status >= 300:
        raise DownloadError(
            f"download failed: HTTP {status}", status_code=status, project_id=project_id
        )
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in NOT_MEDIA:
        raise DownloadError(
            f"download failed: the server sent {media}, not an animation", project_id=project_id
        )
    length = response.headers.get("content-length")
    if length is None:
        return None
    try:
        total = int(length)
    except ValueError:
        raise DownloadError(f"bad Content-Length {length[:40]!r}", project_id=project_id) from None
    if total > cap:
        raise DownloadError(
            f"output is {total} bytes, over the {cap}-byte limit", project_id=project_id
        )
    return total
