"""``AsyncClient`` and ``Client``: the vendor SDK's shape, with retries, deadlines and events.

These record nothing and run no batches: ``magicgif_widget.Client`` (``clients.py`` at the
package root) is these with the job journal plugged in and ``generate_many`` added.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import httpx

from . import resources, workflow
from .errors import ValidationError
from .limits import SpendLimit
from .models import Event
from .options import GenerateOptions
from .params import GenerateParams, spelled_out
from .records import NO_RECORDS, JobRecords
from .settings import DEFAULT_BASE_URL, PollPolicy, RetryPolicy, Settings, resolve
from .sync import LoopThread, SyncResource, blocking, blocking_with_events
from .transport import Transport

if TYPE_CHECKING:
    from typing_extensions import Unpack

A = TypeVar("A", bound="AsyncClient")
C = TypeVar("C", bound="Client")
# The async stream's keywords, as ``spelled_out`` shows them: style and ``GenerateParams``.
STREAM_ARGUMENTS = frozenset(inspect.signature(resources.AsyncAiGifGenerator.stream).parameters) - {
    "self"
}


def _describe(settings: Settings) -> str:
    if settings.sandbox:
        return "sandbox=True (offline emulator, no credits)"
    auth = "token set" if settings.token is not None else "no token"
    return f"base_url={settings.base_url!r}, {auth}"


def _settings(arguments: dict[str, Any]) -> Settings:
    """Resolved settings from a client constructor's arguments (its ``locals()``)."""
    given = {k: v for k, v in arguments.items() if k not in ("self", "__class__")}
    base_url = _vendor_base_url(
        given.pop("base_url"), given.pop("environment"), given.pop("httpx_client")
    )
    return resolve(base_url=base_url, warn_from=2, **given)  # the user → __init__ → here


def _vendor_base_url(base_url: str | None, environment: Any, httpx_client: Any) -> str | None:
    """Honour the vendor SDK's ``environment=`` (base URLs); refuse its ``httpx_client=``."""
    if httpx_client is not None:
        raise ValidationError(
            "httpx_client",
            "is not supported: this client builds its own pooled httpx clients; "
            "use timeout=, base_url= or retry= instead",
        )
    if base_url is None and environment is not None:
        value = getattr(environment, "value", environment)
        if not isinstance(value, str):
            raise ValidationError("environment", "must be a base URL or the vendor's Environment")
        return None if value == DEFAULT_BASE_URL else value
    return base_url


