"""The widget and the user's job journal, without a browser: earlier jobs offered as cards,
Collect (no create), Dismiss, the question before a duplicate job, and the cost and balance
before Generate. Real parts: the emulator over HTTP on loopback, a journal file per test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from magicgif_widget import Client, GifWidget, InsufficientCreditsError, ValidationError
from magicgif_widget.emulator import BackgroundServer, Emulator
from magicgif_widget.jobstore.journal import JobSettings, Journal, server_label
from magicgif_widget.widget import account

from .conftest import FAST_RETRY, Server


@pytest.fixture(autouse=True)
def journal_dir(tmp_path: Path, monkeypatch) -> Path:
    """A journal of this test's own: nothing another test made is offered here."""
    where = tmp_path / "data"
    monkeypatch.setenv("MAGICGIF_DATA_DIR", str(where))
    return where


@pytest.fixture
def make(server: Server, tmp_path: Path):
    made: list[GifWidget] = []

    def factory(**kw: Any) -> GifWidget:
        kw.setdefault("client", Client(base_url=server.url))
        kw.setdefault("download_directory", tmp_path / "out")
        w = GifWidget(**kw)
        made.append(w)
        return w

    yield factory
    for w in made:
        w.close()


async def until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Wait (on the loop, so the widget's tasks run) until ``check()`` is truthy."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {check}")
        await asyncio.sleep(0.02)
    return value


def earlier_job(server: Server, prompt: str, **kw: Any) -> str:
    """A job made in an "earlier session": created, journaled, never collected."""
    with Client(base_url=server.url) as client:
        return client.v1.ai_gif_generator.create(style={"prompt": prompt}, **kw).id


def journal() -> Journal:
    return Journal.open()


# ---- earlier jobs: offered, collected, dismissed ------------------------------------------


async def test_an_earlier_job_is_offered_and_collect_downloads_it_without_a_create(
    make, server: Server, tmp_path: Path
):
    server.reset(render_seconds=1.0)
    pid = earlier_job(server, "an earlier fox", name="fox")
    w = make()
    (card,) = await until(lambda: w.earlier_jobs)
    assert card["id"] == card["project_id"] == pid and card["kind"] == "collect"
    assert card["prompt"] == "an earlier fox" and card["name"] == "fox" and card["format"] == "gif"
    assert card["age"] == "started just now" and "from Python" in card["meta"]
    assert card["status"] == "Created at Magic Hour; not seen since"
    assert server.requests("create") == 1
    statuses: list[str] = []
    w.observe(lambda change: statuses.append(change["new"]), names="status")
    result = await w.collect(pid)
    assert result.path == tmp_path / "out" / f"{pid}.gif" and result.data[:6] == b"GIF89a"
    assert statuses[0] == "collecting" and "rendering" in statuses and statuses[-1] == "complete"
    assert w.status == "complete" and w.progress == 100 and not w.running and w.error == ""
    assert w.media["project_id"] == pid and w.media["prompt"] == "an earlier fox"
    assert w.media["filename"] == result.path.name and w.media["credits"] == 50
    assert [h["project_id"] for h in w.history] == [pid] and w.history[0]["name"] == "fox"
    assert w.project_id == pid and w.result is result and w.earlier_jobs == []
    assert w._still is not None and "Generated animation: an earlier fox" in w._still["text/html"]
    assert server.requests("create") == 1  # collected, not made again
    with journal() as j:
        entry = j.get(pid)
        assert entry is not None and entry.collected and entry.files_exist()
        assert pid not in [e.project_id for e in j.entries(pending_only=True)]
    await w.refresh()
    assert w.earlier_jobs == []


async def test_collect_from_the_front_end_and_a_finished_job_never_downloaded(make, server: Server):
    pid = earlier_job(server, "a finished heron")
    await asyncio.sleep(0.5)  # it completes at the emulator; the journal still says created
    w = make()
    await until(lambda: w.earlier_jobs)
    w._on_front_end_msg(w, {"type": "collect", "id": pid}, [])
    assert w.running and w.status == "collecting" and w.earlier_jobs == []
    await until(lambda: w.status == "complete")
    assert w.media["project_id"] == pid and server.requests("create") == 1


async def test_dismiss_forgets_the_job_and_its_card(make, server: Server):
    first = earlier_job(server, "a dismissed kite")
    second = earlier_job(server, "a kept kite")
    w = make()
    cards = await until(lambda: len(w.earlier_jobs) == 2 and w.earlier_jobs)
    assert [c["id"] for c in cards] == [second, first]  # newest first
    w._on_front_end_msg(w, {"type": "dismiss", "id": first}, [])
    assert [c["id"] for c in w.earlier_jobs] == [second]
    with journal() as j:
        pending = [e.project_id for e in j.entries(pending_only=True)]
        assert first not in pending and second in pending
        dismissed = j.get(first)
        assert dismissed is not None and dismissed.dismissed
    assert w.dismiss(second) is True and w.earlier_jobs == []
    assert w.dismiss(second) is False  # already gone
    fresh = make()
    await fresh.refresh()
    assert fresh.earlier_jobs == []


async def test_an_unknown_job_says_so_and_can_only_be_dismissed(make, server: Server):
    with journal() as j:
        key = j.intent(server.url, JobSettings("a lost lantern"), "cli")
        j.lost(key)  # the create was sent and its answer lost
    w = make()
    (card,) = await until(lambda: w.earlier_jobs)
    assert card["kind"] == "unknown" and card["id"] == key and card["project_id"] == ""
    assert "a job may exist and be charged; check your Magic Hour library" in card["status"]
    assert "from the command line" in card["meta"]
    with pytest.raises(ValidationError):
        w.collect(key)
    assert "answer was lost" in w.error and not w.running
    assert server.requests("create") == 0 and server.requests("poll") == 0
    assert w.dismiss(key) is True and w.earlier_jobs == []
    with journal() as j:
        assert j.entries(pending_only=True) == []


async def test_only_this_servers_collectable_jobs_are_offered_and_never_the_widgets_own(
    make, server: Server, tmp_path: Path
):
    other = server_label("https://api.magichour.ai")
    with journal() as j:
        elsewhere = j.intent(other, JobSettings("another server's job"), "python")
        j.created(elsewhere, "cm-elsewhere")
        failed = j.intent(server.url, JobSettings("a failed job"), "python")
        j.created(failed, "cm-failed")
        j.seen("cm-failed", "error", error_code="render_failed")
        in_flight = j.intent(server.url, JobSettings("a create in flight"), "python")
    assert in_flight
    done = earlier_job(server, "a collected job")
    with Client(base_url=server.url) as client:
        client.v1.image_projects.check_result(done, download_directory=tmp_path / "elsewhere")
    server.emulator.store.render_seconds = 30
    offered = earlier_job(server, "the one to offer")
    w = make(prompt="the widget's own job")
    await until(lambda: w.earlier_jobs)
    assert [c["id"] for c in w.earlier_jobs] == [offered]
    task = w.generate()
    own = await until(lambda: w.project_id)
    await w.refresh()
    assert [c["id"] for c in w.earlier_jobs] == [offered]  # the widget's own job is not "earlier"
    with journal() as j:
        entry = j.get(own)
        assert entry is not None and entry.surface == "widget"  # journaled as the widget's
    w.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await w.refresh()
    assert [c["id"] for c in w.earlier_jobs] == [offered]


async def test_a_collect_that_fails_says_why_in_the_vendors_words(make, server: Server):
    server.fault(route="create", outcome="error", code="content_policy_violation")
    pid = earlier_job(server, "a forbidden thing")
    w = make()
    await until(lambda: w.earlier_jobs)
    from magicgif_widget import JobFailedError

    with pytest.raises(JobFailedError):
        await w.collect(pid)
    assert w.status == "failed" and not w.running
    assert w.error == (
        "The job failed: the prompt breaks Magic Hour's content rules; reword it and try again "
        f"(job {pid}; credits refunded)"
    )
    await until(lambda: w.account.get("credits") == 1_000_000)  # refunded, read again
    await w.refresh()
    assert w.earlier_jobs == []  # it failed: nothing left to collect


async def test_collect_refuses_what_it_cannot_collect(make, server: Server):
    server.reset(render_seconds=30)
    pid = earlier_job(server, "a slow one")
    w = make()
    with pytest.raises(ValidationError):
        w.collect("cm-not-in-the-journal")
    assert w.error == "Cannot collect: no job cm-not-in-the-journal in the job journal"
    with journal() as j:
        key = j.intent("https://api.magichour.ai", JobSettings("elsewhere"), "python")
        j.created(key, "cm-other-server")
    with pytest.raises(ValidationError, match=r"was made on https://api\.magichour\.ai"):
        w.collect("cm-other-server")
    task = w.collect(pid)
    with pytest.raises(ValidationError, match="a job is running"):
        w.collect(pid)
    w.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pid in w.notice and "keeps running" in w.notice
    await w.refresh()
    assert [c["id"] for c in w.earlier_jobs] == [pid]  # stopped waiting: offered again
    assert server.requests("create") == 1


# ---- a duplicate of a job still running -------------------------------------------------


async def test_a_duplicate_of_a_running_job_asks_first_then_generate_anyway(make, server: Server):
    server.reset(render_seconds=3.0)
    running = earlier_job(server, "a running owl", name="owl")
    w = make(prompt="a running owl", name="owl")
    await until(lambda: w.account.get("state") == "ok")
    assert await w.generate() is None  # asked instead
    assert server.requests("create") == 1
    assert w.confirm["id"] == running and w.confirm["prompt"] == "a running owl"
    assert w.confirm["text"] == (
        "A job with these settings is still running (started just now). "
        "Generate again and pay 50 credits?"
    )
    assert w.status == "idle" and not w.running and w.error == ""
    w.name = "another owl"  # other settings: the question is no longer asked
    assert w.confirm == {}
    w.name = "owl"
    assert await w.generate() is None and w.confirm
    settings = {"prompt": "a running owl", "name": "owl", "output_format": "gif"}
    w._on_front_end_msg(w, {"type": "generate", "settings": settings, "confirmed": True}, [])
    assert w.confirm == {} and w.running
    result = await w.generate()  # the running job
    assert result.project.id != running and server.requests("create") == 2
    assert w.status == "complete"


async def test_wait_for_that_one_collects_the_running_job(make, server: Server):
    server.reset(render_seconds=2.0)
    running = earlier_job(server, "a patient owl")
    w = make(prompt="a patient owl")
    assert await w.generate() is None
    w._on_front_end_msg(w, {"type": "collect", "id": w.confirm["id"]}, [])
    assert w.confirm == {} and w.status == "collecting"
    await until(lambda: w.status == "complete")
    assert w.media["project_id"] == running and server.requests("create") == 1
    assert w.confirm == {} and w.history[0]["prompt"] == "a patient owl"


async def test_no_question_when_the_server_says_the_job_is_over_or_gone(make, server: Server):
    earlier_job(server, "a quick owl")
    await asyncio.sleep(0.5)  # complete at the emulator; the journal still says created
    w = make(prompt="a quick owl")
    result = await w.generate()
    assert result is not None and w.confirm == {} and server.requests("create") == 2
    server.reset(render_seconds=30)
    earlier_job(server, "a forgotten owl")
    server.reset()  # the emulator forgets it: a GET answers 404
    w.prompt = "a forgotten owl"
    assert await w.generate() is not None and w.confirm == {}


# ---- cost and balance --------------------------------------------------------------------


async def test_the_account_line_before_and_after_jobs(make, server: Server):
    w = make(prompt="a counted cat")
    assert w.account["state"] in ("reading", "ok")
    await until(lambda: w.account["state"] == "ok")
    assert w.account == {
        "state": "ok",
        "credits": 1_000_000,
        "cost": 50,
        "text": "50 credits per GIF · 1,000,000 credits left",
    }
    await w.generate()
    await until(lambda: w.account["credits"] == 999_950)
    assert w.account["text"] == "50 credits per GIF · 999,950 credits left"
    server.fault(route="create", outcome="error")
    w.prompt = "a refunded cat"
    with pytest.raises(Exception, match="failed"):
        await w.generate()
    assert "credits refunded" in w.error
    await asyncio.sleep(0.3)
    await until(lambda: w.account["credits"] == 999_950)  # the failed job was refunded
    assert server.requests("account") >= 3
    w.gallery_mode, w.prompt = True, "a red kite\na blue kite"
    await w.generate()
    await until(lambda: w.account["credits"] == 999_850)  # after a gallery too


async def test_a_low_balance_refuses_generate_before_any_create(make, server: Server):
    server.emulator.store.initial_credits = 30
    w = make(prompt="an unaffordable cat")
    await until(lambda: w.account["state"] == "low")
    assert w.account["text"] == "Not enough credits: 30 left, a GIF costs 50"
    reads = server.requests("account")
    statuses: list[str] = []
    w.observe(lambda change: statuses.append(change["new"]), names="status")
    with pytest.raises(InsufficientCreditsError):
        await w.generate()
    assert statuses == ["checking", "idle"]  # the balance read again, then nothing sent
    assert server.requests("account") == reads + 1
    assert w.error == (
        "Not enough credits: 30 left, a GIF costs 50. Nothing was sent; add credits at "
        "Magic Hour, then press Generate again."
    )
    assert not w.running and w.status == "idle" and w.project_id == ""
    w._on_front_end_msg(w, {"type": "generate", "settings": {"prompt": "again"}}, [])
    await until(lambda: not w.running)
    assert w.error.startswith("Not enough credits: 30 left")
    w.gallery_mode, w.prompt = True, "one\ntwo"
    server.emulator.store.initial_credits = 60
    with pytest.raises(InsufficientCreditsError):
        await w.generate()
    assert w.error.startswith("Not enough credits: 60 left, 2 GIFs cost 100")
    assert w.gallery == [] and not w.running
    assert server.requests("create") == 0 and server.requests("poll") == 0
    server.emulator.store.initial_credits = 1_000  # credits bought: the next press works
    w.gallery_mode, w.prompt = False, "an affordable cat"
    await w.generate()
    assert w.status == "complete" and server.requests("create") == 1 and w.error == ""
    await until(lambda: w.account["credits"] == 950)


async def test_collect_needs_no_credits(make, server: Server):
    pid = earlier_job(server, "a prepaid fox")
    server.emulator.store.initial_credits = 50  # the balance now: 0
    w = make()
    await until(lambda: w.account["state"] == "low" and w.earlier_jobs)
    assert w.account["text"] == "Not enough credits: 0 left, a GIF costs 50"
    result = await w.collect(pid)
    assert result.path.is_file() and server.requests("create") == 1


async def test_a_failed_account_read_is_one_calm_line_and_never_blocks(
    make, server: Server, tmp_path: Path
):
    server.fault(route="account", status=500, times=None)
    w = make(client=Client(base_url=server.url, retry=FAST_RETRY), prompt="a calm cat")
    await until(lambda: w.account["state"] == "failed")
    assert w.account["text"] == (
        "50 credits per GIF · the balance could not be read (Magic Hour had a server error)"
    )
    assert w.account["credits"] is None and w.error == ""
    assert (await w.generate()).path.is_file()
    from magicgif_widget.emulator.server import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    w = make(client=Client(base_url=dead, retry=FAST_RETRY))
    await until(lambda: w.account["state"] == "failed", timeout=20)
    assert w.account["text"].endswith("(network problem)")


async def test_a_rejected_token_says_so_and_the_create_says_it_too(tmp_path: Path):
    with BackgroundServer(Emulator(render_seconds=0.1, token="right")) as srv:
        secret = "mhk_live_wrong_token_123"
        w = GifWidget(
            client=Client(base_url=srv.url, token=secret),
            prompt="locked out",
            download_directory=tmp_path,
        )
        try:
            await until(lambda: w.account["state"] == "rejected")
            assert w.account["text"] == (
                "The API token was rejected when reading the balance; check MAGIC_HOUR_API_TOKEN"
            )
            from magicgif_widget import AuthenticationError

            with pytest.raises(AuthenticationError):  # not blocked: the create answers 401
                await w.generate()
            assert w.error.startswith("The API token was rejected")
            assert secret not in repr(w.get_state())
        finally:
            w.close()


def test_on_the_sandbox_no_credits_and_no_journal(tmp_path: Path, journal_dir: Path):
    with journal() as j:
        key = j.intent("sandbox", JobSettings("a sandbox job"), "python")
        j.created(key, "cm-sandbox")
    w = GifWidget(download_directory=tmp_path)
    try:
        assert w.sandbox and w.earlier_jobs == [] and w.confirm == {}
        assert w.account == {
            "state": "sandbox",
            "credits": None,
            "cost": 0,
            "text": account.SANDBOX_TEXT,
        }
        assert "no credits are used" in w.account["text"]
        with pytest.raises(ValidationError, match="sandbox jobs are not journaled"):
            w.collect("cm-sandbox")
    finally:
        w.close()
