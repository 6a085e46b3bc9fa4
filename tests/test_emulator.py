"""The emulator over real HTTP: a faithful implementation of the Magic Hour contract."""

from __future__ import annotations

import ast
import asyncio
import io
import logging
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import av
import httpx
import pytest
from PIL import Image

from magicgif_widget.contract import CREDITS_PER_GIF, JOB_ERRORS
from magicgif_widget.emulator import BackgroundServer, Emulator, ManualClock, StepClock
from magicgif_widget.emulator.timing import Drawn

from .conftest import PROMPT, Server
from .emulator_process import emulator_process
from .loopback import HTTP

PROJECT_KEYS = {
    "id",
    "name",
    "status",
    "type",
    "created_at",
    "enabled",
    "image_count",
    "credits_charged",
    "total_frame_cost",
    "downloads",
    "error",
}
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


# -- helpers -------------------------------------------------------------------------------


def create(url: str, body: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
    return HTTP.post(
        f"{url}/v1/ai-gif-generator", json={"style": PROMPT, **(body or {})}, headers=headers
    )


def create_id(url: str, **body: Any) -> str:
    res = create(url, body)
    assert res.status_code == 200, res.text
    return res.json()["id"]


def project(url: str, project_id: str, **headers: str) -> httpx.Response:
    return HTTP.get(f"{url}/v1/image-projects/{project_id}", headers=headers)


def wait_final(url: str, project_id: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = project(url, project_id).json()
        if body["status"] in ("complete", "error", "canceled"):
            return body
        assert time.monotonic() < deadline, f"still {body['status']} after {timeout}s"
        time.sleep(0.05)


def completed(server: Server, **body: Any) -> dict[str, Any]:
    """A finished job (renders in 0.2 s on a clock then moved past them), as the GET shows it."""
    clock = ManualClock()
    server.reset(render_seconds=0.2, clock=clock)
    project_id = create_id(server.url, **body)
    clock.advance(0.25)
    done = project(server.url, project_id).json()
    assert done["status"] == "complete"
    return done


def download_url(server: Server, **body: Any) -> str:
    return completed(server, **body)["downloads"][0]["url"]


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def account_credits(url: str) -> int:
    res = HTTP.get(f"{url}/v1/account")
    assert res.status_code == 200
    return res.json()["credits"]


def assert_error(res: httpx.Response, status: int, code: str | None = None) -> None:
    assert res.status_code == status, res.text
    assert res.headers["content-type"].startswith("application/json")
    body = res.json()
    assert set(body) == {"code", "message"}
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["code"] == code


@contextmanager
def serving(**kwargs: Any) -> Iterator[BackgroundServer]:
    """A dedicated emulator (for settings the shared one must not keep)."""
    with BackgroundServer(Emulator(**kwargs)) as srv:
        yield srv


def video_frames(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as container:
        return sum(1 for _ in container.decode(video=0))


# -- create and poll -------------------------------------------------------------------------


def test_create_answers_id_and_cost(server: Server):
    res = create(server.url, {"name": "Ai Gif gif", "output_format": "gif"})
    assert res.status_code == 200
    body = res.json()
    assert set(body) == {"id", "credits_charged", "frame_cost"}
    assert isinstance(body["id"], str) and body["id"]
    assert body["credits_charged"] == body["frame_cost"] == 50
    assert server.stats()["creates"] == 1
    assert create_id(server.url) != body["id"]


def test_project_lifecycle_queued_rendering_complete(server: Server):
    clock = ManualClock()
    server.reset(render_seconds=0.6, clock=clock)
    project_id = create_id(server.url, name="Ai Gif gif")
    first = project(server.url, project_id)
    assert first.status_code == 200
    body = first.json()
    assert set(body) == PROJECT_KEYS
    assert body["status"] == "queued"
    assert body["id"] == project_id and body["name"] == "Ai Gif gif"
    assert body["type"] == "AI_GIF" and body["enabled"] is True
    assert body["downloads"] == [] and body["error"] is None
    assert body["credits_charged"] == body["total_frame_cost"] == 50
    assert ISO_Z.match(body["created_at"]), body["created_at"]
    made = datetime.fromisoformat(body["created_at"].replace("Z", "+00:00"))
    assert abs((datetime.now(timezone.utc) - made).total_seconds()) < 5

    clock.advance(0.3)
    body = project(server.url, project_id).json()
    assert body["status"] == "rendering"
    assert body["downloads"] == [] and body["error"] is None

    clock.advance(0.4)
    body = project(server.url, project_id).json()
    assert set(body) == PROJECT_KEYS
    assert body["status"] == "complete" and body["image_count"] == 1 and body["error"] is None
    assert len(body["downloads"]) == 1
    download = body["downloads"][0]
    assert set(download) == {"url", "expires_at"}
    assert urlsplit(download["url"]).path.endswith("/output.gif")
    assert ISO_Z.match(download["expires_at"])
    expires = datetime.fromisoformat(download["expires_at"].replace("Z", "+00:00"))
    assert expires > datetime.now(timezone.utc)


def test_default_name_and_format(server: Server):
    body = completed(server)
    assert body["name"].startswith("Ai Gif - ")
    assert urlsplit(body["downloads"][0]["url"]).path.endswith("/output.gif")


def test_error_outcome_refunds_credits(server: Server):
    clock = ManualClock()  # the charge is read before the job ends, however slow the machine
    server.reset(render_seconds=0.2, clock=clock)
    before = account_credits(server.url)
    server.fault(route="create", outcome="error")
    res = create(server.url)
    assert res.status_code == 200 and res.json()["credits_charged"] == 50
    assert account_credits(server.url) == before - 50
    clock.advance(0.25)
    body = wait_final(server.url, res.json()["id"])
    assert set(body) == PROJECT_KEYS
    assert body["status"] == "error"
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] and body["error"]["message"]
    assert body["downloads"] == []
    assert body["credits_charged"] == body["total_frame_cost"] == 0
    assert account_credits(server.url) == before
    # the outcome rule was spent: the next job completes
    next_id = create_id(server.url)
    clock.advance(0.25)
    assert wait_final(server.url, next_id)["status"] == "complete"


def test_canceled_outcome(server: Server):
    server.reset(render_seconds=0.2)
    server.fault(route="create", outcome="canceled")
    body = wait_final(server.url, create_id(server.url))
    assert body["status"] == "canceled"
    assert body["downloads"] == [] and body["error"] is None


def test_never_outcome_stays_rendering(server: Server):
    clock = ManualClock()
    server.reset(render_seconds=0.2, clock=clock)
    server.fault(route="create", outcome="never")
    project_id = create_id(server.url)
    clock.advance(3600.0)  # an hour past its render time
    body = project(server.url, project_id).json()
    assert body["status"] == "rendering" and body["downloads"] == []


# -- the clock: renders, credits and URL expiry read the emulator's "now" -------------------


def test_a_job_renders_until_the_manual_clock_passes_its_time(server: Server):
    clock = ManualClock()
    server.reset(render_seconds=26.0, clock=clock)  # the vendor's median, waited for by no one
    started = time.monotonic()
    project_id = create_id(server.url)
    assert project(server.url, project_id).json()["status"] == "queued"
    clock.advance(26.0 * 0.2)  # the queued fifth is over
    for _ in range(3):  # real time passing changes nothing
        body = project(server.url, project_id).json()
        assert body["status"] == "rendering" and body["downloads"] == []
    clock.advance(26.0 * 0.8 - 0.01)
    assert project(server.url, project_id).json()["status"] == "rendering"
    clock.advance(0.02)
    body = project(server.url, project_id).json()
    assert body["status"] == "complete" and body["image_count"] == 1
    res = HTTP.get(body["downloads"][0]["url"])
    assert res.status_code == 200 and res.content[:6] == b"GIF89a"
    assert time.monotonic() - started < 5  # no 26 s wait
    assert server.stats()["polls"] == 6


def test_credits_are_refunded_when_the_clock_passes_a_failed_jobs_time(server: Server):
    clock = ManualClock()
    server.reset(render_seconds=10.0, clock=clock)
    before = account_credits(server.url)
    server.fault(route="create", outcome="error")
    project_id = create_id(server.url)
    clock.advance(9.9)
    assert account_credits(server.url) == server.stats()["credits"] == before - CREDITS_PER_GIF
    assert project(server.url, project_id).json()["credits_charged"] == CREDITS_PER_GIF
    clock.advance(0.2)
    body = project(server.url, project_id).json()
    assert body["status"] == "error" and body["credits_charged"] == 0
    assert account_credits(server.url) == server.stats()["credits"] == before


def test_created_at_and_url_expiry_follow_the_clocks_wall_time(server: Server):
    wall = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    clock = ManualClock(wall=wall)
    server.reset(render_seconds=1.0, clock=clock)
    project_id = create_id(server.url)
    clock.advance(1.0)
    body = project(server.url, project_id).json()
    assert body["created_at"] == "2023-11-14T22:13:20.000Z"
    assert body["name"] == "Ai Gif - 2023-11-14T22:13:20.000Z"  # named at create, too
    ttl = server.emulator.url_ttl
    download = body["downloads"][0]
    when = datetime.fromtimestamp(wall + 1.0 + ttl, timezone.utc)
    assert download["expires_at"] == when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    uploads = HTTP.post(
        f"{server.url}/v1/files/upload-urls",
        json={"items": [{"extension": "png", "type": "image"}]},
    ).json()["items"]
    assert HTTP.get(download["url"]).status_code == 200
    clock.advance(ttl - 1)
    assert HTTP.get(download["url"]).status_code == 200  # a second before it expires
    clock.advance(1)
    assert_error(HTTP.get(download["url"]), 403, "forbidden")
    assert_error(HTTP.put(uploads[0]["upload_url"], content=b"png"), 403, "forbidden")
    fresh = project(server.url, project_id).json()["downloads"][0]["url"]
    assert HTTP.get(fresh).status_code == 200  # a GET signs a new URL on the clock's now


def test_a_step_clock_ends_a_realistic_job_in_a_few_polls():
    started = time.monotonic()
    with serving(timing=Drawn.realistic(seed=1), clock=StepClock(10.0)) as srv:
        project_id = create_id(srv.url)
        planned = HTTP.get(f"{srv.url}/emulator/jobs").json()[0]["seconds"]
        assert planned > 10  # a realistic job: tens of seconds
        statuses = [project(srv.url, project_id).json()["status"] for _ in range(12)]
    polls = statuses.index("complete") + 1
    assert polls == int(planned // 10) + 1  # each GET moved the clock 10 s before reading it
    assert set(statuses[: polls - 1]) <= {"queued", "rendering"}
    assert set(statuses[polls:]) == {"complete"}
    assert time.monotonic() - started < 5


def test_the_clocks_refuse_to_go_back():
    clock = ManualClock(monotonic=5.0, wall=100.0)
    clock.advance(2.5)
    assert (clock.monotonic(), clock.time()) == (7.5, 102.5)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="step"):
        StepClock(0)
    step = StepClock(3.0)
    step.polled()
    assert step.monotonic() == 3.0


# -- validation and errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"name": "no style"},
        {"style": {}},
        {"style": {"prompt": ""}},
        {"style": {"prompt": "x" * 501}},
        {"style": PROMPT, "output_format": "png"},
        {"style": "a cat"},
        [],
    ],
    ids=[
        "missing-style",
        "no-prompt",
        "empty-prompt",
        "501-chars",
        "bad-format",
        "str-style",
        "list",
    ],
)
def test_create_validation_is_422(server: Server, body: Any):
    res = HTTP.post(f"{server.url}/v1/ai-gif-generator", json=body)
    assert_error(res, 422, "unprocessable_entity")
    assert server.stats()["creates"] == 0