class AsyncClient:
    """The async client. With no token and no ``base_url`` it runs on the offline sandbox.

    The token comes from ``token=``, else MAGIC_HOUR_API_TOKEN, MAGIC_HOUR_API_KEY or API_TOKEN.
    ``transport=`` (an ``httpx.AsyncBaseTransport``) carries every request, as in httpx: an
    emulator's in-process transport, say; by default the sandbox's or the network.
    ``journal=False`` keeps this client's jobs out of the user's job journal.
    ``spend_limit`` (credits per day, or ``"500/week"``; see ``client/limits.py``) refuses a
    job or batch that would pass it, counted across every process from the journal, before
    anything is sent; ``MAGICGIF_SPEND_LIMIT`` sets one too, and both hold.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = 60,
        sandbox: bool | None = None,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        max_download_bytes: int | None = None,
        allow_insecure_http: bool = False,
        environment: Any = None,
        httpx_client: Any = None,
        transport: httpx.AsyncBaseTransport | None = None,
        journal: bool = True,
        spend_limit: int | str | SpendLimit | None = None,
    ) -> None:
        settings = _settings(locals())
        self._setup(settings)

    @classmethod
    def from_settings(cls: type[A], settings: Settings) -> A:
        """A client from settings already resolved (e.g. another client's ``settings``)."""
        client = cls.__new__(cls)
        client._setup(settings)
        return client

    records: ClassVar[JobRecords] = NO_RECORDS
    """Where each job's life goes (``magicgif_widget.AsyncClient``: the job journal)."""
    v1_class: ClassVar[type[resources.AsyncV1]] = resources.AsyncV1

    def _setup(self, settings: Settings) -> None:
        self.settings = settings
        self._transport = Transport(settings)
        self.v1 = self.v1_class(self._transport, self.records)

    @property
    def sandbox(self) -> bool:
        """True when requests go to the in-process emulator, not Magic Hour."""
        return self.settings.sandbox

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    async def close(self) -> None:
        """Close the connection pools."""
        await self._transport.aclose()

    aclose = close

    async def __aenter__(self: A) -> A:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<AsyncClient {_describe(self.settings)}>"


# ---- the sync face -----------------------------------------------------------------------


class ImageProjects(SyncResource):
    """``client.v1.image_projects``."""

    get = blocking(resources.AsyncImageProjects.get)
    delete = blocking(resources.AsyncImageProjects.delete)
    check_result = blocking_with_events(resources.AsyncImageProjects.check_result)


class AiGifGenerator(SyncResource):
    """``client.v1.ai_gif_generator``."""

    create = blocking_with_events(resources.AsyncAiGifGenerator.create)
    generate = blocking_with_events(resources.AsyncAiGifGenerator.generate)

    @spelled_out
    def stream(
        self, *, style: Mapping[str, Any], **params: Unpack[GenerateParams]
    ) -> Iterator[Event]:
        """``generate`` as an iterator of events, ending with ``Completed``; errors come last."""
        unknown = {"style", *params} - STREAM_ARGUMENTS
        if unknown:
            raise TypeError(f"stream() got unexpected arguments: {', '.join(sorted(unknown))}")
        options = GenerateOptions.check(style=style, **params)  # checked here, before any request
        api = self._inner._api
        return self._runner.iterate(lambda emit: workflow.generate(api, options, emit))


class UploadUrls(SyncResource):
    """``client.v1.files.upload_urls``."""

    create = blocking(resources.AsyncUploadUrls.create)


class Files(SyncResource):
    """``client.v1.files``."""

    upload_file = blocking(resources.AsyncFiles.upload_file)

    def __init__(self, inner: resources.AsyncFiles, runner: LoopThread, owner: object) -> None:
        super().__init__(inner, runner, owner)
        self.upload_urls = UploadUrls(inner.upload_urls, runner, owner)


class Account(SyncResource):
    """``client.v1.account``."""

    get = blocking(resources.AsyncAccount.get)


class V1:
    """``client.v1``."""

    generator: type[AiGifGenerator] = AiGifGenerator

    def __init__(self, inner: resources.AsyncV1, runner: LoopThread, owner: object) -> None:
        self.image_projects = ImageProjects(inner.image_projects, runner, owner)
        self.ai_gif_generator = self.generator(inner.ai_gif_generator, runner, owner)
        self.files = Files(inner.files, runner, owner)
        self.account = Account(inner.account, runner, owner)


class Client:
    """The sync client: the async core on a private loop thread, so it works in notebooks too.

    Same arguments as ``AsyncClient``.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = 60,
        sandbox: bool | None = None,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        max_download_bytes: int | None = None,
        allow_insecure_http: bool = False,
        environment: Any = None,
        httpx_client: Any = None,
        transport: httpx.AsyncBaseTransport | None = None,
        journal: bool = True,
        spend_limit: int | str | SpendLimit | None = None,
    ) -> None:
        settings = _settings(locals())
        self._setup(settings)

    @classmethod
    def from_settings(cls: type[C], settings: Settings) -> C:
        """A client from settings already resolved (e.g. another client's ``settings``)."""
        client = cls.__new__(cls)
        client._setup(settings)
        return client

    async_class: ClassVar[type[AsyncClient]] = AsyncClient
    v1_class: ClassVar[type[V1]] = V1

    def _setup(self, settings: Settings) -> None:
        self.settings = settings
        self._runner = LoopThread()
        self._async = self.async_class.from_settings(settings)
        self.v1 = self.v1_class(self._async.v1, self._runner, self)
        self._finalizer = weakref.finalize(self, self._runner.stop)

    @property
    def sandbox(self) -> bool:
        """True when requests go to the in-process emulator, not Magic Hour."""
        return self.settings.sandbox

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    def close(self) -> None:
        """Stop calls still running (they raise ClientClosedError), close the pools and the
        helper thread (idempotent)."""
        if self._finalizer.detach() is not None:
            self._runner.stop(cleanup=self._async.close)

    def __enter__(self: C) -> C:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Client {_describe(self.settings)}>"
