"""One retry loop, three paths: API calls, uploads and downloads behave the same under the same
faults, over real HTTP against the loopback emulator.

``Transport.retrying`` is the loop behind ``Transport.call`` (poll, account, create, ...),
``AsyncFiles._put`` (the upload PUT) and ``download._download_one``. For each path and each
transient fault (429, 500, 502, 503, a connection reset, a refused connection) these tests
check that it is retried, that each retry is reported once (a ``Retrying`` event through
``on_event`` where the path takes one, and the transport's ``retry N in Xs`` log line on every
path: ``upload_file`` takes no ``on_event``, so the log line and the emulator's request count
are how its retries show), the try number and the delay; that each gives up after
``RetryPolicy.attempts`` tries with its own typed error saying how many tries; that a 4xx
(not 429) is never retried; that a 429's Retry-After on one route holds the next request on
another (the client-wide hold); and that the create is re-sent only when re-sending cannot
charge twice. Every injected fault is checked to have fired (``faults_applied``, or the
refusing transport's own count).

A refused connection is not an emulator fault: ``Refuse`` (a real ``httpx`` transport) sends
the chosen requests to a loopback port nothing listens on, so the OS refuses them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from magicgif_widget import (
    AsyncClient,
    CreateOutcomeUnknown,
    DownloadError,
    MagicHourError,
    NetworkError,
    RateLimitError,
    Retrying,
    RetryPolicy,
    ServerError,
)
from magicgif_widget.client.errors import APIStatusError, error_for_status
from magicgif_widget.client.settings import Settings
from magicgif_widget.client.transport import Transient, Transport
from magicgif_widget.emulator.server import free_port

from .conftest import FAST_RETRY, PROMPT, Server, leftovers
from .loopback import HTTP

ATTEMPTS = FAST_RETRY.attempts
LOGGER = "magicgif_widget"
RETRY_LINE = "%s: %s; retry %d in %.2fs"  # Transport._pause's log line: one per retry

# -- faults ----------------------------------------------------------------------------------

# Each transient fault, as an emulator rule (without route and times); None: a refused connect.
TRANSIENT: dict[str, dict[str, Any] | None] = {
    "429": {"status": 429},
    "429-retry-after": {"status": 429, "retry_after": 0.2},
    "500": {"status": 500},
    "502": {"status": 502},
    "503": {"status": 503},
    "reset": {"kind": "reset"},
    "connect": None,
}
CLIENT_ERRORS = (400, 401, 404, 409, 422)  # 403 on a download means "URL expired": see below

# Where each path's requests go: (method, URL path prefix), for ``Refuse``.
WIRE = {
    "create": ("POST", "/v1/ai-gif-generator"),
    "poll": ("GET", "/v1/image-projects/"),
    "account": ("GET", "/v1/account"),
    "upload": ("PUT", "/emulator/uploads/"),
    "download": ("GET", "/emulator/files/"),
}


class Refuse(httpx.AsyncBaseTransport):
    """Real HTTP, except that the first ``times`` requests to ``route`` (None: all of them) go
    to a loopback port nothing listens on: the OS refuses them, before any byte is sent."""

    def __init__(self, route: str, times: int | None) -> None:
        self.method, self.prefix = WIRE[route]
        self.times = times
        self.fired = 0
        self.dead_port = free_port()
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        hit = request.method == self.method and request.url.path.startswith(self.prefix)
        if hit and (self.times is None or self.fired < self.times):
            self.fired += 1
            request = httpx.Request(
                request.method,
                request.url.copy_with(port=self.dead_port),
                headers=request.headers,
                stream=request.stream,
            )
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


# -- observing retries -----------------------------------------------------------------------


@dataclass(frozen=True)
class Retry:
    """One retry as reported: (operation, reason, attempt, delay)."""

    operation: str
    reason: str
    attempt: int
    delay: float

    @classmethod
    def of(cls, event: Retrying) -> Retry:
        return cls(event.operation, event.reason, event.attempt, event.delay)


class RetryLog(logging.Handler):
    """The transport's retry log lines, with the monotonic time each was written."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.retries: list[Retry] = []
        self.times: list[float] = []
        self.on_line: Callable[[Retry], None] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg != RETRY_LINE or not isinstance(record.args, tuple):
            return
        operation, reason, attempt, delay = record.args
        retry = Retry(str(operation), str(reason), int(attempt), float(delay))
        self.retries.append(retry)
        self.times.append(time.monotonic())
        if self.on_line is not None:
            self.on_line(retry)

    def of(self, operation: str) -> list[Retry]:
        return [r for r in self.retries if r.operation == operation]