def test_prompt_of_500_chars_is_accepted(server: Server):
    res = HTTP.post(f"{server.url}/v1/ai-gif-generator", json={"style": {"prompt": "x" * 500}})
    assert res.status_code == 200


def test_invalid_json_is_400(server: Server):
    res = HTTP.post(
        f"{server.url}/v1/ai-gif-generator",
        content=b'{"style": {"prompt": ',
        headers={"content-type": "application/json"},
    )
    assert_error(res, 400, "invalid_request")
    assert server.stats()["creates"] == 0


def test_unknown_route_is_404_json(server: Server):
    assert_error(HTTP.get(f"{server.url}/v1/nope"), 404, "not_found")
    assert_error(HTTP.post(f"{server.url}/v2/ai-gif-generator", json={}), 404, "not_found")


def test_unknown_project_is_404(server: Server):
    assert_error(project(server.url, "cm-does-not-exist"), 404, "not_found")
    res = HTTP.delete(f"{server.url}/v1/image-projects/cm-does-not-exist")
    assert_error(res, 404, "not_found")


# -- auth ------------------------------------------------------------------------------------


def test_auth_token_required():
    clock = ManualClock()
    with serving(token="t0k", render_seconds=0.2, clock=clock) as srv:
        good = {"authorization": "Bearer t0k"}
        for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": "t0k"}):
            assert_error(HTTP.get(f"{srv.url}/v1/account", headers=headers), 401, "unauthorized")
            assert_error(create(srv.url, **headers), 401, "unauthorized")
            assert_error(project(srv.url, "x", **headers), 401, "unauthorized")
        assert HTTP.get(f"{srv.url}/v1/account", headers=good).status_code == 200
        res = create(srv.url, **good)
        assert res.status_code == 200
        project_id = res.json()["id"]
        clock.advance(0.25)
        body = project(srv.url, project_id, **good).json()
        assert body["status"] == "complete"
        # signed URLs are used without the API key
        res = HTTP.get(body["downloads"][0]["url"])
        assert res.status_code == 200 and res.content[:6] in (b"GIF87a", b"GIF89a")
        res = HTTP.post(
            f"{srv.url}/v1/files/upload-urls",
            json={"items": [{"extension": "png", "type": "image"}]},
            headers=good,
        )
        item = res.json()["items"][0]
        assert HTTP.put(item["upload_url"], content=b"png").status_code == 200
        assert srv.emulator.store.uploads[item["file_path"]] == b"png"


