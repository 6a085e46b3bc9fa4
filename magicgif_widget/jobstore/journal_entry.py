"""What the journal holds about one job: ``JobSettings`` and ``JournalEntry`` (read-only,
with the questions callers ask of them), and how a server is named in it."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..client.settings import Settings
from ..contract import DEFAULT_FORMAT, FINAL_STATUSES
from . import stamps

# Our statuses, before the server reports one (then it is one of contract.STATUSES):
# creating     the intent: the create may be in flight
# unknown      the create was sent and its answer lost: the job may exist and be charged
# not_created  the API refused the create: no job, no charge
# created      the create answered with an id; no status seen yet
SETTLED_STATUSES = ("error", "canceled", "not_created")


def server_label(base_url: str, *, sandbox: bool = False) -> str:
    """``"sandbox"``, or the base URL without userinfo, query, fragment or trailing slash."""
    if sandbox or base_url == "sandbox":
        return "sandbox"
    parts = urlsplit(base_url.strip())
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))


def server_for(settings: Settings) -> str:
    """The server label of a client's ``settings`` (``client.settings``)."""
    return server_label(settings.base_url, sandbox=settings.sandbox)


@dataclass(frozen=True)
class JobSettings:
    """What a job was asked for: the prompt, the name and the output format."""

    prompt: str
    name: str | None = None
    output_format: str = DEFAULT_FORMAT

    @classmethod
    def from_request(cls, request: Mapping[str, Any]) -> JobSettings:
        """From ``{"prompt"|"style": {"prompt"}, "name", "output_format"}``; other keys ignored."""
        style = request.get("style")
        prompt = style.get("prompt") if isinstance(style, Mapping) else request.get("prompt")
        name = request.get("name")
        return cls(
            prompt=str(prompt or ""),
            name=None if name is None else str(name),
            output_format=str(request.get("output_format") or DEFAULT_FORMAT),
        )


@dataclass(frozen=True)
class JournalEntry:
    """One job as the journal last heard of it (times are UTC ``YYYY-MM-DDTHH:MM:SSZ``)."""

    key: str
    project_id: str | None
    server: str
    surface: str
    settings: JobSettings
    directory: str | None
    status: str  # creating, unknown, not_created, created, or the API's status
    error_code: str | None
    credits_charged: int | None
    credits_refunded: int | None
    paths: tuple[str, ...]
    collected_at: str | None
    dismissed_at: str | None
    created_at: str
    updated_at: str
    batch: str | None = None  # the batch or gallery it is an item of
    position: int | None = None  # its index there

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> JournalEntry:
        return cls(
            key=row["key"],
            project_id=row["project_id"],
            server=row["server"],
            surface=row["surface"],
            settings=JobSettings(row["prompt"], row["name"], row["output_format"]),
            directory=row["directory"],
            status=row["status"],
            error_code=row["error_code"],
            credits_charged=row["credits_charged"],
            credits_refunded=row["credits_refunded"],
            paths=tuple(str(p) for p in json.loads(row["paths"])),
            collected_at=row["collected_at"],
            dismissed_at=row["dismissed_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            batch=row["batch"],
            position=row["position"],
        )

    @property
    def unknown(self) -> bool:
        """The create was sent and its answer lost: a job may exist, charged, with no id."""
        return self.status == "unknown" and self.project_id is None

    @property
    def final(self) -> bool:
        """The API reported complete, error or canceled (or the create was refused)."""
        return self.status in FINAL_STATUSES or self.status == "not_created"

    @property
    def active(self) -> bool:
        """In flight or still running as last seen (not dismissed)."""
        if self.dismissed_at is not None:
            return False
        if self.status == "creating":
            return True
        return self.project_id is not None and not self.final and self.status != "unknown"

    @property
    def collected(self) -> bool:
        return self.collected_at is not None

    @property
    def dismissed(self) -> bool:
        return self.dismissed_at is not None

    @property
    def pending(self) -> bool:
        """Worth showing: running, finished but never downloaded, or unknown; not dismissed."""
        if self.dismissed:
            return False
        if self.status == "complete":
            return not self.collected
        return self.status not in SETTLED_STATUSES

    def age(self, now: float | None = None) -> float:
        """Seconds since the intent was written."""
        return (time.time() if now is None else now) - stamps.parse_time(self.created_at)

    def idle(self, now: float | None = None) -> float:
        """Seconds since the entry last changed."""
        return (time.time() if now is None else now) - stamps.parse_time(self.updated_at)

    def files_exist(self) -> bool:
        """True when the job's files were collected and are all still on disk."""
        return self.collected and bool(self.paths) and all(os.path.exists(p) for p in self.paths)


@dataclass(frozen=True)
class BatchRecord:
    """A batch or gallery as the journal knows it: where it lives and its items' entries."""

    id: str
    server: str
    surface: str
    directory: str
    total: int
    dismissed_at: str | None
    created_at: str
    items: tuple[JournalEntry, ...]

    @classmethod
    def from_rows(cls, row: sqlite3.Row, items: list[JournalEntry]) -> BatchRecord:
        return cls(
            id=row["id"],
            server=row["server"],
            surface=row["surface"],
            directory=row["directory"],
            total=int(row["total"]),
            dismissed_at=row["dismissed_at"],
            created_at=row["created_at"],
            items=tuple(items),
        )

    @property
    def kind(self) -> str:
        """``gallery`` (made by a widget) or ``batch``."""
        return "gallery" if self.surface == "widget" else "batch"

    @property
    def pending(self) -> bool:
        """Not dismissed, with an item still running, not downloaded, or unknown."""
        return self.dismissed_at is None and any(item.pending for item in self.items)

    @property
    def never_sent(self) -> int:
        """Items the journal never saw a create for (the batch stopped before them)."""
        return max(0, self.total - len({i.position for i in self.items if i.position is not None}))

    def age(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - stamps.parse_time(self.created_at)
