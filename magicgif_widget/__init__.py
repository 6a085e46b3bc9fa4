"""magicgif-widget: Magic Hour's AI GIF generator in a notebook, with an offline sandbox.

This module wires the parts: the client never imports the emulator; the sandbox transport
is plugged in here, and the emulator loads only when a sandbox client first sends a request.
"""

from typing import TYPE_CHECKING

from ._version import __version__
from .batching import BatchInterrupted, BatchProgress, BatchResults
from .client import PollPolicy, RetryPolicy, SandboxWarning
from .client.errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    CreateOutcomeUnknown,
    DownloadError,
    GenerationInterrupted,
    GenerationTimeout,
    InsufficientCreditsError,
    InvalidResponseError,
    MagicHourError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ServerError,
    SpendLimitError,
    ValidationError,
)
from .client.job_errors import JobCanceledError, JobError, JobFailedError
from .client.limits import SpendLimit
from .client.models import (
    Account,
    Completed,
    Created,
    CreateResponse,
    Download,
    DownloadProgress,
    Event,
    ImageProject,
    ProjectError,
    Retrying,
    StatusChanged,
)
from .client.settings import plug_sandbox
from .clients import AsyncClient, Client

if TYPE_CHECKING:
    import httpx


def _sandbox_transport() -> "httpx.AsyncBaseTransport":
    """The offline sandbox: this process's in-process emulator, imported on first use."""
    from .emulator.sandbox import sandbox_transport

    return sandbox_transport()


plug_sandbox(_sandbox_transport)

__all__ = [
    "APIStatusError",
    "Account",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "BatchInterrupted",
    "BatchProgress",
    "BatchResults",
    "Client",
    "ClientClosedError",
    "Completed",
    "CreateOutcomeUnknown",
    "CreateResponse",
    "Created",
    "Download",
    "DownloadError",
    "DownloadProgress",
    "Event",
    "GenerationInterrupted",
    "GenerationTimeout",
    "GifWidget",
    "ImageProject",
    "InsufficientCreditsError",
    "InvalidResponseError",
    "JobCanceledError",
    "JobError",
    "JobFailedError",
    "MagicHourError",
    "NetworkError",
    "NotFoundError",
    "PollPolicy",
    "ProjectError",
    "RateLimitError",
    "RetryPolicy",
    "Retrying",
    "SandboxWarning",
    "ServerError",
    "SpendLimit",
    "SpendLimitError",
    "StatusChanged",
    "ValidationError",
    "__version__",
    "gallery",
]


def __getattr__(name: str) -> object:
    """``GifWidget`` imports anywidget on first use, so the client stays light to import."""
    if name == "GifWidget":
        from .widget import GifWidget

        return GifWidget
    if name == "gallery":
        from .thumbnails import gallery

        return gallery
    raise AttributeError(f"module 'magicgif_widget' has no attribute {name!r}")
