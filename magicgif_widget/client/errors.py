"""Typed errors. Every error raised once a job exists carries its ``project_id``."""

from __future__ import annotations

from typing import Any

DETAIL_MAX = 200  # characters of a server's error message kept in ours


class MagicHourError(Exception):
    """Base class of every error this package raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        project_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.project_id = project_id

    def __str__(self) -> str:
        if self.project_id and self.project_id not in self.message:
            return f"{self.message} (project_id={self.project_id})"
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), self.args, self.__dict__)


def _one_line(text: str, limit: int = DETAIL_MAX) -> str:
    """A server's text as one printable line of at most ``limit`` characters."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _rebuild(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """Unpickle an error without calling its ``__init__`` (which takes other arguments)."""
    err = cls.__new__(cls)
    BaseException.__init__(err, *args)
    err.__dict__.update(state)
    return err


class ValidationError(MagicHourError, ValueError):
    """An argument is invalid; raised before any request is sent."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", code="invalid_argument")
        self.field = field


class SpendLimitError(MagicHourError):
    """A job or batch would pass the spend limit (or the account balance); nothing was sent.

    ``total`` is what it would cost, ``limit`` the limit's credits, ``spent`` what the journal
    counts in the limit's window, ``balance`` the account's credits if read (all credits).
    """

    def __init__(
        self,
        message: str,
        *,
        total: int = 0,
        limit: int | None = None,
        spent: int = 0,
        balance: int | None = None,
    ) -> None:
        super().__init__(message, code="spend_limit")
        self.total = total
        self.limit = limit
        self.spent = spent
        self.balance = balance


class APIStatusError(MagicHourError):
    """The API answered with a non-2xx status."""


class BadRequestError(APIStatusError):
    """400 or 422: the API rejected the request's values."""


class AuthenticationError(APIStatusError):
    """401: the API token is missing or invalid."""


class InsufficientCreditsError(APIStatusError):
    """402: not enough credits (or a subscription or plan upgrade is required)."""


class NotFoundError(APIStatusError):
    """404: unknown route or project id."""


class RateLimitError(APIStatusError):
    """429 after retries ran out; ``retry_after`` is the server's hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx after retries ran out (or on a create, which is never blindly retried)."""


class NetworkError(MagicHourError):
    """The connection failed or timed out after retries ran out."""


class CreateOutcomeUnknown(NetworkError):
    """A create request may have reached the server but its answer was lost.

    It is not re-sent, since that could charge twice; the job may exist without an id.
    """


class InvalidResponseError(MagicHourError):
    """The server's answer was not what the contract promises (bad JSON, missing fields)."""


class DownloadError(MagicHourError):
    """An output could not be downloaded intact; no partial file is left behind."""


class ClientClosedError(MagicHourError):
    """The client was closed before or while this call ran."""


class GenerationTimeout(MagicHourError, TimeoutError):
    """The overall deadline passed; the job may still finish on the server."""


class GenerationInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a synchronous wait; the job, if any, goes on on the server."""

    def __init__(self, project_id: str | None) -> None:
        where = f"project {project_id} continues on the server" if project_id else "no job created"
        super().__init__(f"interrupted; {where}")
        self.project_id = project_id

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), self.args, self.__dict__)


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    404: NotFoundError,
    422: BadRequestError,
    429: RateLimitError,
}


def error_for_status(status_code: int) -> type[APIStatusError]:
    """The error class for an HTTP status code."""
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, APIStatusError)
