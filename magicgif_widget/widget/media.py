"""The files the front end may fetch, by key, and the messages that carry them.

The store holds only what the traits still name (the current result, the history and the
gallery): the widget retains those keys whenever one of the three changes, and forgets the
rest, so a long session does not keep every file it ever made reachable.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..client.models import ImageProject
from ..contract import MEDIA_TYPES

CHUNK = 4 * 1024 * 1024  # media goes to the browser in binary messages of at most this size
# Where a host drops binary buffers (Colab's widget manager), media goes as base64 text
# instead, in messages small enough for such a connection: 192 KiB of bytes, 256 KiB of text.
TEXT_CHUNK = 192 * 1024
MEDIA_TIMEOUT = 20.0  # seconds the front end waits for the next chunk before offering a retry

Message = tuple[dict[str, Any], list[bytes] | None]


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
        return mime_type(self.output_format)


@dataclass(frozen=True)
class MediaFile:
    """One file the front end may ask for."""

    path: Path
    mime: str


@dataclass(frozen=True)
class Changes:
    """What a state function returns: traits to set (in order) and the files they now name."""

    traits: dict[str, Any] = field(default_factory=dict)
    files: dict[str, MediaFile] = field(default_factory=dict)


def mime_type(output_format: str) -> str:
    return MEDIA_TYPES.get(output_format, "application/octet-stream")


def media_key(project_id: str, path: Path) -> str:
    """The key the front end fetches ``path`` by: the same file always gets the same key."""
    digest = hashlib.blake2s(str(path).encode(), digest_size=4).hexdigest()
    return f"{project_id}:{digest}"


def referenced(media: Mapping[str, Any], *lists: Iterable[Mapping[str, Any]]) -> set[str]:
    """The media keys a ``media`` entry and lists of entries (history, gallery) name."""
    entries = [media, *(entry for entries in lists for entry in entries)]
    return {str(entry["key"]) for entry in entries if entry.get("key")}


class MediaStore:
    """Files by key, bounded by ``retain``: whatever the traits no longer name is evicted."""

    def __init__(self) -> None:
        self._files: dict[str, MediaFile] = {}

    def __len__(self) -> int:
        return len(self._files)

    def __contains__(self, key: object) -> bool:
        return key in self._files

    def add(self, files: Mapping[str, MediaFile]) -> None:
        self._files.update(files)

    def retain(self, keys: Iterable[str]) -> None:
        """Keep only ``keys``; the front end can no longer fetch any other file."""
        keep = set(keys)
        self._files = {k: v for k, v in self._files.items() if k in keep}

    def messages(self, key: str, req: Any, text: bool = False) -> Iterator[Message]:
        """The file behind ``key`` in chunks: binary buffers, or base64 text where a host
        drops buffers (the front end asks for text once it has seen a chunk arrive empty)."""
        entry = self._files.get(key)
        if entry is None or not entry.path.is_file():
            gone = "on disk" if entry else "held by the widget"
            yield (
                {
                    "type": "media-error",
                    "req": req,
                    "key": key,
                    "message": f"this output is no longer {gone}",
                },
                None,
            )
            return
        size = entry.path.stat().st_size
        step = TEXT_CHUNK if text else CHUNK
        chunks = max(1, -(-size // step))
        header = {
            "type": "media",
            "req": req,
            "key": key,
            "mime": entry.mime,
            "chunks": chunks,
            "size": size,
            "encoding": "base64" if text else "binary",
        }
        with entry.path.open("rb") as source:  # one chunk in memory at a time
            for seq in range(chunks):
                part = source.read(step)
                if text:
                    yield {**header, "seq": seq, "data": base64.b64encode(part).decode()}, None
                else:
                    yield {**header, "seq": seq}, [part]
