"""Results and progress events: small frozen dataclasses parsed tolerantly from API JSON."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Literal, Union

from ..contract import FINAL_STATUSES, STATUSES
from .errors import InvalidResponseError

KNOWN_STATUSES = frozenset(STATUSES)


def _str(data: dict[str, Any], key: str, default: str | None = None) -> str | None:
    value = data.get(key, default)
    return value if isinstance(value, str) else default


def _int(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _require_object(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidResponseError(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data


def parse_time(value: str | None) -> datetime | None:
    """An ISO-8601 timestamp as an aware datetime, or None if absent or unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Download:
    """One output: a pre-signed URL (no auth header) valid until ``expires_at``."""

    url: str
    expires_at: str | None = None

    @property
    def expired(self) -> bool:
        """True when ``expires_at`` is in the past."""
        when = parse_time(self.expires_at)
        return when is not None and when <= datetime.now(timezone.utc)


@dataclass(frozen=True)
class ProjectError:
    """Why a job failed, as the API tells it."""

    code: str
    message: str


@dataclass(frozen=True)
class CreateResponse:
    """The answer to a create: the new project's id and what it cost."""

    id: str
    credits_charged: int = 0
    frame_cost: int = 0

    @classmethod
    def from_json(cls, data: Any) -> CreateResponse:
        data = _require_object(data, "create response")
        project_id = _str(data, "id")
        if not project_id:
            raise InvalidResponseError("create response has no project id")
        return cls(project_id, _int(data, "credits_charged"), _int(data, "frame_cost"))


@dataclass(frozen=True)
class ImageProject:
    """A project as ``GET /v1/image-projects/{id}`` describes it, plus our ``downloaded_paths``.

    Unknown fields are kept in ``extra``; an unknown status counts as still running.
    """

    id: str
    status: str
    name: str | None = None
    type: str = "AI_GIF"
    created_at: str | None = None
    enabled: bool = True
    image_count: int = 0
    credits_charged: int = 0
    total_frame_cost: int = 0
    downloads: tuple[Download, ...] = ()
    error: ProjectError | None = None
    downloaded_paths: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def type_(self) -> str:
        """The vendor SDK's name for ``type``."""
        return self.type

    @property
    def done(self) -> bool:
        """True for a final status: complete, error or canceled."""
        return self.status in FINAL_STATUSES

    def with_paths(self, paths: list[str]) -> ImageProject:
        """A copy with ``downloaded_paths`` set."""
        return replace(self, downloaded_paths=list(paths))

    def model_dump(self) -> dict[str, Any]:
        """The project as plain JSON-ready data (the vendor SDK's method name)."""
        data = asdict(self)
        data.pop("extra")
        data["downloads"] = [asdict(d) for d in self.downloads]
        return data

    @classmethod
    def from_json(cls, data: Any, *, project_id: str | None = None) -> ImageProject:
        data = _require_object(data, "project")
        pid = _str(data, "id") or project_id
        if not pid:
            raise InvalidResponseError("project has no id")
        status = _str(data, "status") or "unknown"
        downloads = tuple(
            Download(str(item["url"]), _str(item, "expires_at"))
            for item in data.get("downloads") or ()
            if isinstance(item, dict) and isinstance(item.get("url"), str)
        )
        err = data.get("error")
        error = (
            ProjectError(str(err.get("code") or "unknown"), str(err.get("message") or ""))
            if isinstance(err, dict)
            else None
        )
        enabled = data.get("enabled")
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        return cls(
            id=pid,
            status=status,
            name=_str(data, "name"),
            type=_str(data, "type", "AI_GIF") or "AI_GIF",
            created_at=_str(data, "created_at"),
            enabled=enabled if isinstance(enabled, bool) else True,
            image_count=_int(data, "image_count"),
            credits_charged=_int(data, "credits_charged"),
            total_frame_cost=_int(data, "total_frame_cost"),
            downloads=downloads,
            error=error,
            extra={k: v for k, v in data.items() if k not in known},
        )


@dataclass(frozen=True)
class UploadUrl:
    """Where to ``PUT`` one asset, and the ``file_path`` to pass to a generator."""

    upload_url: str
    file_path: str
    expires_at: str | None = None


@dataclass(frozen=True)
class UploadUrlsResponse:
    """Upload URLs in request order."""

    items: list[UploadUrl]

    @classmethod
    def from_json(cls, data: Any) -> UploadUrlsResponse:
        data = _require_object(data, "upload-urls response")
        raw = data.get("items")
        if not isinstance(raw, list):
            raise InvalidResponseError("upload-urls response has no items list")
        items = []
        for item in raw:
            item = _require_object(item, "upload-urls item")
            url, path = _str(item, "upload_url"), _str(item, "file_path")
            if not url or not path:
                raise InvalidResponseError("upload-urls item lacks upload_url or file_path")
            items.append(UploadUrl(url, path, _str(item, "expires_at")))
        return cls(items)


@dataclass(frozen=True)
class Account:
    """The account behind the token: ``credits`` is what is left to spend."""

    id: str
    credits: int
    tier: str | None = None
    email: str | None = None
    subscription: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, data: Any) -> Account:
        data = _require_object(data, "account")
        sub = data.get("subscription")
        return cls(
            _str(data, "id") or "",
            _int(data, "credits"),
            _str(data, "tier"),
            _str(data, "email"),
            sub if isinstance(sub, dict) else None,
        )


# ---- progress events ---------------------------------------------------------------------


@dataclass(frozen=True)
class Created:
    """The create answered: the job exists and has been charged."""

    project_id: str
    credits_charged: int
    kind: Literal["created"] = "created"


@dataclass(frozen=True)
class StatusChanged:
    """A poll saw a new status (``elapsed`` seconds since the create answered)."""

    project_id: str
    status: str
    elapsed: float
    project: ImageProject = field(repr=False)
    kind: Literal["status"] = "status"


@dataclass(frozen=True)
class Retrying:
    """A transient failure; the request is retried after ``delay`` seconds."""

    project_id: str | None
    operation: str
    reason: str
    attempt: int
    delay: float
    kind: Literal["retrying"] = "retrying"


@dataclass(frozen=True)
class DownloadProgress:
    """Bytes received for output ``index``; ``total`` is None when the size is unknown."""

    project_id: str
    index: int
    received: int
    total: int | None
    kind: Literal["download"] = "download"


@dataclass(frozen=True)
class Completed:
    """The workflow finished; ``project.downloaded_paths`` lists the files written."""

    project: ImageProject
    elapsed: float
    kind: Literal["completed"] = "completed"

    @property
    def project_id(self) -> str:
        return self.project.id


Event = Union[Created, StatusChanged, Retrying, DownloadProgress, Completed]  # noqa: UP007
Emit = Callable[[Event], None]  # what receives a workflow's events
