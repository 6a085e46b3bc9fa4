"""Faults injected in the loopback emulator: what retries, what raises, and that nothing is lost."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from magicgif_widget import (
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    CreateOutcomeUnknown,
    DownloadError,
    GenerationTimeout,
    InsufficientCreditsError,
    JobCanceledError,
    JobFailedError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    Retrying,
    RetryPolicy,
    ServerError,
)
from magicgif_widget.emulator import BackgroundServer, Emulator

from .conftest import FAST_POLL, FAST_RETRY, PROMPT, Server, leftovers
from .fired import assert_always_fired, assert_fired


def gen(client: Client, directory: Path, **kw):
    return client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=directory, **kw)


def test_poll_survives_two_503s_then_a_429_with_retry_after(client, server: Server, tmp_path):
    server.fault(route="poll", status=503, times=2)
    server.fault(route="poll", status=429, retry_after=1)
    events: list = []
    t0 = time.monotonic()
    res = gen(client, tmp_path, on_event=events.append)
    assert res.status == "complete" and Path(res.downloaded_paths[0]).is_file()
    retries = [e for e in events if isinstance(e, Retrying)]
    assert [r.reason for r in retries] == ["HTTP 503", "HTTP 503", "HTTP 429"]
    assert retries[-1].delay == 1.0 and time.monotonic() - t0 >= 1.0
    assert all(r.project_id == res.id for r in retries)
    assert server.stats()["creates"] == 1 and leftovers(tmp_path) == []
    assert_fired(server, 3)


def test_job_error_raises_job_failed_with_project_id(client, server: Server, tmp_path):
    server.fault(route="create", outcome="error")
    with pytest.raises(JobFailedError) as info:
        gen(client, tmp_path)
    err = info.value
    assert err.project_id and err.project.status == "error" and err.code == "render_failed"
    assert err.project_id in str(err) and "render_failed" in str(err)
    assert list(tmp_path.iterdir()) == []
    assert_fired(server, 1)


def test_job_canceled_raises(client, server: Server, tmp_path):
    server.fault(route="create", outcome="canceled")
    with pytest.raises(JobCanceledError) as info:
        gen(client, tmp_path)
    assert info.value.project_id and info.value.project.status == "canceled"
    assert_fired(server, 1)


def test_deadline_ends_an_endless_render(client, server: Server, tmp_path):
    server.fault(route="create", outcome="never")
    t0 = time.monotonic()
    with pytest.raises(GenerationTimeout) as info:
        gen(client, tmp_path, timeout=0.6)
    assert time.monotonic() - t0 >= 0.6  # the deadline, not an early end, stopped it
    assert info.value.project_id and isinstance(info.value, TimeoutError)
    assert server.stats()["creates"] == 1
    assert client.v1.image_projects.get(id=info.value.project_id).status == "rendering"
    assert_fired(server, 1)


def test_create_reset_is_never_resent(client, server: Server, tmp_path):
    server.fault(route="create", kind="reset")
    with pytest.raises(CreateOutcomeUnknown) as info:
        gen(client, tmp_path)
    assert "not re-sent" in str(info.value) and isinstance(info.value, NetworkError)
    assert server.requests("create") == 1 and server.stats()["creates"] == 1
    assert_fired(server, 1)


def test_create_5xx_is_not_retried(client, server: Server, tmp_path):
    server.fault(route="create", status=500)
    with pytest.raises(ServerError) as info:
        gen(client, tmp_path)
    assert info.value.status_code == 500 and "charge twice" in str(info.value)
    assert server.requests("create") == 1 and server.stats()["creates"] == 0
    assert_fired(server, 1)


def test_create_429_is_retried_without_extra_creates(client, server: Server, tmp_path):
    server.fault(route="create", status=429, retry_after=0.2)
    res = gen(client, tmp_path)
    assert res.status == "complete"
    assert server.requests("create") == 2 and server.stats()["creates"] == 1
    assert_fired(server, 1)


def test_create_to_a_closed_port_is_retried_then_fails(tmp_path):
    from magicgif_widget.emulator.server import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with Client(base_url=url, retry=FAST_RETRY, poll=FAST_POLL) as client:
        with pytest.raises(NetworkError) as info:
            gen(client, tmp_path)
    assert not isinstance(info.value, CreateOutcomeUnknown)
    assert "4 tries" in str(info.value) and info.value.project_id is None


def test_poll_reset_is_retried(client, server: Server, tmp_path):
    server.fault(route="poll", kind="reset", times=2)
    assert gen(client, tmp_path).status == "complete"
    assert_fired(server, 2)
    assert server.requests("poll") >= 3  # two reset, then the ones that were answered


def test_persistent_429_on_poll_raises_rate_limit_with_project_id(client, server, tmp_path):
    server.fault(route="poll", status=429, times=None)
    with pytest.raises(RateLimitError) as info:
        gen(client, tmp_path)
    assert info.value.project_id and info.value.status_code == 429
    assert server.requests("poll") == FAST_RETRY.attempts
    assert server.stats()["creates"] == 1
    assert assert_always_fired(server, "poll") == FAST_RETRY.attempts


def test_persistent_502_on_poll_raises_server_error_with_project_id(client, server, tmp_path):
    server.fault(route="poll", status=502, times=None)
    with pytest.raises(ServerError) as info:
        gen(client, tmp_path)
    assert info.value.project_id and info.value.status_code == 502
    assert assert_always_fired(server, "poll") == FAST_RETRY.attempts


def test_request_timeout_then_success(client_kwargs, server: Server, tmp_path):
    server.fault(route="poll", kind="delay", seconds=1.0)
    with Client(**{**client_kwargs, "timeout": 0.3}) as client:
        res = gen(client, tmp_path)
    assert res.status == "complete"
    assert_fired(server, 1)


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "truncate"},
        {"kind": "reset"},
        {"status": 503},
        {"status": 429, "retry_after": 0.1},
        {"kind": "expire"},
    ],
    ids=lambda r: str(r.get("kind") or r.get("status")),
)
def test_download_faults_are_recovered(client, server: Server, tmp_path, rule):
    server.fault(route="download", **rule)
    res = gen(client, tmp_path)
    path = Path(res.downloaded_paths[0])
    assert path.stat().st_size > 1000 and leftovers(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    if rule.get("kind") == "expire":
        assert server.requests("poll") >= 2  # the URL was refreshed by re-reading the project
    assert_fired(server, 1)
    assert server.requests("download") == 2  # the faulted try, then the good one


def test_stalled_download_times_out_and_retries(client_kwargs, server: Server, tmp_path):
    server.fault(route="download", kind="stall", seconds=2.0)
    events: list = []
    with Client(**{**client_kwargs, "timeout": 0.5}) as client:
        res = gen(client, tmp_path, on_event=events.append)
    assert Path(res.downloaded_paths[0]).is_file() and leftovers(tmp_path) == []
    retries = [e for e in events if isinstance(e, Retrying)]
    assert [r.operation for r in retries] == ["download"], retries
    assert "Timeout" in retries[0].reason  # the read timeout ended the stall, not the server
    assert_fired(server, 1)
    assert server.requests("download") == 2


@pytest.mark.parametrize(
    ("rule", "tries"),
    [
        ({"kind": "truncate"}, FAST_RETRY.attempts),
        ({"kind": "expire"}, 3),  # the URL is refreshed twice, then the download gives up
        ({"status": 500}, FAST_RETRY.attempts),
    ],
)
def test_download_that_never_succeeds_leaves_nothing(client, server, tmp_path, rule, tries):
    server.fault(route="download", times=None, **rule)
    with pytest.raises(DownloadError) as info:
        gen(client, tmp_path)
    assert info.value.project_id
    assert list(tmp_path.iterdir()) == []
    assert assert_always_fired(server, "download") == tries


def test_oversized_output_is_refused(client_kwargs, server: Server, tmp_path):
    with Client(**{**client_kwargs, "max_download_bytes": 1000}) as client:
        with pytest.raises(DownloadError, match="limit") as info:
            gen(client, tmp_path)
    assert info.value.project_id and list(tmp_path.iterdir()) == []


def test_unknown_project_is_not_found(client):
    with pytest.raises(NotFoundError) as info:
        client.v1.image_projects.get(id="cm-no-such-project")
    assert info.value.status_code == 404 and info.value.code == "not_found"
    assert info.value.project_id == "cm-no-such-project"


def test_bad_request_from_the_server(client, server: Server, tmp_path):
    server.fault(route="create", status=422)
    with pytest.raises(BadRequestError) as info:
        gen(client, tmp_path)
    assert info.value.status_code == 422
    assert_fired(server, 1)
    server.fault(route="create", status=400)
    with pytest.raises(BadRequestError) as info:
        gen(client, tmp_path)
    assert info.value.status_code == 400
    assert_fired(server, 2)
    assert server.requests("create") == 2 and server.stats()["creates"] == 0


def test_insufficient_credits(client, server: Server, tmp_path):
    server.emulator.store.initial_credits = 60
    gen(client, tmp_path)
    with pytest.raises(InsufficientCreditsError) as info:
        gen(client, tmp_path)
    assert info.value.code == "insufficient_credits" and "credits" in str(info.value)
    assert server.stats()["creates"] == 1


def test_authentication_error_names_the_fix(tmp_path):
    with BackgroundServer(Emulator(render_seconds=0.1, token="right-token")) as srv:
        with Client(base_url=srv.url, token="wrong-token", retry=FAST_RETRY) as client:
            with pytest.raises(AuthenticationError) as info:
                gen(client, tmp_path)
        assert "MAGIC_HOUR_API_TOKEN" in str(info.value) and info.value.status_code == 401
        with Client(base_url=srv.url, token="right-token", poll=FAST_POLL) as client:
            assert gen(client, tmp_path).status == "complete"


def test_delete_retry_after_lost_answer_counts_as_done(client, server: Server):
    created = client.v1.ai_gif_generator.create(style=PROMPT)
    server.fault(route="delete", kind="delay", seconds=0.6)
    with Client(base_url=server.url, timeout=0.3, retry=FAST_RETRY) as impatient:
        impatient.v1.image_projects.delete(id=created.id)  # first try times out, yet deletes
    assert client.v1.image_projects.get(id=created.id).enabled is False
    with pytest.raises(NotFoundError):
        client.v1.image_projects.delete(id=created.id)
    assert_fired(server, 1)
    assert server.requests("delete") == 3  # the late one, its retry, the one that finds it gone


async def test_async_errors_carry_project_id(client_kwargs, server: Server, tmp_path):
    server.fault(route="create", outcome="error")
    async with AsyncClient(**client_kwargs) as client:
        with pytest.raises(JobFailedError) as info:
            await client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=tmp_path)
    assert info.value.project_id and info.value.code == "render_failed"
    assert_fired(server, 1)


def test_retry_policy_backoff_is_capped_and_jittered():
    policy = RetryPolicy(base_delay=0.5, max_delay=2.0)
    delays = [policy.delay(n) for n in range(1, 10) for _ in range(20)]
    assert max(delays) <= 2.0 and min(delays) >= 0.25
    assert len({round(d, 6) for d in delays}) > 10  # jittered
    assert policy.delay(3, retry_after=7) == 7
    assert RetryPolicy(max_retry_after=5).delay(1, retry_after=100) == 5


async def test_a_429_holds_every_request_of_the_client(client_kwargs, server: Server, tmp_path):
    """One Retry-After slows the whole client (a shared limiter), not just the task that met it."""
    import asyncio
    import itertools

    server.reset(render_seconds=1.5)
    async with AsyncClient(**client_kwargs) as client:
        jobs = [
            asyncio.ensure_future(
                client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=tmp_path)
            )
            for _ in range(5)
        ]
        await asyncio.sleep(0.4)  # all five are polling every 0.05 s now
        server.fault(route="poll", status=429, retry_after=0.6)
        results = await asyncio.gather(*jobs)
    assert all(r.status == "complete" for r in results)
    polls = server.emulator.store.arrivals["poll"]
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    # After the 429 nobody polled until Retry-After (0.6 s) had passed. The gap is counted
    # from the last arrival before the hold, which may be a GET already in flight when the 429
    # came back (later by up to a loaded machine's latency); without a shared hold the other
    # four jobs would keep polling every 0.05 s and no gap would pass 0.2 s.
    assert max(gaps) >= 0.5
    assert server.stats()["creates"] == 5
    assert_fired(server, 1)


@pytest.mark.parametrize(("status", "slow"), [(502, True), (503, False)])
def test_502_waits_as_the_errors_page_says_and_503_backs_off(
    server: Server, tmp_path, status: int, slow: bool
):
    """Magic Hour's errors page: retry a 502 after 30-60 s (here scaled to 1 s), back off
    exponentially on a 503. Retry-After, when sent, wins over both (tested above)."""
    from magicgif_widget import Client, Retrying

    server.fault(route="poll", status=status)
    policy = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, bad_gateway_delay=1.0)
    seen: list[Retrying] = []
    with Client(base_url=server.url, poll=FAST_POLL, retry=policy) as client:
        project = client.v1.ai_gif_generator.generate(
            style=PROMPT,
            download_directory=tmp_path,
            on_event=lambda e: seen.append(e) if isinstance(e, Retrying) else None,
        )
    assert project.status == "complete"
    assert_fired(server, 1)
    (retry,) = seen
    assert retry.reason == f"HTTP {status}"
    assert (retry.delay >= 1.0) is slow and retry.delay <= 1.2