# -- credits ---------------------------------------------------------------------------------


def test_credits_run_out_with_402():
    with serving(credits=100, render_seconds=0.2) as srv:
        assert account_credits(srv.url) == 100
        assert create(srv.url).status_code == 200
        assert create(srv.url).status_code == 200
        assert account_credits(srv.url) == 0
        assert_error(create(srv.url), 402, "insufficient_credits")
        assert len(srv.emulator.store.jobs) == 2


def test_refund_makes_room_for_another_job():
    with serving(credits=50, render_seconds=0.2) as srv:
        HTTP.post(f"{srv.url}/emulator/faults", json={"route": "create", "outcome": "error"})
        project_id = create_id(srv.url)
        assert_error(create(srv.url), 402, "insufficient_credits")
        assert wait_final(srv.url, project_id)["status"] == "error"
        assert create(srv.url).status_code == 200


# -- signed URLs -----------------------------------------------------------------------------


def test_tampered_signature_is_403(server: Server):
    url = download_url(server)
    sig = parse_qs(urlsplit(url).query)["sig"][0]
    forged = ("0" if sig[0] != "0" else "1") + sig[1:]
    assert_error(HTTP.get(with_query(url, sig=forged)), 403)
    assert_error(HTTP.get(with_query(url, sig="")), 403)
    expires = parse_qs(urlsplit(url).query)["expires"][0]
    assert_error(HTTP.get(with_query(url, expires=str(int(expires) + 60))), 403)
    assert HTTP.get(url).status_code == 200


