"""The Magic Hour client: one async core, a sync face, the generate workflow."""

from .clients import AsyncClient, Client
from .settings import PollPolicy, SandboxWarning
from .transport import RetryPolicy

__all__ = ["AsyncClient", "Client", "PollPolicy", "RetryPolicy", "SandboxWarning"]
