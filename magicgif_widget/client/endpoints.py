"""The raw calls the workflow makes, a create and one read of a project, over a Transport.

Private: the public resource objects hold one and show only the vendor-shaped methods.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..contract import ACCOUNT_PATH, CREATE_PATH, PROJECT_PATH
from .errors import CreateOutcomeUnknown, InvalidResponseError, ValidationError
from .models import Account, CreateResponse, ImageProject
from .records import NO_RECORDS, JobRecords
from .transport import OnRetry, Transport


def project_path(project_id: Any) -> str:
    """``/v1/image-projects/{id}``, the id checked and escaped."""
    if not isinstance(project_id, str) or not project_id.strip():
        raise ValidationError("id", f"must be a non-empty string, got {project_id!r:.40}")
    return PROJECT_PATH.format(id=quote(project_id, safe=""))


class Endpoints:
    """The workflow's ``Api``: ``send_create`` and ``fetch`` over ``transport``; each job's
    life goes to ``records``."""

    def __init__(self, transport: Transport, records: JobRecords = NO_RECORDS) -> None:
        self.transport = transport
        self.records = records

    async def send_create(
        self, body: dict[str, Any], on_retry: OnRetry | None, **options: Any
    ) -> CreateResponse:
        """POST the create once (never blindly re-sent); an unreadable 2xx is an unknown outcome."""
        response = await self.transport.call(
            "POST",
            CREATE_PATH,
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

    async def fetch(
        self, project_id: str, on_retry: OnRetry | None, **options: Any
    ) -> ImageProject:
        """One read of the project (retried on 429, 5xx and network errors)."""
        response = await self.transport.call(
            "GET",
            project_path(project_id),
            operation="poll",
            project_id=project_id,
            on_retry=on_retry,
            **options,
        )
        data = self.transport.json(response, "poll", project_id)
        return ImageProject.from_json(data, project_id=project_id)

    async def delete(self, project_id: str, **options: Any) -> None:
        """Delete the project for good (a retry's 404 counts as deleted)."""
        await self.transport.call(
            "DELETE",
            project_path(project_id),
            operation="delete",
            project_id=project_id,
            done_if_retry_finds=404,
            **options,
        )

    async def balance(self) -> int:
        """The account's credits left to spend (one ``GET /v1/account``)."""
        response = await self.transport.call("GET", ACCOUNT_PATH, operation="account")
        return Account.from_json(self.transport.json(response, "account")).credits