def test_expired_url_is_403():
    with serving(render_seconds=0.1, url_ttl=-5) as srv:
        project_id = create_id(srv.url)
        body = wait_final(srv.url, project_id)
        url = body["downloads"][0]["url"]
        expires = datetime.fromisoformat(body["downloads"][0]["expires_at"].replace("Z", "+00:00"))
        assert expires < datetime.now(timezone.utc)
        assert_error(HTTP.get(url), 403)
        # the same emulator signs a fresh, valid URL once the TTL is positive
        srv.emulator.url_ttl = 3600
        fresh = project(srv.url, project_id).json()["downloads"][0]["url"]
        assert HTTP.get(fresh).status_code == 200


def test_expire_fault_fires_once(server: Server):
    url = download_url(server)
    server.fault(route="download", kind="expire")
    assert_error(HTTP.get(url), 403)
    assert HTTP.get(url).status_code == 200


# -- outputs ---------------------------------------------------------------------------------


def test_gif_output_is_an_animated_gif(server: Server):
    res = HTTP.get(download_url(server, output_format="gif"))
    assert res.status_code == 200
    assert res.headers["content-type"] == "image/gif"
    assert int(res.headers["content-length"]) == len(res.content)
    with Image.open(io.BytesIO(res.content)) as im:
        assert im.format == "GIF" and im.is_animated and im.n_frames >= 8


@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_video_outputs_decode(server: Server, fmt: str):
    url = download_url(server, output_format=fmt)
    assert urlsplit(url).path.endswith(f"/output.{fmt}")
    res = HTTP.get(url)
    assert res.status_code == 200
    assert res.headers["content-type"] == f"video/{fmt}"
    assert int(res.headers["content-length"]) == len(res.content)
    assert video_frames(res.content) >= 8


def test_same_prompt_same_bytes(server: Server):
    server.reset(render_seconds=0.2)
    ids = [create_id(server.url), create_id(server.url)]
    urls = [wait_final(server.url, i)["downloads"][0]["url"] for i in ids]
    assert urls[0] != urls[1]
    first, second = (HTTP.get(u).content for u in urls)
    assert first == second and first[:6] == b"GIF89a"
    other = wait_final(server.url, create_id(server.url, style={"prompt": "A red fox"}))
    assert HTTP.get(other["downloads"][0]["url"]).content != first


def test_output_file_is_served_for_every_job(tmp_path: Path):
    path = tmp_path / "fixed.gif"
    path.write_bytes(b"GIF89a fixed output bytes")
    with serving(output_file=path, render_seconds=0.1) as srv:
        for fmt in ("gif", "mp4"):
            body = wait_final(srv.url, create_id(srv.url, output_format=fmt))
            res = HTTP.get(body["downloads"][0]["url"])
            assert res.status_code == 200 and res.content == path.read_bytes()
            assert int(res.headers["content-length"]) == len(res.content)


# -- test hooks ------------------------------------------------------------------------------


def test_stats_count_every_operation(server: Server):
    assert server.stats()["creates"] == 0
    body = completed(server)  # a create and some polls
    polls = server.stats()["polls"]
    assert polls >= 1
    project(server.url, body["id"])
    project(server.url, "unknown")
    HTTP.get(body["downloads"][0]["url"])
    HTTP.delete(f"{server.url}/v1/image-projects/{body['id']}")
    item = HTTP.post(
        f"{server.url}/v1/files/upload-urls",
        json={"items": [{"extension": "png", "type": "image"}]},
    ).json()["items"][0]
    HTTP.put(item["upload_url"], content=b"data")
    HTTP.get(f"{server.url}/v1/account")
    stats = server.stats()
    assert stats["creates"] == 1
    assert stats["polls"] == polls + 1
    assert stats["downloads"] == 1 and stats["deletes"] == 1 and stats["uploads"] == 1
    requests = stats["requests"]
    assert requests["create"] == 1 and requests["poll"] == polls + 2
    assert requests["download"] == 1 and requests["delete"] == 1
    assert requests["upload-urls"] == 1 and requests["upload"] == 1 and requests["account"] == 1
    assert server.requests("poll") == polls + 2


def test_reset_clears_jobs_counts_and_faults(server: Server):
    project_id = create_id(server.url)
    item = HTTP.post(
        f"{server.url}/v1/files/upload-urls",
        json={"items": [{"extension": "png", "type": "image"}]},
    ).json()["items"][0]
    assert HTTP.put(item["upload_url"], content=b"x").status_code == 200
    server.fault(route="poll", status=503, times=5)
    assert HTTP.get(f"{server.url}/emulator/faults").json()["faults"]
    res = HTTP.post(f"{server.url}/emulator/reset")
    assert res.status_code == 200
    assert HTTP.get(f"{server.url}/emulator/faults").json()["faults"] == []
    stats = server.stats()
    assert stats["creates"] == stats["polls"] == stats["downloads"] == 0
    assert stats["requests"] == {} and stats["faults_applied"] == 0
    assert_error(project(server.url, project_id), 404, "not_found")  # not a 503: fault gone
    assert server.emulator.store.jobs == {} and server.emulator.store.uploads == {}


