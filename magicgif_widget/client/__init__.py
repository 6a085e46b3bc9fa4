"""The API client: what mirrors the vendor SDK's ``client.v1``, over httpx.

One async core (``resources``, ``workflow``: create → poll → download, with retries,
deadlines and events) and a sync face on a private loop thread (``sync``, ``clients``). It
knows nothing of the job store, batches, the widget or the emulator: a transport and the
records of each job are passed in (``settings.plug_sandbox``, ``records.JobRecords``).
``magicgif_widget.Client`` is this client with the job journal and ``generate_many``.
"""

from .clients import AsyncClient, Client
from .records import NO_RECORDS, JobRecords
from .settings import PollPolicy, RetryPolicy, SandboxWarning

__all__ = [
    "NO_RECORDS",
    "AsyncClient",
    "Client",
    "JobRecords",
    "PollPolicy",
    "RetryPolicy",
    "SandboxWarning",
]
