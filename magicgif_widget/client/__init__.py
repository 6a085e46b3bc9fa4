"""The Magic Hour client: one async core, a sync face, the generate workflow."""

from .clients import AsyncClient, Client
from .settings import PollPolicy, RetryPolicy, SandboxWarning

__all__ = ["AsyncClient", "Client", "PollPolicy", "RetryPolicy", "SandboxWarning"]