@pytest.mark.parametrize(
    "rule",
    [
        {"route": "nowhere", "status": 503},
        {"route": "poll", "status": 503, "kind": "delay", "seconds": 1},
        {"route": "create", "kind": "reset", "outcome": "error"},
        {"route": "poll"},
        {"route": "poll", "outcome": "error"},
        {"route": "poll", "status": 503, "times": 0},
        {"route": "poll", "status": 503, "times": -1},
        {"route": "poll", "kind": "truncate"},
        {"route": "poll", "status": 200},
        {"route": "poll", "kind": "explode"},
        {"route": "poll", "kind": "delay"},
        {"route": "poll", "status": 503, "colour": "red"},
        {"route": "create", "outcome": "complete"},
    ],
)
def test_malformed_fault_rules_are_400(server: Server, rule: dict[str, Any]):
    res = HTTP.post(f"{server.url}/emulator/faults", json=rule)
    assert_error(res, 400, "invalid_request")
    assert HTTP.get(f"{server.url}/emulator/faults").json()["faults"] == []


def test_fault_rule_not_json_is_400(server: Server):
    res = HTTP.post(f"{server.url}/emulator/faults", content=b"{nope")
    assert_error(res, 400, "invalid_request")


def test_faults_fire_in_order_then_clear(server: Server):
    project_id = create_id(server.url)
    server.fault(route="poll", status=503, times=2)
    server.fault(route="poll", status=429, retry_after=1)
    answers = [project(server.url, project_id) for _ in range(3)]
    assert [r.status_code for r in answers] == [503, 503, 429]
    for res in answers:
        assert_error(res, res.status_code)
    assert "retry-after" not in answers[0].headers
    assert answers[2].headers["retry-after"] == "1"
    ok = project(server.url, project_id)
    assert ok.status_code == 200 and ok.json()["id"] == project_id
    assert server.stats()["faults_applied"] == 3


def test_fault_on_one_route_spares_others(server: Server):
    server.fault(route="create", status=500)
    assert_error(create(server.url), 500)
    assert server.emulator.store.jobs == {}  # a failed create made nothing
    project_id = create_id(server.url)
    assert project(server.url, project_id).status_code == 200


def test_delay_fault_delays(server: Server):
    project_id = create_id(server.url)
    server.fault(route="poll", kind="delay", seconds=0.4)
    start = time.monotonic()
    assert project(server.url, project_id).status_code == 200
    assert time.monotonic() - start >= 0.4
    start = time.monotonic()
    assert project(server.url, project_id).status_code == 200
    assert time.monotonic() - start < 0.3


def test_reset_fault_drops_the_connection(server: Server):
    project_id = create_id(server.url)
    server.fault(route="poll", kind="reset")
    with httpx.Client() as client:
        with pytest.raises(httpx.TransportError):
            client.get(f"{server.url}/v1/image-projects/{project_id}")
        assert client.get(f"{server.url}/v1/image-projects/{project_id}").status_code == 200


def test_reset_fault_on_create_still_makes_the_job(server: Server):
    server.fault(route="create", kind="reset")
    with pytest.raises(httpx.TransportError):
        create(server.url)
    assert len(server.emulator.store.jobs) == 1
    assert server.stats()["creates"] == 1


def test_truncate_fault_cuts_the_download(server: Server):
    url = download_url(server)
    server.fault(route="download", kind="truncate")
    received = bytearray()
    length = None
    try:
        with httpx.stream("GET", url) as res:
            assert res.status_code == 200
            length = int(res.headers["content-length"])
            for chunk in res.iter_bytes():
                received += chunk
    except httpx.TransportError:
        pass  # a protocol error is the other way a client may see it
    else:
        assert length is not None and len(received) < length
    full = HTTP.get(url)  # the rule was spent: the next download is whole
    assert full.status_code == 200 and len(received) < len(full.content)


async def test_500_concurrent_requests(server: Server):
    """500 requests at once over 100 connections all succeed.

    The 100 connections are spread over five pools of 20: one httpx pool of 100 with 500
    queued requests spends ~7 s in httpcore's own request-to-connection matching
    (quadratic in the queue), which would measure the client rather than the emulator.
    """
    ids = [create_id(server.url) for _ in range(5)]
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=20)
    paths = [
        "/emulator/health" if n % 2 else f"/v1/image-projects/{ids[n % 5]}" for n in range(500)
    ]
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=server.url, limits=limits, timeout=10)
            )
            for _ in range(5)
        ]
        start = time.monotonic()
        answers = await asyncio.gather(*(clients[n % 5].get(path) for n, path in enumerate(paths)))
        elapsed = time.monotonic() - start
    assert [r.status_code for r in answers] == [200] * 500
    assert all(r.json()["ok"] for r in answers[1::2])
    assert {r.json()["id"] for r in answers[::2]} == set(ids)
    assert server.stats()["polls"] == 250
    assert elapsed < 10