@pytest.fixture
def retry_log() -> Iterator[RetryLog]:
    handler = RetryLog()
    logger = logging.getLogger(LOGGER)
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def fast(server: Server) -> Server:
    server.emulator.store.render_seconds = 0.05  # jobs finish at once: these tests are about I/O
    return server


def live_rules(server: Server) -> list[dict[str, Any]]:
    return list(HTTP.get(f"{server.url}/emulator/faults").json()["faults"])


def fired(server: Server) -> int:
    return int(server.stats()["faults_applied"])


def delay_bounds(attempt: int, status: int, retry_after: float | None) -> tuple[float, float]:
    """What ``RetryPolicy`` promises for the wait after try ``attempt``: Retry-After when
    sent, else jittered exponential backoff, at least ``bad_gateway_delay`` for a 502."""
    if retry_after is not None:
        return retry_after, retry_after
    ceiling = min(FAST_RETRY.max_delay, FAST_RETRY.base_delay * 2 ** (attempt - 1))
    low, high = ceiling * 0.5, ceiling
    if status == 502:
        low, high = max(low, FAST_RETRY.bad_gateway_delay), FAST_RETRY.bad_gateway_delay * 1.2
    return low, high


# -- the paths -------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one path's run came to: its value or its error, and the ``Retrying`` events it
    reported (None for a path that takes no ``on_event``)."""

    value: Any = None
    error: MagicHourError | None = None
    events: list[Retrying] | None = None
    seconds: float = 0.0


Run = Callable[[AsyncClient, Path, Outcome], Awaitable[Any]]
WITH_EVENTS = ("poll", "download")  # the paths whose public call takes on_event


async def _generate(client: AsyncClient, path: Path, out: Outcome, download: bool) -> Any:
    def on_event(event: Any) -> None:
        if isinstance(event, Retrying) and out.events is not None:
            out.events.append(event)

    where: dict[str, Any] = {"download_outputs": False}
    if download:
        where = {"download_directory": path / "out"}
    return await client.v1.ai_gif_generator.generate(style=PROMPT, on_event=on_event, **where)


async def run_poll(client: AsyncClient, path: Path, out: Outcome) -> Any:
    """An API call with events: ``generate``'s polls (no download)."""
    return await _generate(client, path, out, download=False)


async def run_account(client: AsyncClient, path: Path, out: Outcome) -> Any:
    """An API call without events: ``account.get``."""
    return await client.v1.account.get()


async def run_upload(client: AsyncClient, path: Path, out: Outcome) -> Any:
    """``upload_file``: an upload-urls call, then the PUT (the ``upload`` route)."""
    source = path / "in.png"
    source.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64)
    return await client.v1.files.upload_file(source)


async def run_download(client: AsyncClient, path: Path, out: Outcome) -> Any:
    """``generate`` with the download (create and polls unharmed)."""
    return await _generate(client, path, out, download=True)


PATHS: dict[str, Run] = {
    "poll": run_poll,
    "account": run_account,
    "upload": run_upload,
    "download": run_download,
}


async def attempt(path: str, client: AsyncClient, where: Path) -> Outcome:
    """Run ``path``; a typed error is kept in the outcome, not raised."""
    out = Outcome(events=[] if path in WITH_EVENTS else None)
    started = time.monotonic()
    try:
        out.value = await PATHS[path](client, where, out)
    except MagicHourError as exc:
        out.error = exc
    out.seconds = time.monotonic() - started
    return out


