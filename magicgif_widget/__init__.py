"""magicgif-widget: Magic Hour's AI GIF generator in a notebook, with an offline sandbox.

This module wires the parts: the client never imports the emulator; the sandbox transport
is plugged in here, and the emulator loads only when a sandbox client first sends a request.
The public names are ``__all__``, listed with a line each in ``docs/api.md``.
"""

import importlib
import warnings
from typing import TYPE_CHECKING

from ._version import __version__ as __version__
from .batching import BatchInterrupted, BatchProgress, BatchResults
from .client import PollPolicy, RetryPolicy, SandboxWarning
from .client.errors import (
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    CreateOutcomeUnknown,
    DownloadError,
    GenerationInterrupted,
    GenerationTimeout,
    InsufficientCreditsError,
    MagicHourError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ServerError,
    SpendLimitError,
    ValidationError,
)
from .client.job_errors import JobCanceledError, JobFailedError
from .client.limits import SpendLimit
from .client.models import (
    Account,
    Completed,
    Created,
    CreateResponse,
    DownloadProgress,
    ImageProject,
    Retrying,
    StatusChanged,
)
from .client.settings import plug_sandbox
from .clients import AsyncClient, Client

if TYPE_CHECKING:
    import httpx

    from .thumbnails import gallery
    from .widget import GifWidget


def _sandbox_transport() -> "httpx.AsyncBaseTransport":
    """The offline sandbox: this process's in-process emulator, imported on first use."""
    from .emulator.sandbox import sandbox_transport

    return sandbox_transport()


plug_sandbox(_sandbox_transport)

__all__ = [
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
    "DownloadError",
    "DownloadProgress",
    "GenerationInterrupted",
    "GenerationTimeout",
    "GifWidget",
    "ImageProject",
    "InsufficientCreditsError",
    "JobCanceledError",
    "JobFailedError",
    "MagicHourError",
    "NetworkError",
    "NotFoundError",
    "PollPolicy",
    "RateLimitError",
    "RetryPolicy",
    "Retrying",
    "SandboxWarning",
    "ServerError",
    "SpendLimit",
    "SpendLimitError",
    "StatusChanged",
    "ValidationError",
    "gallery",
]

# Exported by the root up to 0.1.0; served from their modules, with a warning naming them.
_MOVED = {
    "APIStatusError": "magicgif_widget.client.errors",
    "InvalidResponseError": "magicgif_widget.client.errors",
    "JobError": "magicgif_widget.client.job_errors",
    "Event": "magicgif_widget.client.models",
    "Download": "magicgif_widget.client.models",
    "ProjectError": "magicgif_widget.client.models",
}


def __getattr__(name: str) -> object:
    """``GifWidget`` and ``gallery`` import anywidget and IPython on first use, so the client
    stays light to import; a name moved out of the root warns where it lives now."""
    if name == "GifWidget":
        from .widget import GifWidget

        return GifWidget
    if name == "gallery":
        from .thumbnails import gallery

        return gallery
    if name in _MOVED:
        module = _MOVED[name]
        warnings.warn(
            f"import {name} from {module}; magicgif_widget no longer exports it",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module 'magicgif_widget' has no attribute {name!r}")