async def test_500_concurrent_mixed_requests_get_no_unasked_5xx(server: Server):
    """Every contract route at once: creates, polls, downloads, upload URLs, account, deletes."""
    server.reset(render_seconds=0.0)
    done = [create_id(server.url) for _ in range(5)]
    doomed = [create_id(server.url) for _ in range(50)]
    urls = [HTTP.get(f"{server.url}/v1/image-projects/{i}").json() for i in done]
    files = [p["downloads"][0]["url"] for p in urls]
    expected = {url: HTTP.get(url).content for url in files}
    calls: list[tuple[str, str, dict]] = (
        [
            ("POST", "/v1/ai-gif-generator", {"json": {"style": {"prompt": f"load {n}"}}})
            for n in range(100)
        ]
        + [("GET", f"/v1/image-projects/{done[n % 5]}", {}) for n in range(150)]
        + [("GET", files[n % 5], {}) for n in range(100)]
        + [
            (
                "POST",
                "/v1/files/upload-urls",
                {"json": {"items": [{"extension": "png", "type": "image"}]}},
            )
            for _ in range(50)
        ]
        + [("GET", "/v1/account", {}) for _ in range(50)]
        + [("DELETE", f"/v1/image-projects/{i}", {}) for i in doomed]
    )
    assert len(calls) == 500
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=20)
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30)
            )
            for _ in range(5)
        ]
        answers = await asyncio.gather(
            *(clients[n % 5].request(m, path, **kw) for n, (m, path, kw) in enumerate(calls))
        )
    assert [r.status_code for r in answers if r.status_code >= 500] == []
    by_kind: dict[str, list[httpx.Response]] = {}
    for (method, path, _), answer in zip(calls, answers, strict=True):
        by_kind.setdefault(
            f"{method} {path.split('/')[2] if path.startswith('/v1') else 'file'}", []
        ).append(answer)
    creates = by_kind["POST ai-gif-generator"]
    assert {r.status_code for r in creates} == {200} and len(
        {r.json()["id"] for r in creates}
    ) == 100
    assert {r.status_code for r in by_kind["GET image-projects"]} == {200}
    assert all(r.content == expected[str(r.request.url)] for r in by_kind["GET file"])
    assert {r.status_code for r in by_kind["POST files"]} == {200}
    assert {r.status_code for r in by_kind["GET account"]} == {200}
    assert {r.status_code for r in by_kind["DELETE image-projects"]} == {204}
    assert server.stats()["creates"] == 155 and server.stats()["deletes"] == 50


# -- delete ----------------------------------------------------------------------------------


def test_delete_disables_then_404(server: Server):
    body = completed(server)
    url = body["downloads"][0]["url"]
    res = HTTP.delete(f"{server.url}/v1/image-projects/{body['id']}")
    assert res.status_code == 204 and res.content == b""
    after = project(server.url, body["id"])
    assert after.status_code == 200
    assert after.json()["enabled"] is False
    assert set(after.json()) == PROJECT_KEYS
    # the outputs went with the project
    assert after.json()["downloads"] == []
    assert HTTP.get(url).status_code == 404
    again = HTTP.delete(f"{server.url}/v1/image-projects/{body['id']}")
    assert_error(again, 404, "not_found")
    assert server.stats()["deletes"] == 1


# -- uploads ---------------------------------------------------------------------------------


def test_upload_urls_in_request_order(server: Server):
    wanted = [("png", "image"), ("mp4", "video"), ("mp3", "audio"), ("JPG", "image")]
    res = HTTP.post(
        f"{server.url}/v1/files/upload-urls",
        json={"items": [{"extension": e, "type": t} for e, t in wanted]},
    )
    assert res.status_code == 200
    items = res.json()["items"]
    assert len(items) == len(wanted)
    for item, (ext, _kind) in zip(items, wanted, strict=True):
        assert set(item) == {"upload_url", "file_path", "expires_at"}
        assert item["file_path"].startswith("api-assets/")
        assert item["file_path"].endswith(f".{ext.lower()}")
        assert ISO_Z.match(item["expires_at"])
        assert urlsplit(item["upload_url"]).scheme == "http"
    assert len({i["file_path"] for i in items}) == len(items)


@pytest.mark.parametrize(
    "body",
    [{}, {"items": []}, {"items": [{"extension": "png"}]}, {"items": [{"type": "image"}]}],
)
def test_upload_urls_validation(server: Server, body: dict[str, Any]):
    res = HTTP.post(f"{server.url}/v1/files/upload-urls", json=body)
    assert_error(res, 422, "unprocessable_entity")


def test_upload_urls_rejects_an_unknown_type(server: Server):
    res = HTTP.post(
        f"{server.url}/v1/files/upload-urls",
        json={"items": [{"extension": "png", "type": "document"}]},
    )
    assert_error(res, 422, "unprocessable_entity")


def test_put_stores_the_bytes(server: Server):
    res = HTTP.post(
        f"{server.url}/v1/files/upload-urls",
        json={
            "items": [{"extension": "png", "type": "image"}, {"extension": "mp4", "type": "video"}]
        },
    )
    first, second = res.json()["items"]
    payload = bytes(range(256)) * 1000
    put = HTTP.put(first["upload_url"], content=payload)
    assert put.status_code == 200
    assert server.emulator.store.uploads[first["file_path"]] == payload
    assert second["file_path"] not in server.emulator.store.uploads
    assert server.stats()["uploads"] == 1