class Injected:
    """A fault on ``route``: an emulator rule, or a ``Refuse`` transport for ``connect``."""

    def __init__(self, server: Server, route: str, fault: str, times: int | None) -> None:
        self.server = server
        self.route = route
        self.rule = TRANSIENT[fault] if fault in TRANSIENT else {"status": int(fault)}
        self.refuse = Refuse(route, times) if self.rule is None else None
        if self.rule is not None:
            server.fault(route=route, times=times, **self.rule)

    @property
    def status(self) -> int:
        return int(self.rule.get("status", 0)) if self.rule else 0

    @property
    def retry_after(self) -> float | None:
        return self.rule.get("retry_after") if self.rule else None

    def client(self, server: Server) -> AsyncClient:
        return AsyncClient(base_url=server.url, timeout=5, retry=FAST_RETRY, transport=self.refuse)

    def uses(self) -> int:
        """How many times the fault fired."""
        if self.refuse is None:
            return fired(self.server)
        assert fired(self.server) == 0  # no emulator rule was involved
        return self.refuse.fired

    def reached_server(self, uses: int) -> int:
        """Requests to the route the server saw when the fault fired ``uses`` times and the
        path then made one more request (0 more when it gave up): refused ones never arrive."""
        return 0 if self.refuse is not None else uses


async def run_with_fault(
    server: Server, path: str, fault: str, times: int | None, where: Path
) -> tuple[Injected, Outcome]:
    injected = Injected(server, path, fault, times)
    async with injected.client(server) as client:
        out = await attempt(path, client, where)
    return injected, out


def check_reason(retry: Retry, injected: Injected) -> None:
    if injected.status:
        assert retry.reason == f"HTTP {injected.status}"
    elif injected.refuse is not None:
        assert retry.reason.startswith("ConnectError")
    else:  # a reset: the transport error's class, never an HTTP status
        assert retry.reason.split(":")[0] in {"RemoteProtocolError", "ReadError", "WriteError"}


def check_reported(out: Outcome, log: RetryLog, path: str, injected: Injected, n: int) -> None:
    """Exactly ``n`` retries, reported once each, in order, with the policy's delays; the
    ``Retrying`` events (where the path has them) say the same as the log lines."""
    logged = log.of(path)
    assert [r.attempt for r in logged] == list(range(1, n + 1)), log.retries
    assert log.retries == logged  # no other operation retried
    for retry in logged:
        check_reason(retry, injected)
        low, high = delay_bounds(retry.attempt, injected.status, injected.retry_after)
        assert low - 1e-9 <= retry.delay <= high + 1e-9, (retry, low, high)
    if out.events is not None:
        assert [Retry.of(e) for e in out.events] == logged
        for event in out.events:
            assert event.kind == "retrying"
            assert (event.project_id is not None) is (path != "create")  # a create has no id yet


# -- 1. transient faults are retried, each retry reported once ----------------------------


@pytest.mark.parametrize("fault", list(TRANSIENT))
@pytest.mark.parametrize("path", list(PATHS))
async def test_a_transient_fault_is_retried_and_each_retry_reported_once(
    fast: Server, retry_log: RetryLog, tmp_path: Path, path: str, fault: str
):
    injected, out = await run_with_fault(fast, path, fault, 2, tmp_path)
    assert out.error is None, out.error
    assert injected.uses() == 2
    assert live_rules(fast) == []
    check_reported(out, retry_log, path, injected, 2)
    seen = fast.requests(path)
    if path == "poll":  # generate polls until the job is done: at least the one answered
        assert seen >= injected.reached_server(2) + 1
    else:
        assert seen == injected.reached_server(2) + 1
    if injected.retry_after is not None:  # the retries waited what the server asked
        assert out.seconds >= 2 * injected.retry_after * 0.9
    if path == "upload":
        assert str(out.value).startswith("api-assets/") and fast.stats()["uploads"] == 1
    if path == "download":
        (gif,) = out.value.downloaded_paths
        assert Path(gif).stat().st_size > 0 and leftovers(tmp_path / "out") == []


# -- 2. every path gives up after RetryPolicy.attempts tries, with its own typed error --------

GIVE_UP = [f for f in TRANSIENT if f != "429-retry-after"]


def expected_error(path: str, injected: Injected) -> type[MagicHourError]:
    if path == "download":
        return DownloadError
    if injected.status == 429:
        return RateLimitError
    return ServerError if injected.status else NetworkError


def _give_up_cases() -> list[Any]:
    cases = []
    for path in PATHS:
        for fault in GIVE_UP:
            marks = []
            cases.append(pytest.param(path, fault, marks=marks, id=f"{path}-{fault}"))
    return cases


