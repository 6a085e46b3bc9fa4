"""Job timing: the emulator's realistic profile, and the adaptive poller's model of when a
job finishes (its schedule's shape for a given history, its cache across processes, and no
GET after the final status). Speed itself is measured by bench/run.py, never asserted here."""

from __future__ import annotations

import json
import math
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from magicgif_widget import Client, PollPolicy
from magicgif_widget.client.timing import (
    TAIL_GROWTH,
    Expectation,
    History,
    Schedule,
    backend_key,
)
from magicgif_widget.contract import VENDOR_MEDIAN_SECONDS, VENDOR_POLL_SECONDS
from magicgif_widget.emulator.jobs import JobStore
from magicgif_widget.emulator.timing import Drawn, Fixed

from .conftest import PROMPT, Server


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("MAGICGIF_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "timings.json"


# --- the emulator ---------------------------------------------------------------------------


def test_the_realistic_profile_centres_on_the_vendors_median():
    profile = Drawn.realistic(seed=3)
    totals = [profile.draw(f"job {i}").total for i in range(4000)]
    assert abs(statistics.median(totals) - VENDOR_MEDIAN_SECONDS) < 1.0
    assert min(totals) > 3 and statistics.quantiles(totals, n=10)[-1] < 60
    assert profile.draw("same prompt") == profile.draw("same prompt")  # seed + prompt decide
    assert Drawn.realistic(seed=4).draw("same prompt") != profile.draw("same prompt")


def test_fixed_jobs_take_exactly_their_time_a_fifth_of_it_queued():
    store = JobStore(render_seconds=10.0, credits=1000)
    job = store.create("p", "n", "gif", lambda: "complete")
    assert job is not None and job.render_seconds == 10.0 and job.queued_seconds == 2.0
    start = job.started
    assert [job.status(start + t) for t in (1.9, 2.1, 9.9, 10.1)] == [
        "queued",
        "rendering",
        "rendering",
        "complete",
    ]
    assert Fixed(10.0).draw("anything") == Fixed(10.0).draw()


def test_drawn_jobs_follow_their_own_phases():
    profile = Drawn(median=20.0, spread=0.2, seed=1)
    store = JobStore(render_seconds=1.0, credits=1000, timing=profile)
    job = store.create("a fox", "n", "gif", lambda: "complete")
    phases = profile.draw("a fox")
    assert job is not None and job.render_seconds == pytest.approx(phases.total)
    t0 = job.started
    assert job.status(t0 + phases.queued - 0.01) == "queued"
    assert job.status(t0 + phases.queued + 0.01) == "rendering"
    assert job.status(t0 + phases.total + 0.01) == "complete"


def test_the_emulator_cli_takes_a_profile(tmp_path: Path):
    from magicgif_widget.cli import parser

    args = parser().parse_args(["emulator", "--profile", "realistic", "--seed", "5"])
    assert args.profile == "realistic" and args.seed == 5 and args.median is None
    bad = subprocess.run(
        [sys.executable, "-m", "magicgif_widget.cli", "emulator", "--median", "-3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "--median" in bad.stderr


# --- the poller's model ---------------------------------------------------------------------


def waits(
    schedule: Schedule, until: float, rendering_at: float | None = None
) -> list[tuple[float, float]]:
    """(time of GET, wait after it) following the schedule from the create to ``until``."""
    wait = schedule.next_wait(0.0, None)
    out, t = [], wait
    while t < until:
        rendering = rendering_at if rendering_at is not None and t >= rendering_at else None
        wait = schedule.next_wait(t, rendering, wait)
        out.append((t, wait))
        t += wait
    return out


def ends_within(model: Expectation, t: float, seconds: float) -> float:
    """The chance a job alive at ``t`` ends within ``seconds``."""
    return 1 - model.survival(t + seconds) / model.survival(t)


def test_a_first_job_uses_the_vendors_median_as_its_prior():
    schedule = History(Path(os.devnull)).schedule("api-x", "gif", sandbox=False)
    assert schedule.total.quantile(0.5) == pytest.approx(VENDOR_MEDIAN_SECONDS, rel=0.01)
    plan = waits(schedule, 60)
    assert plan[0][0] >= 5.0  # nothing to see in the first seconds
    early = [w for t, w in plan if t < 12]
    near = [w for t, w in plan if 20 <= t <= 32]
    # rare, then denser where the prior expects the end
    assert min(early) >= VENDOR_POLL_SECONDS and min(near) < min(early)
    assert statistics.fmean(near) < statistics.fmean(early)
    assert len([t for t, _ in plan if t <= 26]) <= 15  # the vendor SDK: 54 for a 26 s job


@pytest.mark.parametrize(
    "seen", [[], [26.0] * 3, [5.0] * 8, [14.0, 20.0, 26.0, 31.0, 40.0]], ids=str
)
def test_no_wait_under_two_seconds_while_an_end_within_them_is_unlikely(seen):
    schedule = Schedule(Expectation.learned(26.0, seen), None)
    plan = waits(schedule, 90)
    for t, wait in plan:
        # (the plan judges "unlikely" on its grid, a step of 0.1 s here: a little slack)
        if ends_within(schedule.total, t, VENDOR_POLL_SECONDS) < 0.9 * schedule.unlikely:
            assert wait >= VENDOR_POLL_SECONDS - 1e-9, (t, wait)
    assert max(w for _, w in plan) <= schedule.max_wait
    # Where the end is likely the plan does go under 2 s (it is not a fixed 2 s poller).
    assert seen == [] or min(w for _, w in plan) < VENDOR_POLL_SECONDS


def test_history_of_identical_jobs_focuses_the_polls():
    seen = [5.0] * 8
    schedule = Schedule(Expectation.learned(26.0, seen), Expectation.learned(22.0, [4.0] * 8))
    plan = waits(schedule, 8)
    around = [w for t, w in plan if 4.6 <= t <= 5.4]
    assert around and max(around) <= 0.5
    assert plan[0][0] >= VENDOR_POLL_SECONDS  # the first GET: none in the first 2 s
    assert all(w >= VENDOR_POLL_SECONDS for t, w in plan if t < 3.0)
    assert len(plan) <= 8  # the vendor SDK makes 12 GETs for a 5 s job


def test_rendering_resets_the_expectation_to_a_render_phase():
    schedule = Schedule(Expectation.learned(26.0, []), Expectation.learned(4.0, [4.0] * 8))
    # Still queued at 10 s, the job is expected much later; rendering since 9 s: about 13 s.
    queued, rendering = schedule.next_wait(10.0, None), schedule.next_wait(12.8, 9.0)
    assert queued >= VENDOR_POLL_SECONDS and rendering <= 0.5 and queued > 3 * rendering


def test_an_overdue_job_backs_off_geometrically_up_to_the_cap():
    schedule = Schedule(Expectation.learned(26.0, [5.0] * 10), Expectation.learned(4.0, [4.0] * 10))
    wait, late = 0.5, []
    t = 60.0  # long past everything the render model expects
    for _ in range(8):
        wait = schedule.next_wait(t, 1.0, wait)
        late.append(wait)
        t += wait
    assert late[0] == VENDOR_POLL_SECONDS  # from at least the vendor's interval
    assert late[1] == pytest.approx(late[0] * TAIL_GROWTH)  # then geometric
    assert late == sorted(late) and late[-1] == schedule.max_wait  # up to the cap


def test_the_plan_matches_an_independent_solution_for_the_same_distribution():
    """The client's plan (from the model's formulas) against the benchmark's front (from
    samples of the same distribution): two programmes, the same answer within the grid."""
    from bench.front import best_schedule, evaluate

    model = Expectation.learned(26.0, [])  # the prior alone: one lognormal, sigma 0.6
    rng = random.Random(3)
    samples = [math.exp(rng.gauss(math.log(26.0), 0.6)) for _ in range(40_000)]
    schedule = Schedule(model, None, cost=0.03, unlikely=0.0)
    wait = schedule.next_wait(0.0, None)
    plan = [wait]
    while plan[-1] < max(samples):
        wait = schedule.next_wait(plan[-1], None, wait)
        plan.append(plan[-1] + wait)
    ours = evaluate(plan, samples)
    best = evaluate(best_schedule(samples, 0.03), samples)
    cost = lambda gets_delay: gets_delay[1] + 0.03 * gets_delay[0]  # noqa: E731
    assert cost(ours) <= cost(best) * 1.03
    # And a fixed interval with as many GETs does worse than either.
    interval = max(samples) / ours[0] / 3
    fixed = [interval * k for k in range(1, int(max(samples) / interval) + 2)]
    assert cost(evaluate(fixed, samples)) > cost(ours)


def test_poll_policy_still_overrides_and_the_vendors_variable_still_works(monkeypatch):
    monkeypatch.delenv("MAGIC_HOUR_POLL_INTERVAL", raising=False)
    assert PollPolicy.from_env().adaptive
    monkeypatch.setenv("MAGIC_HOUR_POLL_INTERVAL", "0.7")
    fixed = PollPolicy.from_env()
    assert not fixed.adaptive and fixed.interval == 0.7
    assert not PollPolicy(interval=2).adaptive


# --- the cache ------------------------------------------------------------------------------


RECORD = """
import sys
from magicgif_widget.client.timing import History
for i in range(int(sys.argv[2])):
    History().record(sys.argv[1], "gif", 10.0 + i, 8.0)
"""


def test_the_history_is_shared_by_processes_and_loses_nothing_when_they_write_at_once(
    cache: Path,
):
    procs = [
        subprocess.Popen([sys.executable, "-c", RECORD, key, "15"], env=dict(os.environ))
        for key in ("api-a", "api-a", "api-b")
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    history = History()
    assert len(history.seen("api-a", "gif", "total")) == 30  # two writers, 15 each
    assert len(history.seen("api-b", "gif", "render")) == 15
    History().record("api-b", "gif", 1.0, None)
    later = subprocess.run(
        [
            sys.executable,
            "-c",
            "from magicgif_widget.client.timing import History;"
            "print(len(History().seen('api-b', 'gif', 'total')))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert later.stdout.strip() == "16"


def test_the_cache_keeps_durations_only_and_a_bounded_number(cache: Path):
    for i in range(100):
        History().record("api-a", "mp4", 20.0 + i, 15.0)
    assert len(History().seen("api-a", "mp4", "total")) == 40
    cache.write_text("{not json")
    assert History().seen("api-a", "mp4", "total") == []  # a damaged cache is the prior again
    History().record("api-a", "mp4", 20.0, None)
    assert json.loads(cache.read_text())["jobs"] == {"api-a": {"mp4": {"total": [20.0]}}}


def test_a_real_job_is_polled_adaptively_learned_and_never_polled_after_it_ends(
    server: Server, cache: Path, tmp_path: Path
):
    server.reset(render_seconds=0.8)
    token = "mhk_live_CANARY_timing_99"
    key = backend_key(server.url, sandbox=False)
    for _ in range(6):  # a history of 0.8 s jobs, so that this test takes no 26 s prior
        History().record(key, "gif", 0.8, 0.64)
    with Client(base_url=server.url, token=token, poll=PollPolicy.adaptive_default()) as client:
        project = client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=tmp_path)
    job = server.emulator.store.jobs[project.id]
    ends = job.started + job.render_seconds
    polls = server.emulator.store.arrivals["poll"]
    assert len([t for t in polls if t >= ends]) == 1  # the GET that saw "complete", no more
    assert len(polls) <= 8
    text = cache.read_text()
    assert token not in text and project.id not in text and PROMPT["prompt"] not in text
    assert server.url not in text and len(History().seen(key, "gif", "total")) == 7


def test_the_widget_estimate_comes_from_the_same_model(server: Server, cache: Path, tmp_path):
    from magicgif_widget import GifWidget

    fresh = GifWidget(client=Client(base_url=server.url), download_directory=tmp_path)
    assert fresh.render_estimate == pytest.approx(VENDOR_MEDIAN_SECONDS * 0.85, rel=0.02)
    fresh.close()
    settings = Client(base_url=server.url).settings
    for _ in range(10):
        History().record(backend_key(settings.base_url, False), "gif", 5.0, 4.0)
    learned = GifWidget(client=Client(base_url=server.url), download_directory=tmp_path)
    assert learned.render_estimate == pytest.approx(4.0, rel=0.1)
    learned.close()