def test_put_with_a_bad_signature_is_403(server: Server):
    res = HTTP.post(
        f"{server.url}/v1/files/upload-urls",
        json={"items": [{"extension": "png", "type": "image"}]},
    )
    item = res.json()["items"][0]
    assert_error(HTTP.put(with_query(item["upload_url"], sig="f" * 32), content=b"x"), 403)
    assert_error(HTTP.put(item["upload_url"].split("?")[0], content=b"x"), 403)
    assert server.emulator.store.uploads == {}
    assert server.stats()["uploads"] == 0


# -- regressions: bugs found here and fixed in the emulator ---------------------------------


def test_upload_urls_invalid_json_is_400(server: Server):
    res = HTTP.post(
        f"{server.url}/v1/files/upload-urls",
        content=b'{"items": [',
        headers={"content-type": "application/json"},
    )
    assert_error(res, 400, "invalid_request")


@pytest.mark.parametrize("target", ["download", "upload"])
def test_non_ascii_signature_is_403(server: Server, target: str):
    if target == "download":
        res = HTTP.get(with_query(download_url(server), sig="\u00e9" * 32))
    else:
        item = HTTP.post(
            f"{server.url}/v1/files/upload-urls",
            json={"items": [{"extension": "png", "type": "image"}]},
        ).json()["items"][0]
        res = HTTP.put(with_query(item["upload_url"], sig="\u00e9" * 32), content=b"x")
    assert_error(res, 403)


@pytest.mark.parametrize("route", ["account", "upload-urls"])
def test_reset_rule_is_rejected_or_applied(server: Server, route: str):
    res = HTTP.post(f"{server.url}/emulator/faults", json={"route": route, "kind": "reset"})
    if res.status_code == 400:
        return  # rejecting the rule is as good as honouring it
    assert res.status_code == 200
    with pytest.raises(httpx.TransportError):
        if route == "account":
            HTTP.get(f"{server.url}/v1/account")
        else:
            HTTP.post(
                f"{server.url}/v1/files/upload-urls",
                json={"items": [{"extension": "png", "type": "image"}]},
            )


def test_outcome_rule_survives_a_refused_create():
    with serving(credits=50, render_seconds=0.1) as srv:
        assert create(srv.url).status_code == 200
        HTTP.post(f"{srv.url}/emulator/faults", json={"route": "create", "outcome": "error"})
        assert_error(create(srv.url), 402, "insufficient_credits")
        srv.emulator.store.initial_credits = 100
        assert wait_final(srv.url, create_id(srv.url))["status"] == "error"


# -- validation without asserts (python -O strips them) -------------------------------------

EMULATOR_SOURCES = sorted((Path(__file__).parent.parent / "magicgif_widget/emulator").glob("*.py"))
BAD_UPLOAD_BODIES = [
    [],
    {"items": "png"},
    {"items": {"extension": "png", "type": "image"}},
    {"items": ["png"]},
    {"items": [{"extension": 3, "type": "image"}]},
    {"items": [{"extension": "p.ng", "type": "image"}]},
    {"items": [{"extension": "pñg", "type": "image"}]},
    {"items": [{"extension": "", "type": "image"}]},
    {"items": [{"extension": "png", "type": ["image"]}]},
    {"items": [{"extension": "png", "type": "image"}, {"extension": "png"}]},
]


@pytest.mark.parametrize("body", BAD_UPLOAD_BODIES)
def test_upload_urls_refuses_every_bad_item_with_422(server: Server, body: Any):
    res = HTTP.post(f"{server.url}/v1/files/upload-urls", json=body)
    assert_error(res, 422, "unprocessable_entity")


def test_the_emulator_has_no_assert_statements():
    for source in EMULATOR_SOURCES:
        tree = ast.parse(source.read_text(), str(source))
        found = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        assert found == [], f"{source.name}: assert on lines {found}"


def test_the_emulator_imports_the_contract_never_the_client():
    for source in EMULATOR_SOURCES:
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert "client" not in name.split("."), f"{source.name} imports {name}"
                assert not name.startswith("...") and name != "..", f"{source.name}: {name}"


def test_validation_holds_under_python_optimize():
    """The same bad requests, to an emulator started with ``python -O`` (asserts stripped)."""
    with emulator_process("--render-seconds", "0.1", python_flags=("-O",)) as url:
        for body in BAD_UPLOAD_BODIES:
            assert_error(HTTP.post(f"{url}/v1/files/upload-urls", json=body), 422)
        assert_error(HTTP.post(f"{url}/v1/files/upload-urls", content=b"{"), 400)
        assert_error(HTTP.post(f"{url}/v1/ai-gif-generator", json={"style": {}}), 422)
        assert_error(HTTP.post(f"{url}/v1/ai-gif-generator", content=b"nope"), 400)
        rule = {"route": "create", "outcome": "error", "code": 7}
        assert_error(HTTP.post(f"{url}/emulator/faults", json=rule), 400, "invalid_request")
        assert HTTP.get(f"{url}/emulator/stats").json()["creates"] == 0


# -- the server's logging --------------------------------------------------------------------