@pytest.mark.parametrize(("path", "fault"), _give_up_cases())
async def test_each_path_gives_up_after_the_policys_tries_with_its_typed_error(
    fast: Server, retry_log: RetryLog, tmp_path: Path, path: str, fault: str
):
    injected, out = await run_with_fault(fast, path, fault, None, tmp_path)
    err = out.error
    assert type(err) is expected_error(path, injected), repr(err)
    assert not isinstance(err, CreateOutcomeUnknown)
    assert injected.uses() == ATTEMPTS  # the always-rule met every try, no more
    assert fast.requests(path) == injected.reached_server(ATTEMPTS)
    if injected.refuse is None:
        assert [rule["route"] for rule in live_rules(fast)] == [path]
    check_reported(out, retry_log, path, injected, ATTEMPTS - 1)
    if path in ("poll", "download"):
        assert err.project_id
    if path == "download":
        assert leftovers(tmp_path / "out") == [] and fast.stats()["downloads"] == 0
    if isinstance(err, APIStatusError):
        assert err.status_code == injected.status
    assert f"after {ATTEMPTS} tries" in str(err), str(err)


# -- 3. a 4xx other than 429 is never retried -------------------------------------------------


@pytest.mark.parametrize("status", CLIENT_ERRORS)
@pytest.mark.parametrize("path", list(PATHS))
async def test_a_client_error_is_never_retried(
    fast: Server, retry_log: RetryLog, tmp_path: Path, path: str, status: int
):
    injected, out = await run_with_fault(fast, path, str(status), 1, tmp_path)
    err = out.error
    wanted = DownloadError if path == "download" else error_for_status(status)
    assert type(err) is wanted, repr(err)
    assert err.status_code == status
    assert injected.uses() == 1 and live_rules(fast) == []
    assert fast.requests(path) == 1
    assert retry_log.retries == []
    assert out.events in (None, [])


# -- 4. a 429's Retry-After holds the client's next request, whatever its route --------------

HOLD = 0.5  # seconds of Retry-After


async def _source_429(client: AsyncClient, server: Server, route: str, where: Path) -> None:
    """One request on ``route`` answered 429 with Retry-After (the client gives up at once)."""
    server.fault(route=route, status=429, retry_after=HOLD)
    out = await attempt(route, client, where)
    wanted = DownloadError if route == "download" else RateLimitError
    assert type(out.error) is wanted, repr(out.error)


HOLD_PAIRS = [
    (source, target)
    for source in ("poll", "account", "upload", "download")
    for target in ("account", "upload")
    if source != target  # on its own route, the 429's own retry would wait anyway
]


@pytest.mark.parametrize(("source", "target"), HOLD_PAIRS)
async def test_a_429_on_one_route_holds_the_next_request_on_another(
    fast: Server, tmp_path: Path, source: str, target: str
):
    """With one try per request the 429 is not waited out by its own retry: the wait seen is
    the client-wide hold. (A behaviour check with a generous margin, not a speed target.)"""
    once = RetryPolicy(attempts=1)
    async with AsyncClient(base_url=fast.url, timeout=5, retry=once) as client:
        await _source_429(client, fast, source, tmp_path)
        started = time.monotonic()
        out = await attempt(target, client, tmp_path)
        waited = time.monotonic() - started
    assert out.error is None, out.error
    assert fired(fast) == 1 and live_rules(fast) == []
    assert waited >= HOLD * 0.8, f"the {target} request went out after {waited:.3f} s"


@pytest.mark.parametrize("target", ["upload", "download"])
async def test_a_429_on_an_api_call_holds_an_upload_or_download_retry_in_flight(
    fast: Server, retry_log: RetryLog, tmp_path: Path, target: str
):
    """While a PUT or GET of a file waits to retry a 503, an API call meets a 429 with
    Retry-After: the file's retry waits out the hold too (no API call in between)."""
    hold = 0.8
    policy = RetryPolicy(attempts=4, base_delay=0.3, max_delay=0.3)  # its own wait: <= 0.3 s
    fast.fault(route=target, status=503)
    fast.fault(route="account", status=429, retry_after=hold)
    async with AsyncClient(base_url=fast.url, timeout=5, retry=policy) as client:
        first_retry = asyncio.Event()
        retry_log.on_line = lambda r: first_retry.set() if r.operation == target else None
        meanwhile: list[Outcome] = []

        async def api_call() -> None:
            await first_retry.wait()  # the file's 503 was answered; its retry is pending
            meanwhile.append(await attempt("account", client, tmp_path))

        side = asyncio.ensure_future(api_call())
        out = await attempt(target, client, tmp_path)
        if not first_retry.is_set():  # never retried: the API call would wait forever
            side.cancel()
            pytest.fail(f"the {target} was not retried: {out.error!r}")
        await side
    assert out.error is None and meanwhile[0].error is None
    assert fired(fast) == 2 and live_rules(fast) == []
    first, second = fast.emulator.store.arrivals[target][:2]
    assert second - first >= hold * 0.85, f"the retry went out {second - first:.3f} s later"
    assert [r.operation for r in retry_log.retries] == [target, "account"]


