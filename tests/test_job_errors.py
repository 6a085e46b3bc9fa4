"""The vendor's errors, end to end: the emulator produces each one over real HTTP, and the client
says it in the vendor's words. Every test that injects a fault checks that it fired.

Job errors (``status: "error"`` with ``error.code``) come from an outcome rule with a ``code``;
HTTP errors from ``status`` rules, with ``body: "message"`` for the errors page's code-less
bodies. 502 waits ``bad_gateway_delay`` (the page: "retry after 30-60 s"), 503 backs off
exponentially.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from magicgif_widget import (
    AsyncClient,
    AuthenticationError,
    Client,
    InsufficientCreditsError,
    JobFailedError,
    NotFoundError,
    Retrying,
    RetryPolicy,
    ServerError,
)
from magicgif_widget.client.errors import APIStatusError
from magicgif_widget.client.models import ImageProject, ProjectError
from magicgif_widget.client.transport import _error_body
from magicgif_widget.contract import (
    BAD_GATEWAY_WAIT,
    CREDITS_PER_GIF,
    JOB_ERROR_FALLBACK,
    JOB_ERRORS,
    PAYMENT_CODES,
    job_error_line,
)
from magicgif_widget.emulator import BackgroundServer, Emulator

from .conftest import FAST_POLL, FAST_RETRY, PROMPT, Server, leftovers

TOKEN = "mhk_live_JOBERRORS_0123456789abcdef"


def gen(client: Client, directory: Path, **kw: Any) -> ImageProject:
    return client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=directory, **kw)


def balance(server: Server) -> int:
    return int(server.stats()["credits"])


def applied(server: Server) -> int:
    return int(server.stats()["faults_applied"])


# -- job error codes ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", list(JOB_ERRORS))
def test_each_vendor_job_error_reads_in_the_vendors_words(
    client: Client, server: Server, tmp_path: Path, code: str
):
    before = balance(server)
    server.fault(route="create", outcome="error", code=code)
    with pytest.raises(JobFailedError) as info:
        gen(client, tmp_path)
    err = info.value
    pid = err.project_id
    assert pid and err.project.status == "error" and err.code == code
    assert err.line == JOB_ERRORS[code] == job_error_line(code)
    assert err.refunded is True and err.project.credits_charged == 0
    assert str(err) == f"job {pid} failed: {JOB_ERRORS[code]} ({code}; credits refunded)"
    assert err.detail == "The emulator was told to fail this job."  # the API's, kept beside
    assert balance(server) == before  # the 50 credits came back
    assert applied(server) == 1 and server.stats()["creates"] == 1
    assert list(tmp_path.iterdir()) == []


def test_the_content_policy_line_word_for_word(client: Client, server: Server, tmp_path: Path):
    server.fault(route="create", outcome="error", code="content_policy_violation")
    with pytest.raises(JobFailedError) as info:
        gen(client, tmp_path)
    assert str(info.value) == (
        f"job {info.value.project_id} failed: the prompt breaks Magic Hour's content rules; "
        "reword it and try again (content_policy_violation; credits refunded)"
    )
    assert applied(server) == 1


def test_an_unknown_code_gets_the_general_line_and_the_apis_message(
    client: Client, server: Server, tmp_path: Path
):
    server.fault(
        route="create", outcome="error", code="gpu_on_fire", message="The render node overheated."
    )
    with pytest.raises(JobFailedError) as info:
        gen(client, tmp_path)
    err = info.value
    assert err.code == "gpu_on_fire" and err.line == JOB_ERROR_FALLBACK and err.refunded
    assert str(err) == (
        f"job {err.project_id} failed: {JOB_ERROR_FALLBACK}: The render node overheated. "
        "(gpu_on_fire; credits refunded)"
    )
    assert applied(server) == 1


async def test_the_async_client_says_the_same(client_kwargs: dict[str, Any], server: Server):
    server.fault(route="create", outcome="error", code="processing_timeout")
    async with AsyncClient(**client_kwargs) as aclient:
        with pytest.raises(JobFailedError) as info:
            await aclient.v1.ai_gif_generator.generate(style=PROMPT, download_outputs=False)
    assert info.value.code == "processing_timeout" and info.value.refunded
    assert "took too long" in str(info.value) and applied(server) == 1


def test_check_result_on_a_failed_job_says_the_same(client: Client, server: Server, tmp_path):
    server.fault(route="create", outcome="error", code="invalid_parameters")
    created = client.v1.ai_gif_generator.create(style=PROMPT)
    with pytest.raises(JobFailedError) as info:
        client.v1.image_projects.check_result(id=created.id, download_directory=tmp_path)
    assert info.value.project_id == created.id and info.value.code == "invalid_parameters"
    assert str(info.value).endswith("(invalid_parameters; credits refunded)")
    assert applied(server) == 1


def test_an_echoed_token_in_a_job_error_is_redacted(tmp_path: Path):
    with BackgroundServer(Emulator(render_seconds=0.1, token=TOKEN)) as srv:
        srv.emulator.add_fault(
            route="create", outcome="error", code="mystery", message=f"key {TOKEN} refused"
        )
        with Client(token=TOKEN, base_url=srv.url, poll=FAST_POLL, retry=FAST_RETRY) as client:
            with pytest.raises(JobFailedError) as info:
                gen(client, tmp_path)
        assert srv.emulator.faults.applied == 1
    err = info.value
    for text in (str(err), repr(err), err.message, err.detail or ""):
        assert TOKEN not in text
    assert "key *** refused" in str(err)


def test_the_error_is_built_from_a_project_alone():
    charged = ImageProject(
        id="cm1",
        status="error",
        credits_charged=CREDITS_PER_GIF,
        error=ProjectError("content_policy_violation", "nope"),
    )
    err = JobFailedError.from_project(charged)
    assert err.refunded is False and err.code == "content_policy_violation"
    assert str(err).endswith(f"(content_policy_violation; {CREDITS_PER_GIF} credits charged)")
    bare = JobFailedError.from_project(ImageProject(id="cm2", status="error"))
    assert bare.code is None and bare.line == JOB_ERROR_FALLBACK and bare.detail is None
    assert str(bare) == f"job cm2 failed: {JOB_ERROR_FALLBACK} (no error code; credits refunded)"
    noisy = ImageProject(id="cm3", status="error", error=ProjectError("odd", "a\nb\x1b[31m" * 99))
    line = str(JobFailedError.from_project(noisy))
    assert "\n" not in line and "\x1b" not in line and len(line) < 300


# -- HTTP errors --------------------------------------------------------------------------------


def test_a_message_only_401_is_typed_with_its_message(client: Client, server: Server):
    server.fault(route="account", status=401, body="message", message="Unauthorized")
    with pytest.raises(AuthenticationError) as info:
        client.v1.account.get()
    err = info.value
    assert err.status_code == 401 and err.code is None
    assert str(err).startswith("account: HTTP 401: Unauthorized (")
    assert applied(server) == 1


def test_a_message_only_402_on_create_is_typed(client: Client, server: Server, tmp_path: Path):
    server.fault(route="create", status=402, body="message", message="Payment Required")
    with pytest.raises(InsufficientCreditsError) as info:
        gen(client, tmp_path)
    assert info.value.status_code == 402 and info.value.code is None
    assert "Payment Required" in str(info.value)
    assert applied(server) == 1 and server.stats()["creates"] == 0


@pytest.mark.parametrize("code", list(PAYMENT_CODES))
def test_each_402_code_gets_the_vendors_advice(
    client: Client, server: Server, tmp_path: Path, code: str
):
    server.fault(route="create", status=402, code=code)
    with pytest.raises(InsufficientCreditsError) as info:
        gen(client, tmp_path)
    assert info.value.code == code
    assert str(info.value).endswith(f"({PAYMENT_CODES[code]} at magichour.ai)")
    assert applied(server) == 1


def test_a_real_402_when_the_balance_runs_out(tmp_path: Path):
    with BackgroundServer(Emulator(render_seconds=0.1, credits=CREDITS_PER_GIF - 1)) as srv:
        with Client(base_url=srv.url, poll=FAST_POLL, retry=FAST_RETRY) as client:
            with pytest.raises(InsufficientCreditsError) as info:
                gen(client, tmp_path)
    assert info.value.code == "insufficient_credits" and "buy credits" in str(info.value)


def test_a_message_only_404_is_typed(client: Client, server: Server):
    server.fault(route="poll", status=404, body="message", message="Not Found")
    with pytest.raises(NotFoundError) as info:
        client.v1.image_projects.get(id="cmnothere")
    assert info.value.code is None and "Not Found" in str(info.value)
    assert applied(server) == 1


def test_an_html_502_never_crashes_the_mapping(client_kwargs: dict[str, Any], server: Server):
    server.fault(route="account", status=502, body="html", times=None)
    with Client(**client_kwargs) as client:
        with pytest.raises(ServerError) as info:
            client.v1.account.get()
    assert info.value.status_code == 502 and info.value.code is None
    assert "temporarily unavailable" in str(info.value)
    assert applied(server) == FAST_RETRY.attempts


@pytest.mark.parametrize(
    "content",
    [b"", b"null", b"[1, 2]", b'{"code": 7, "message": ["x"]}', b"[" * 100_000, b"\xff\xfe"],
    ids=["empty", "null", "list", "wrong-types", "deep", "not-utf8"],
)
def test_any_error_body_parses_to_nones(content: bytes):
    assert _error_body(httpx.Response(500, content=content)) == (None, None)


def test_a_code_and_message_are_one_line_each():
    body = b'{"code": "bad\\ncode", "message": "two\\nlines\\u0007"}'
    assert _error_body(httpx.Response(400, content=body)) == ("bad code", "two lines")


def test_an_echoed_token_in_an_error_body_is_redacted():
    with BackgroundServer(Emulator(render_seconds=0.1, token=TOKEN)) as srv:
        srv.emulator.add_fault(route="account", status=401, body="message", message=TOKEN)
        with Client(token=TOKEN, base_url=srv.url, retry=FAST_RETRY) as client:
            with pytest.raises(AuthenticationError) as info:
                client.v1.account.get()
        assert srv.emulator.faults.applied == 1
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)


# -- 502: wait 30-60 s; 503: back off exponentially ---------------------------------------------


def test_the_default_policy_waits_30_to_60_s_after_a_502():
    policy = RetryPolicy()
    assert policy.bad_gateway_delay == BAD_GATEWAY_WAIT
    waits = [policy.delay(attempt, None, 502) for attempt in (1, 2, 3) for _ in range(50)]
    assert all(BAD_GATEWAY_WAIT <= w <= 60 for w in waits)


def test_a_502_while_polling_waits_the_bad_gateway_delay(server: Server, tmp_path: Path):
    gateway = 0.4
    policy = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, bad_gateway_delay=gateway)
    events: list[Any] = []
    with Client(base_url=server.url, poll=FAST_POLL, retry=policy, timeout=5) as client:
        created = client.v1.ai_gif_generator.create(style=PROMPT)
        server.fault(route="poll", status=502)
        start = time.monotonic()
        project = client.v1.image_projects.check_result(
            id=created.id, download_directory=tmp_path, on_event=events.append
        )
    assert project.status == "complete"
    retries = [e for e in events if isinstance(e, Retrying)]
    assert [r.reason for r in retries] == ["HTTP 502"]
    assert gateway <= retries[0].delay <= gateway * 1.2
    assert time.monotonic() - start >= gateway
    assert applied(server) == 1 and leftovers(tmp_path) == []


def test_503s_back_off_exponentially(server: Server, tmp_path: Path):
    base = 0.02
    policy = RetryPolicy(attempts=5, base_delay=base, max_delay=10.0, bad_gateway_delay=5.0)
    events: list[Any] = []
    with Client(base_url=server.url, poll=FAST_POLL, retry=policy, timeout=5) as client:
        created = client.v1.ai_gif_generator.create(style=PROMPT)
        server.fault(route="poll", status=503, times=4)
        project = client.v1.image_projects.check_result(
            id=created.id, download_directory=tmp_path, on_event=events.append
        )
    assert project.status == "complete"
    retries = [e for e in events if isinstance(e, Retrying)]
    assert [r.reason for r in retries] == ["HTTP 503"] * 4
    for n, retry in enumerate(retries, start=1):
        ceiling = base * 2 ** (n - 1)  # doubling each time, jittered down to half
        assert ceiling / 2 <= retry.delay <= ceiling, (n, retry.delay)
    assert applied(server) == 4


def test_503s_past_the_retries_say_overloaded(client: Client, server: Server):
    server.fault(route="account", status=503, times=None)
    with pytest.raises(ServerError) as info:
        client.v1.account.get()
    assert info.value.status_code == 503 and "overloaded" in str(info.value)
    assert applied(server) == FAST_RETRY.attempts


def test_a_5xx_on_create_is_not_retried_nor_advised_to_retry(
    client: Client, server: Server, tmp_path: Path
):
    server.fault(route="create", status=502)
    with pytest.raises(ServerError) as info:
        gen(client, tmp_path)
    assert "a retry could charge twice" in str(info.value)
    assert "retry after" not in str(info.value)
    assert applied(server) == 1 and server.requests("create") == 1


def test_every_mapped_error_is_typed(client: Client, server: Server):
    for status in (400, 401, 402, 404, 422, 500, 502, 503):
        server.fault(route="account", status=status, body="message", times=None)
        with pytest.raises(APIStatusError) as info:
            client.v1.account.get()
        assert info.value.status_code == status and info.value.code is None
        server.reset()
