"""magicgif-widget: Magic Hour's AI GIF generator in a notebook, with an offline sandbox."""

from ._version import __version__
from .client import AsyncClient, Client, PollPolicy, RetryPolicy, SandboxWarning
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
    JobCanceledError,
    JobError,
    JobFailedError,
    MagicHourError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
)
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

__all__ = [
    "APIStatusError",
    "Account",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
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