# -- 5. the create: re-sent after a 429 or a refused connect only -----------------------------


async def _create(server: Server, fault: str, times: int | None) -> tuple[Injected, Outcome]:
    """``generate`` without the download (a create, then polls), the fault on the create."""
    injected = Injected(server, "create", fault, times)
    async with injected.client(server) as client:
        out = await attempt("poll", client, Path())
    return injected, out


@pytest.mark.parametrize("fault", ["429", "429-retry-after", "connect"])
async def test_the_create_is_resent_after_a_429_or_a_refused_connect(
    fast: Server, retry_log: RetryLog, fault: str
):
    injected, out = await _create(fast, fault, 2)
    assert out.error is None and out.value.status == "complete"
    assert injected.uses() == 2 and live_rules(fast) == []
    stats = fast.stats()
    assert stats["creates"] == 1  # one job, one charge
    assert fast.requests("create") == injected.reached_server(2) + 1
    check_reported(out, retry_log, "create", injected, 2)


@pytest.mark.parametrize("fault", ["500", "502", "503", "reset"])
async def test_the_create_is_never_resent_once_it_may_have_arrived(
    fast: Server, retry_log: RetryLog, fault: str
):
    injected, out = await _create(fast, fault, 1)
    assert injected.uses() == 1 and live_rules(fast) == []
    assert fast.requests("create") == 1  # sent once, never again
    assert retry_log.retries == [] and out.events == []
    if fault == "reset":  # the emulator made the job, then dropped the answer
        assert type(out.error) is CreateOutcomeUnknown
        assert fast.stats()["creates"] == 1
        assert "not re-sent" in str(out.error)
    else:
        assert type(out.error) is ServerError and out.error.status_code == injected.status
        assert fast.stats()["creates"] == 0
        assert "not retried" in str(out.error)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        pytest.param("429", RateLimitError, id="429"),
        pytest.param("connect", NetworkError, id="connect"),
    ],
)
async def test_the_create_gives_up_after_the_policys_tries(
    fast: Server, retry_log: RetryLog, fault: str, error: type[MagicHourError]
):
    injected, out = await _create(fast, fault, None)
    assert type(out.error) is error, repr(out.error)
    assert injected.uses() == ATTEMPTS
    assert fast.requests("create") == injected.reached_server(ATTEMPTS)
    assert fast.stats()["creates"] == 0
    check_reported(out, retry_log, "create", injected, ATTEMPTS - 1)
    assert f"after {ATTEMPTS} tries" in str(out.error), str(out.error)


# -- 6. the loop itself --------------------------------------------------------------------


async def test_the_loop_reports_each_retry_to_on_retry_and_raises_the_failures_error(
    fast: Server,
):
    """``Transport.retrying`` directly: what a caller passing ``on_retry`` gets. (The upload
    path passes none, so its retries reach no ``Retrying`` event, only the log line.)"""
    settings = Settings(
        base_url=fast.url, token=None, sandbox=False, timeout=httpx.Timeout(5), retry=FAST_RETRY
    )
    transport = Transport(settings)
    seen: list[Retrying] = []
    tries: list[int] = []

    async def once(n: int) -> None:
        tries.append(n)
        raise Transient(
            "HTTP 503", lambda k: ServerError(f"upload: gave up after {k} tries"), None, 503
        )

    try:
        with pytest.raises(ServerError, match=f"after {ATTEMPTS} tries"):
            await transport.retrying(
                once, operation="upload", project_id="p1", on_retry=seen.append
            )
    finally:
        await transport.aclose()
    assert tries == list(range(1, ATTEMPTS + 1))
    assert [(e.operation, e.attempt, e.reason, e.project_id) for e in seen] == [
        ("upload", n, "HTTP 503", "p1") for n in range(1, ATTEMPTS)
    ]
