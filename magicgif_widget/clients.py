"""``magicgif_widget.AsyncClient`` and ``Client``: the API client with the job journal and batches.

The API client (``client/``) records nothing and runs no batches; these give it the job
journal as its ``records`` (``jobstore``) and ``generate_many`` (``batching``).
"""

from __future__ import annotations

from typing import ClassVar

from . import batching
from .client import clients as api
from .client import resources
from .client.records import JobRecords
from .jobstore.journaling import Recorder


class AsyncClient(api.AsyncClient):
    __doc__ = api.AsyncClient.__doc__

    records: ClassVar[JobRecords] = Recorder
    v1_class: ClassVar[type[resources.AsyncV1]] = batching.AsyncV1
    v1: batching.AsyncV1


class Client(api.Client):
    __doc__ = api.Client.__doc__

    async_class: ClassVar[type[api.AsyncClient]] = AsyncClient
    v1_class: ClassVar[type[api.V1]] = batching.V1
    v1: batching.V1