def test_importing_the_server_leaves_uvicorns_logger_alone():
    code = (
        "import logging, magicgif_widget.emulator.server as s; "
        "print(len(logging.getLogger(s.RESET_LOGGER).filters))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


def test_starting_servers_installs_the_reset_filter_once(server: Server):
    from magicgif_widget.emulator.server import RESET_LOGGER, hide_resets

    with serving(render_seconds=0.1), serving(render_seconds=0.1):
        hide_resets()
    filters = logging.getLogger(RESET_LOGGER).filters
    assert [type(f).__name__ for f in filters] == ["_HideResets"]


# -- the vendor's errors, as the emulator produces them ---------------------------------------


@pytest.mark.parametrize("code", [*JOB_ERRORS, "mystery_failure"])
def test_an_error_rule_picks_the_jobs_error_code_and_refunds(server: Server, code: str):
    clock = ManualClock()  # the charge is read before the job ends, however slow the machine
    server.reset(render_seconds=0.1, clock=clock)
    before = account_credits(server.url)
    server.fault(route="create", outcome="error", code=code)
    res = create(server.url)
    assert res.json()["credits_charged"] == CREDITS_PER_GIF
    assert account_credits(server.url) == before - CREDITS_PER_GIF
    clock.advance(0.15)
    body = wait_final(server.url, res.json()["id"])
    assert body["status"] == "error" and body["downloads"] == []
    assert body["error"] == {"code": code, "message": "The emulator was told to fail this job."}
    assert body["credits_charged"] == body["total_frame_cost"] == 0
    assert account_credits(server.url) == before
    assert server.stats()["faults_applied"] == 1


def test_an_error_rule_without_a_code_says_render_failed(server: Server):
    server.reset(render_seconds=0.1)
    server.fault(route="create", outcome="error", message="The GPU caught fire.")
    body = wait_final(server.url, create_id(server.url))
    assert body["error"] == {"code": "render_failed", "message": "The GPU caught fire."}
    assert server.stats()["faults_applied"] == 1


def test_a_message_only_error_body(server: Server):
    server.fault(route="account", status=401, body="message", message="Unauthorized")
    res = HTTP.get(f"{server.url}/v1/account")
    assert res.status_code == 401 and res.json() == {"message": "Unauthorized"}
    assert server.stats()["faults_applied"] == 1
    assert HTTP.get(f"{server.url}/v1/account").status_code == 200  # spent


def test_an_html_error_body(server: Server):
    server.fault(route="account", status=502, body="html")
    res = HTTP.get(f"{server.url}/v1/account")
    assert res.status_code == 502 and res.headers["content-type"].startswith("text/html")
    with pytest.raises(ValueError):
        res.json()
    assert server.stats()["faults_applied"] == 1


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "invalid_request"),
        (401, "unauthorized"),
        (402, "insufficient_credits"),
        (404, "not_found"),
        (422, "unprocessable_entity"),
        (429, "rate_limited"),
        (500, "internal_server_error"),
        (502, "injected_fault"),
        (503, "injected_fault"),
    ],
)
def test_an_injected_status_answers_the_contracts_code(server: Server, status: int, code: str):
    server.fault(route="account", status=status)
    assert_error(HTTP.get(f"{server.url}/v1/account"), status, code)
    assert server.stats()["faults_applied"] == 1


def test_an_injected_status_takes_a_chosen_code_and_message(server: Server):
    server.fault(route="create", status=402, code="subscription_required", message="subscribe")
    res = create(server.url)
    assert res.status_code == 402
    assert res.json() == {"code": "subscription_required", "message": "subscribe"}
    assert server.stats()["faults_applied"] == 1 and server.stats()["creates"] == 0


@pytest.mark.parametrize(
    "rule",
    [
        {"route": "create", "outcome": "canceled", "code": "content_policy_violation"},
        {"route": "create", "outcome": "never", "message": "x"},
        {"route": "create", "outcome": "error", "code": 7},
        {"route": "create", "outcome": "error", "code": ""},
        {"route": "create", "outcome": "error", "code": "x" * 81},
        {"route": "create", "outcome": "error", "message": "two\nlines"},
        {"route": "create", "outcome": "error", "body": "message"},
        {"route": "poll", "kind": "delay", "seconds": 1, "code": "x"},
        {"route": "poll", "status": 401, "body": "xml"},
        {"route": "poll", "status": 401, "body": "message", "code": "unauthorized"},
        {"route": "poll", "status": 502, "body": "html", "message": "down"},
        {"route": "poll", "status": True},
        {"route": "poll", "status": 503, "retry_after": True},
    ],
)
def test_malformed_vendor_error_rules_are_400(server: Server, rule: dict[str, Any]):
    res = HTTP.post(f"{server.url}/emulator/faults", json=rule)
    assert_error(res, 400, "invalid_request")
    assert HTTP.get(f"{server.url}/emulator/faults").json()["faults"] == []


def test_fault_rules_list_their_choices(server: Server):
    server.fault(route="create", outcome="error", code="processing_timeout")
    server.fault(route="poll", status=401, body="message", message="Unauthorized")
    listed = HTTP.get(f"{server.url}/emulator/faults").json()["faults"]
    chosen = [{k: v for k, v in r.items() if k not in ("times", "seconds")} for r in listed]
    assert chosen == [
        {"route": "create", "outcome": "error", "code": "processing_timeout"},
        {"route": "poll", "status": 401, "body": "message", "message": "Unauthorized"},
    ]
