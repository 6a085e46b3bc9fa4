"""A rate limit per API key: the emulator's token bucket (over real HTTP), and the client's
answer to it: every 429 widens the polls of every job on that client, and no job is lost."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from magicgif_widget import AsyncClient, PollPolicy
from magicgif_widget.client.pressure import HALF_LIFE, MAX_FACTOR, Pressure
from magicgif_widget.contract import VENDOR_POLL_SECONDS
from magicgif_widget.emulator import BackgroundServer, Emulator
from magicgif_widget.emulator.rate_limit import DEFAULT_BURST, DEFAULT_PER_SECOND, RateLimit

from .conftest import FAST_RETRY, PROMPT, Server
from .emulator_process import emulator_process
from .loopback import HTTP


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_allows_its_burst_then_says_when_to_come_back():
    clock = Clock()
    limit = RateLimit(per_second=2, burst=3, clock=clock)
    assert [limit.take("a") for _ in range(3)] == [None, None, None]
    assert limit.take("a") == 1.0  # half a second to the next request: whole seconds, up
    assert limit.take("b") is None  # another key has a bucket of its own
    clock.now += 0.5
    assert limit.take("a") is None and limit.take("a") == 1.0
    clock.now += 10
    assert [limit.take("a") for _ in range(4)] == [None, None, None, 1.0]  # refills to burst


def test_the_stated_default_fits_a_class_that_follows_the_vendors_advice():
    # 30 students, a GET every 2 s each (the vendor's advice): 15 a second.
    assert 30 / VENDOR_POLL_SECONDS < DEFAULT_PER_SECOND < 30 / 0.5  # the SDK's 0.5 s: 60
    assert DEFAULT_BURST >= 30  # a class pressing Generate at once is one burst
    with pytest.raises(ValueError):
        RateLimit(per_second=0)


def test_the_emulator_refuses_past_the_limit_with_429_and_retry_after():
    limit = RateLimit(per_second=1, burst=2)
    with BackgroundServer(Emulator(token="mhk_a", rate_limit=limit)) as srv:
        auth = {"authorization": "Bearer mhk_a"}
        answers = [HTTP.get(f"{srv.url}/v1/account", headers=auth) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        refused = answers[-1]
        assert refused.json()["code"] == "rate_limited"
        assert refused.headers["retry-after"] == "1"
        assert HTTP.get(f"{srv.url}/emulator/stats").json()["rate_limited"] == 1
        # A refused key's request never reaches the route: no job, no count.
        assert HTTP.get(f"{srv.url}/emulator/stats").json()["creates"] == 0


def test_the_emulator_command_takes_the_limit_as_the_readme_says():
    """``magicgif emulator --rate-limit 1``: bursts of 2, then 429 with Retry-After."""
    with emulator_process("--rate-limit", "1") as url:
        answers = [HTTP.get(f"{url}/v1/account").status_code for _ in range(3)]
        assert answers == [200, 200, 429]
        assert HTTP.get(f"{url}/emulator/stats").json()["rate_limited"] == 1


def test_a_bare_rate_limit_flag_is_the_stated_default():
    """``magicgif emulator --rate-limit``, as the benchmark's class row runs it."""
    with emulator_process("--rate-limit") as url:
        answers = [HTTP.get(f"{url}/v1/account").status_code for _ in range(DEFAULT_BURST + 20)]
    assert answers[:DEFAULT_BURST] == [200] * DEFAULT_BURST  # the whole burst is served
    assert 429 in answers  # then the sustained rate (20/s) cannot keep up with a tight loop


def test_the_emulator_command_takes_the_limit_and_refuses_a_zero_one():
    bad = subprocess.run(
        [sys.executable, "-m", "magicgif_widget.cli", "emulator", "--rate-limit", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "--rate-limit" in bad.stderr


def test_a_429_widens_the_factor_which_then_decays():
    clock = Clock()
    pressure = Pressure(clock)
    assert pressure.factor() == 1.0 and pressure.widen(0.3, 2.0) == 0.3
    pressure.hit()
    assert pressure.factor() == 2.0 and pressure.widen(0.3, 2.0) == 2.0  # the vendor's floor
    assert pressure.widen(3.0, 2.0) == 6.0
    for _ in range(10):
        pressure.hit()
    assert pressure.factor() == MAX_FACTOR and pressure.limited == 11
    clock.now += HALF_LIFE
    assert pressure.factor() == pytest.approx(1 + (MAX_FACTOR - 1) / 2)
    clock.now += 20 * HALF_LIFE
    assert pressure.widen(0.3, 2.0) == 0.3  # calm again


async def test_one_jobs_429_widens_the_polls_of_every_job_on_the_client(
    server: Server, tmp_path: Path
):
    """Two jobs polled every 0.1 s on one client; one 429 on a poll (either job's). After it,
    both jobs' GETs are at least the vendor's 2 s apart: the client slowed down as a whole."""
    server.reset(render_seconds=4.5)
    server.fault(route="poll", status=429, retry_after=0, times=1)
    policy = PollPolicy(interval=0.1, backoff_after=60)
    assert policy.limited_wait == VENDOR_POLL_SECONDS  # every policy's default
    async with AsyncClient(base_url=server.url, poll=policy, retry=FAST_RETRY) as client:
        jobs = [
            client.v1.ai_gif_generator.generate(
                style={"prompt": f"{PROMPT['prompt']} {i}"}, download_directory=tmp_path
            )
            for i in range(2)
        ]
        projects = await asyncio.gather(*jobs)
        assert client._transport.pressure.limited == 1
    assert server.stats()["faults_applied"] == 1  # the 429 was sent
    assert all(p.downloaded_paths for p in projects)  # and no job was lost
    polls = sorted(server.emulator.store.arrivals["poll"])
    refused = polls[0]  # the fault answers the first poll to arrive
    later = [t - refused for t in polls[1:]]
    # Before the 429 each job would have polled ten times a second; after it, the retry
    # and then at most one GET per job per 2 s window (the factor decays over 30 s).
    assert len([t for t in later if t < 4.0]) <= 2 + 2 * 2
    assert len(polls) <= 10  # a 0.1 s poller unslowed: about 80 GETs for two 4.5 s jobs
