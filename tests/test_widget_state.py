"""The widget's mappings without a kernel: events in, trait updates out; the media store's
bound; and the one progress model the widget, its front end and the command line share."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest

from magicgif_widget import progress
from magicgif_widget.batching import BatchCounts, BatchProgress, BatchResults
from magicgif_widget.client.errors import CreateOutcomeUnknown, ValidationError
from magicgif_widget.client.job_errors import JobFailedError
from magicgif_widget.client.models import (
    Completed,
    Created,
    DownloadProgress,
    ImageProject,
    Retrying,
    StatusChanged,
)
from magicgif_widget.jobstore.journal import JobSettings, JournalEntry
from magicgif_widget.widget import account, earlier, gallery_state, media, notices, run_state
from magicgif_widget.widget.account import AccountState
from magicgif_widget.widget.gallery_state import GalleryState
from magicgif_widget.widget.media import MediaFile, MediaStore, Result
from magicgif_widget.widget.run_state import RunState

NOW = 1_700_000_000.0


def _project(pid: str = "cm1", status: str = "rendering", **kw) -> ImageProject:
    return ImageProject(id=pid, status=status, **kw)


def _status(status: str, pid: str = "cm1") -> StatusChanged:
    return StatusChanged(pid, status, 1.0, _project(pid, status))


def _retry() -> Retrying:
    return Retrying("cm1", "poll", "HTTP 429", 1, 0.3)


# ---- progress: one model -----------------------------------------------------------------


def test_each_status_starts_at_its_band_and_the_bands_climb():
    starts = [progress.fraction(s) for s in ("creating", "queued", "rendering", "downloading")]
    assert starts == sorted(starts) and starts[0] > 0
    assert progress.fraction("complete") == 1.0 and progress.fraction("draft") == 0.0
    half = progress.fraction("downloading", received=50, total=100)
    band = progress.BANDS["downloading"]
    assert half == pytest.approx((band.start + band.end) / 2)
    assert progress.fraction("downloading", received=5, total=None) == band.start


def test_the_wait_moves_on_time_since_the_create_slows_past_the_estimate_and_never_fills():
    wait = progress.WAITING
    expected = progress.waiting_estimate(10)  # seconds from the create, for a 10 s render
    times = [0, 0.3 * expected, expected, 2 * expected, 3 * expected, 6 * expected]
    fills = [progress.fraction("queued", elapsed=t, estimate=10) for t in times]
    assert fills == sorted(fills) and fills[0] == wait.start and fills[-1] < wait.end
    assert fills[2] == pytest.approx(wait.start + (wait.end - wait.start) * progress.ON_TIME)
    assert fills[1] - fills[0] > fills[4] - fills[3]  # slower once late


def test_a_late_sighting_of_rendering_neither_freezes_the_bar_nor_moves_it_back():
    # Queued for 20 s unseen by any GET: the bar has moved on time all the while.
    queued = [progress.fraction("queued", elapsed=t, estimate=10) for t in (0, 5, 10, 20)]
    assert queued == sorted(queued) and len(set(queued)) == 4
    # Rendering seen at any moment: on the same clock, at least where queued was, and moving.
    for t in (0.1, 5, 20, 60):
        seen = progress.fraction("rendering", elapsed=t, estimate=10)
        assert progress.fraction("queued", elapsed=t, estimate=10) <= seen
        assert progress.fraction("rendering", elapsed=t + 0.8, estimate=10) > seen
    assert progress.fraction("rendering", elapsed=0, estimate=10) == (
        progress.BANDS["rendering"].start
    )


def test_the_curve_is_the_same_model_as_points():
    points = progress.curve(10.0)
    assert points[0] == (0.0, progress.WAITING.start)
    assert [t for t, _ in points] == sorted(t for t, _ in points)
    assert [f for _, f in points] == sorted(f for _, f in points)
    for t, fill in points:
        assert fill == pytest.approx(progress.fraction("queued", elapsed=t, estimate=10), abs=1e-4)
    assert points[-1][0] == pytest.approx(
        progress.waiting_estimate(10) * progress.CURVE_SPAN, abs=1e-3
    )


def test_the_command_line_bar_reads_the_same_model():
    from magicgif_widget.cli import Progress

    out = io.StringIO()
    bar = Progress(out, estimate=10.0)
    bar(Created("cm1", 50))
    assert bar.fraction == pytest.approx(progress.fraction("queued"), abs=1e-3)
    since = bar._since
    bar(_status("rendering"))
    assert bar.fraction == pytest.approx(progress.fraction("rendering"), abs=1e-3)
    assert bar._since == since  # the wait's one clock runs on from the create
    bar(DownloadProgress("cm1", 0, 25, 100))
    assert bar.fraction == progress.fraction("downloading", received=25, total=100)
    bar(Completed(_project(status="complete"), 3.0))
    assert bar.fraction == 1.0
    assert "queued" in out.getvalue() and "complete" in out.getvalue()


# ---- one run -----------------------------------------------------------------------------


def _state(**kw) -> RunState:
    return RunState(**{"now": NOW, "render_estimate": 10.0, "sandbox": False, **kw})


def test_a_new_job_clears_the_last_and_starts_both_clocks():
    traits = run_state.started(_state(progress=100.0))
    assert traits["status"] == "creating" and traits["running"] is True
    assert traits["progress"] == 100 * progress.fraction("creating")
    assert traits["job_started"] == traits["phase_started"] == NOW * 1000
    assert traits["error"] == traits["notice"] == traits["project_id"] == ""
    assert traits["progress_curve"] == [] and traits["render_estimate"] == 10.0


def test_created_names_the_job_queues_it_and_starts_the_waits_clock_and_curve():
    traits = run_state.on_event(_state(progress=1.0), Created("cm1", 50))
    assert traits["project_id"] == "cm1" and traits["credits_charged"] == 50
    assert traits["status"] == "queued" and traits["progress"] == 100 * progress.fraction("queued")
    assert traits["phase_started"] == NOW * 1000
    assert traits["progress_curve"] == [[t, round(100 * f, 2)] for t, f in progress.curve(10)]


def test_rendering_keeps_the_waits_clock_and_the_next_phase_clears_the_curve():
    rendering = run_state.on_event(_state(progress=30.0, waiting=True), _status("rendering"))
    assert "phase_started" not in rendering  # the wait's clock runs on
    assert rendering["progress"] == 30.0 and rendering["status"] == "rendering"
    curve = [[t, round(100 * f, 2)] for t, f in progress.curve(10, "rendering")]
    assert rendering["progress_curve"] == curve
    # A job picked up mid-render (no create seen) starts the wait's clock there.
    picked = run_state.on_event(_state(progress=5.0), _status("rendering"))
    assert picked["phase_started"] == NOW * 1000 and picked["progress_curve"]
    assert picked["progress"] == 100 * progress.BANDS["rendering"].start
    done = run_state.on_event(_state(progress=40.0, waiting=True), _status("complete"))
    assert done["status"] == "downloading" and done["progress_curve"] == []
    assert done["progress"] == 100 * progress.fraction("downloading")
    assert done["phase_started"] == NOW * 1000
    assert run_state.on_event(_state(), _status("draft")) == {}


def test_the_bar_never_moves_back():
    traits = run_state.on_event(_state(progress=50.0), _status("queued"))
    assert traits["progress"] == 50.0


def test_download_progress_goes_out_in_steps():
    start = 100 * progress.fraction("downloading")
    small = run_state.on_event(_state(progress=start), DownloadProgress("cm1", 0, 1, 1000))
    assert small == {}
    step = run_state.on_event(_state(progress=start), DownloadProgress("cm1", 0, 500, 1000))
    assert step["progress"] == pytest.approx(
        100 * progress.fraction("downloading", received=500, total=1000)
    )
    last = run_state.on_event(_state(progress=98.9), DownloadProgress("cm1", 0, 1000, 1000))
    assert last["progress"] == pytest.approx(99.0)
    assert run_state.on_event(_state(), DownloadProgress("cm1", 0, 10, None)) == {}


def test_a_retry_notice_stays_while_rendering_and_clears_after():
    notice = run_state.on_event(_state(), _retry())["notice"]
    assert "HTTP 429 on poll" in notice and "retrying in 0.3 s" in notice
    rendering = run_state.on_event(_state(notice=notice), _status("rendering"))
    assert "notice" not in rendering
    downloading = run_state.on_event(_state(notice=notice), _status("complete"))
    assert downloading["notice"] == ""
    other = run_state.on_event(_state(notice="Saved in x"), _status("complete"))
    assert "notice" not in other


def test_after_a_cancel_only_a_late_id_is_news():
    state = _state(canceled=True)
    assert run_state.on_event(state, _status("rendering")) == {}
    traits = run_state.on_event(state, Created("cm9", 50))
    assert traits["project_id"] == "cm9" and "cm9" in traits["notice"]
    assert "no cancel endpoint" in traits["notice"]
    sandbox = run_state.on_event(_state(canceled=True, sandbox=True), Created("cm9", 0))
    assert "sandbox charges nothing" in sandbox["notice"]


def _result(tmp_path: Path, pid: str = "cm1", fmt: str = "gif") -> Result:
    path = tmp_path / f"{pid}.{fmt}"
    path.write_bytes(b"GIF89a")
    return Result(path, fmt, _project(pid, "complete", credits_charged=50), f"prompt {pid}")


def test_a_result_shows_first_in_a_capped_history_and_names_its_file(tmp_path: Path):
    history = [{"key": f"old{i}"} for i in range(run_state.HISTORY_MAX)]
    result = _result(tmp_path)
    changes = run_state.completed(
        _state(history=history, progress=99.0), result, name="kite", size=6
    )
    traits = changes.traits
    entry = traits["media"]
    assert entry["key"] == media.media_key("cm1", result.path) and entry["name"] == "kite"
    assert entry["mime"] == "image/gif" and entry["size"] == 6 and entry["credits"] == 50
    assert traits["history"][0] is entry and len(traits["history"]) == run_state.HISTORY_MAX
    assert traits["history"][-1] == {"key": "old22"}
    assert traits["status"] == "complete" and traits["progress"] == 100.0
    assert traits["running"] is False and traits["progress_curve"] == []
    assert changes.files == {entry["key"]: MediaFile(result.path, "image/gif")}
    sandbox = run_state.completed(_state(sandbox=True), result, name=None, size=6)
    assert sandbox.traits["media"]["credits"] == 0 and sandbox.traits["media"]["name"] == ""


def test_cancel_and_failure_end_the_job():
    canceled = run_state.canceled(_state(), "Stopped waiting.")
    assert canceled["status"] == "canceled" and canceled["notice"] == "Stopped waiting."
    assert canceled["running"] is False and canceled["phase_started"] == NOW * 1000
    failed = run_state.failed(_state(), "The job failed: x")
    assert failed["status"] == "failed" and failed["error"] == "The job failed: x"


# ---- a gallery ---------------------------------------------------------------------------


def test_gallery_prompts_are_checked_line_by_line():
    assert gallery_state.gallery_prompts(" a \n\n b\n") == ["a", "b"]
    with pytest.raises(ValidationError, match="one prompt per line"):
        gallery_state.gallery_prompts("  \n")
    with pytest.raises(ValidationError, match="line 2"):
        gallery_state.gallery_prompts("fine\n" + "x" * 501)
    too_many = "\n".join(f"p{i}" for i in range(gallery_state.MAX_GALLERY + 1))
    with pytest.raises(ValidationError, match=f"at most {gallery_state.MAX_GALLERY}"):
        gallery_state.gallery_prompts(too_many)


def _batch(index: int | None, *, event=None, result=None, complete: int = 0) -> BatchProgress:
    counts = BatchCounts(total=2, complete=complete, credits=50 * complete)
    return BatchProgress(counts, "ledger", index=index, event=event, result=result)


def _gallery(**kw) -> GalleryState:
    cards = gallery_state.started(["a red kite", "a blue kite"])["gallery"]
    return GalleryState(**{"gallery": cards, "now": NOW, "sandbox": False, **kw})


def test_a_gallery_starts_with_waiting_cards():
    traits = gallery_state.started(["a", "b"])
    assert traits["summary"] == "" and [c["status"] for c in traits["gallery"]] == ["waiting"] * 2
    assert [c["index"] for c in traits["gallery"]] == [0, 1]


def test_each_card_follows_its_job(tmp_path: Path):
    state = _gallery()
    created = gallery_state.on_batch(state, _batch(1, event=Created("cm2", 50))).traits
    assert created["gallery"][1]["status"] == "queued" and created["gallery"][1]["project_id"]
    assert created["gallery"][0] == state.gallery[0] and state.gallery[1]["status"] == "waiting"
    assert created["summary"] == "0 of 2 complete, 0 credits"
    downloading = gallery_state.on_batch(state, _batch(0, event=_status("complete"))).traits
    assert downloading["gallery"][0]["status"] == "downloading"
    path = tmp_path / "cm2.mp4"
    done = gallery_state.on_batch(
        state,
        _batch(1, result=_project("cm2", "complete", downloaded_paths=[str(path)]), complete=1),
    )
    card = done.traits["gallery"][1]
    assert card["status"] == "complete" and card["format"] == "mp4" and card["mime"] == "video/mp4"
    assert card["key"] == media.media_key("cm2", path) and card["filename"] == "cm2.mp4"
    assert done.files == {card["key"]: MediaFile(path, "video/mp4")}
    assert done.traits["progress"] == 50.0


def test_a_failed_card_says_why_and_an_unknown_one_says_so():
    state = _gallery()
    failed = gallery_state.on_batch(
        state, _batch(0, result=JobFailedError.from_project(_project("cm1", "error")))
    ).traits["gallery"][0]
    assert failed["status"] == "failed" and failed["error"].startswith("The job failed")
    assert failed["project_id"] == "cm1"
    unknown = gallery_state.on_batch(
        state, _batch(1, result=CreateOutcomeUnknown("the create may have happened"))
    ).traits["gallery"][1]
    assert unknown["status"] == "unknown" and unknown["error"].startswith("Network problem")


def test_batch_level_news_changes_no_card():
    state = _gallery(progress=10.0)
    whole = gallery_state.on_batch(state, _batch(None, complete=1))
    assert "gallery" not in whole.traits and whole.traits["progress"] == 50.0
    retry = gallery_state.on_batch(state, _batch(0, event=_retry())).traits
    assert "gallery" not in retry and "retrying" in retry["notice"]


def test_the_end_of_a_gallery(tmp_path: Path):
    state = _gallery()
    counts = BatchCounts(total=2, complete=2, credits=100)
    ok = gallery_state.finished(state, BatchResults([], counts, tmp_path), tmp_path)
    assert ok["status"] == "complete" and ok["notice"] == f"Saved in {tmp_path}"
    assert ok["credits_charged"] == 100 and ok["progress"] == 100.0 and ok["running"] is False
    half = BatchCounts(total=2, complete=1, failed=1, credits=50)
    bad = gallery_state.finished(_gallery(sandbox=True), BatchResults([], half, tmp_path), tmp_path)
    assert bad["status"] == "failed" and bad["error"].startswith("1 of 2 did not complete")
    assert bad["credits_charged"] == 0  # the sandbox charges nothing


def test_a_canceled_gallery_says_how_to_collect(tmp_path: Path):
    cards = [dict(c, project_id=f"cm{i}") for i, c in enumerate(_gallery().gallery)]
    notice = gallery_state.cancel_notice(_gallery(gallery=cards), tmp_path)
    assert "2 job(s) already made" in notice
    assert f"magicgif batch --resume {tmp_path} --collect-only" in notice
    assert "sandbox charges nothing" in gallery_state.cancel_notice(
        _gallery(sandbox=True), tmp_path
    )
    assert "no job was left running" in gallery_state.cancel_notice(_gallery(), tmp_path)


# ---- the media store ---------------------------------------------------------------------


def test_keys_are_stable_per_file_and_differ_between_files(tmp_path: Path):
    a, b = tmp_path / "a.gif", tmp_path / "b.gif"
    assert media.media_key("cm1", a) == media.media_key("cm1", a) != media.media_key("cm1", b)
    assert media.referenced({"key": "m"}, [{"key": "h1"}, {"key": ""}], [{}]) == {"m", "h1"}
    assert media.referenced({}) == set()


def test_the_store_keeps_only_what_the_traits_name(tmp_path: Path):
    store = MediaStore()
    files = {}
    for i in range(30):
        path = tmp_path / f"{i}.gif"
        path.write_bytes(b"GIF89a")
        files[f"k{i}"] = MediaFile(path, "image/gif")
    store.add(files)
    history = [{"key": f"k{i}"} for i in range(29, 29 - run_state.HISTORY_MAX, -1)]
    store.retain(media.referenced(history[0], history, [{"key": "k0"}]))
    assert len(store) == run_state.HISTORY_MAX + 1 and "k0" in store and "k1" not in store
    (gone,) = [c for c, _ in store.messages("k1", "r1")]
    assert gone["type"] == "media-error" and "no longer held" in gone["message"]
    files["k0"].path.unlink()
    (missing,) = [c for c, _ in store.messages("k0", "r2")]
    assert "no longer on disk" in missing["message"]


def test_the_store_sends_binary_chunks_or_base64_text(tmp_path: Path, monkeypatch):
    path = tmp_path / "big.gif"
    data = bytes(range(256)) * 1000
    path.write_bytes(data)
    store = MediaStore()
    store.add({"k": MediaFile(path, "image/gif")})
    monkeypatch.setattr(media, "CHUNK", 100_000)
    binary = list(store.messages("k", "r"))
    assert len(binary) == 3 and all(
        c["chunks"] == 3 and c["encoding"] == "binary" for c, _ in binary
    )
    assert b"".join(b[0] for _, b in binary if b) == data
    text = list(store.messages("k", "t", text=True))
    assert len(text) == -(-len(data) // media.TEXT_CHUNK) and all(b is None for _, b in text)
    assert b"".join(base64.b64decode(c["data"]) for c, _ in text) == data


# ---- earlier jobs: cards from journal entries --------------------------------------------

STAMP = "2023-11-14T22:13:20Z"  # NOW, as the journal writes times


def _entry(**kw) -> JournalEntry:
    fields = {
        "key": "k1",
        "project_id": "cm1",
        "server": "http://127.0.0.1:9",
        "surface": "python",
        "settings": JobSettings("a paper boat", None, "gif"),
        "directory": None,
        "status": "rendering",
        "error_code": None,
        "credits_charged": 50,
        "credits_refunded": None,
        "paths": (),
        "collected_at": None,
        "dismissed_at": None,
        "created_at": STAMP,
        "updated_at": STAMP,
    }
    return JournalEntry(**{**fields, **kw})


def test_ages_read_like_a_person_would_say_them():
    said = [earlier.age_text(s) for s in (0, 4, 40, 60, 150, 3599, 3600, 7200, 86400 * 3)]
    assert said == [
        "started just now",
        "started just now",
        "started 40 s ago",
        "started 1 min ago",
        "started 2 min ago",
        "started 59 min ago",
        "started 1 h ago",
        "started 2 h ago",
        "started 3 days ago",
    ]
    assert earlier.age_text(-5) == "started just now"  # another machine's clock


def test_a_running_job_from_earlier_is_a_collect_card():
    entry = _entry(surface="widget", settings=JobSettings("a paper boat", "boat", "mp4"))
    (card,) = earlier.cards([entry], now=NOW + 150)
    assert card == {
        "id": "cm1",
        "project_id": "cm1",
        "prompt": "a paper boat",
        "name": "boat",
        "format": "mp4",
        "age": "started 2 min ago",
        "meta": "MP4 · started 2 min ago · from a widget · 50 credits spent",
        "status": "Rendering when last seen",
        "kind": "collect",
    }


def test_each_status_says_what_was_last_heard():
    said = {
        status: earlier.cards([_entry(status=status)], now=NOW)[0]["status"]
        for status in ("created", "queued", "rendering", "complete")
    }
    assert said == {
        "created": "Created at Magic Hour; not seen since",
        "queued": "Queued when last seen",
        "rendering": "Rendering when last seen",
        "complete": "Finished, never downloaded",
    }
    cli = earlier.cards([_entry(surface="cli", credits_charged=None)], now=NOW)[0]
    assert cli["meta"] == "GIF · started just now · from the command line"


def test_an_unknown_job_is_a_card_that_can_only_be_dismissed():
    (card,) = earlier.cards([_entry(project_id=None, status="unknown")], now=NOW + 30)
    assert card["kind"] == "unknown" and card["id"] == "k1" and card["project_id"] == ""
    assert card["status"] == (
        "The create was sent but its answer was lost: a job may exist and be charged; "
        "check your Magic Hour library."
    )


def test_what_is_not_offered(tmp_path: Path):
    gif = tmp_path / "cm9.gif"
    gif.write_bytes(b"GIF89a")
    not_offered = [
        _entry(status="error"),  # failed: refunded, nothing to collect
        _entry(status="canceled"),
        _entry(status="not_created", project_id=None),
        _entry(status="creating", project_id=None),  # a create in flight
        _entry(dismissed_at=STAMP),
        _entry(status="complete", collected_at=STAMP, paths=(str(gif),)),  # on disk
        _entry(project_id="cm-own"),  # the widget's own
        _entry(key="k-own", project_id=None, status="unknown"),
        _entry(created_at="2023-11-14T22:13:30Z"),  # made after the widget
    ]
    cards = earlier.cards(not_offered, now=NOW, before=NOW, exclude={"cm-own", "k-own"})
    assert cards == []
    # collected, but the file is gone: the journal no longer lists it as pending either
    gone = _entry(status="complete", collected_at=STAMP, paths=(str(tmp_path / "gone.gif"),))
    assert not gone.pending and earlier.cards([gone], now=NOW) == []


def test_cards_keep_the_journals_order_and_a_bound():
    entries = [_entry(key=f"k{i}", project_id=f"cm{i}") for i in range(20)]
    cards = earlier.cards(entries, now=NOW)
    assert [c["id"] for c in cards] == [f"cm{i}" for i in range(earlier.MAX_CARDS)]
    assert [c["id"] for c in earlier.without(cards[:3], "cm1")] == ["cm0", "cm2"]


def test_the_question_before_a_duplicate_job():
    entry = _entry(settings=JobSettings("a paper boat", "boat", "gif"))
    question = earlier.confirm(entry, NOW + 125)
    assert question == {
        "kind": "duplicate",
        "id": "cm1",
        "project_id": "cm1",
        "prompt": "a paper boat",
        "name": "boat",
        "output_format": "gif",
        "text": (
            "A job with these settings is still running (started 2 min ago). "
            "Generate again and pay 50 credits?"
        ),
    }
    assert earlier.same_settings(question, "a paper boat", " boat ", "gif")
    assert not earlier.same_settings(question, "a paper boat", "", "gif")
    assert not earlier.same_settings(question, "a paper boat", "boat", "mp4")
    assert not earlier.same_settings(question, "a paper kite", "boat", "gif")


# ---- the account line ---------------------------------------------------------------------


def test_the_account_line_in_each_state():
    line = account.line
    assert line(AccountState(sandbox=True)) == {
        "state": "sandbox",
        "credits": None,
        "cost": 0,
        "text": account.SANDBOX_TEXT,
    }
    assert "no credits are used" in account.SANDBOX_TEXT
    assert line(AccountState()) == {
        "state": "reading",
        "credits": None,
        "cost": 50,
        "text": "50 credits per GIF · reading your balance…",
    }
    assert line(AccountState(credits=12_345))["text"] == "50 credits per GIF · 12,345 credits left"
    assert line(AccountState(credits=50))["state"] == "ok"
    low = line(AccountState(credits=30))
    assert low == {
        "state": "low",
        "credits": 30,
        "cost": 50,
        "text": "Not enough credits: 30 left, a GIF costs 50",
    }
    failed = line(AccountState(problem="network problem"))
    assert failed["state"] == "failed" and failed["credits"] is None
    assert failed["text"] == "50 credits per GIF · the balance could not be read (network problem)"
    rejected = line(AccountState(problem=account.REJECTED))
    assert rejected["state"] == "rejected"
    assert rejected["text"].startswith("The API token was rejected")


def test_the_shortfall_counts_every_gif_and_an_unknown_balance_never_blocks():
    assert account.shortfall(None) is None and account.shortfall(50) is None
    assert account.shortfall(49) == "Not enough credits: 49 left, a GIF costs 50"
    assert account.shortfall(120, 3) == "Not enough credits: 120 left, 3 GIFs cost 150"
    assert account.shortfall(150, 3) is None
    assert account.shortfall(1_000, 48) == "Not enough credits: 1,000 left, 48 GIFs cost 2400"


def test_why_an_account_read_failed_in_a_few_words():
    from magicgif_widget.client import errors

    said = [
        account.problem(errors.AuthenticationError("401 mhk_live_x", status_code=401)),
        account.problem(errors.NetworkError("connection refused")),
        account.problem(errors.RateLimitError("429", status_code=429)),
        account.problem(errors.ServerError("500", status_code=500)),
        account.problem(errors.NotFoundError("404", status_code=404)),
        account.problem(errors.InvalidResponseError("not JSON")),
        account.problem(RuntimeError("boom")),
    ]
    assert said == [
        account.REJECTED,
        "network problem",
        "rate limited",
        "Magic Hour had a server error",
        "HTTP 404",
        "an unexpected answer",
        "an unexpected error",
    ]


# ---- what a failed job says, and the two new run states ------------------------------------


def test_a_failed_job_in_the_vendors_words():
    from magicgif_widget.client.models import ProjectError

    def failed(code: str | None, charged: int, message: str = "the server's words") -> str:
        project = _project(
            "cm7", "error", credits_charged=charged, error=ProjectError(code or "", message)
        )
        if code is None:
            project = _project("cm7", "error", credits_charged=charged)
        return notices.friendly(JobFailedError.from_project(project))

    assert failed("content_policy_violation", 0) == (
        "The job failed: the prompt breaks Magic Hour's content rules; reword it and try "
        "again (job cm7; credits refunded)"
    )
    assert failed("processing_timeout", 50) == (
        "The job failed: Magic Hour took too long to render this one; try again "
        "(job cm7; 50 credits charged)"
    )
    assert failed("render_failed", 0, "GPU fell over") == (
        "The job failed: Magic Hour could not render this job: GPU fell over "
        "(job cm7; credits refunded)"
    )
    assert failed(None, 0) == (
        "The job failed: Magic Hour could not render this job (job cm7; credits refunded)"
    )


def test_collecting_and_asking():
    state = _state(progress=100.0, project_id="cm-old", now=NOW)
    collecting = run_state.collecting(state, "cm5")
    assert collecting["status"] == "collecting" and collecting["project_id"] == "cm5"
    assert collecting["running"] and collecting["error"] == "" and collecting["progress"] < 5
    asked = run_state.asked(state)
    assert asked["status"] == "idle" and not asked["running"] and asked["progress"] == 0
    assert asked["project_id"] == "" and asked["job_started"] == 0
    assert notices.CANCELED_BEFORE_SENDING == "Canceled before anything was sent: no job was made."
    checking = run_state.checking(state)
    assert checking["status"] == "checking" and checking["running"] and checking["error"] == ""
    refused = run_state.refused(state, "Not enough credits: 30 left, a GIF costs 50")
    assert refused["status"] == "idle" and not refused["running"]
    assert refused["error"] == "Not enough credits: 30 left, a GIF costs 50"
    assert notices.not_enough_credits("Not enough credits: 30 left, a GIF costs 50") == (
        "Not enough credits: 30 left, a GIF costs 50. Nothing was sent; add credits at "
        "Magic Hour, then press Generate again."
    )


def test_the_account_line_gives_a_gallery_total_before_it_starts():
    ok = account.line(account.AccountState(credits=1000), 3)
    assert ok["state"] == "ok"
    assert ok["text"] == "This gallery: 3 GIFs cost 150 credits · 1,000 credits left"
    low = account.line(account.AccountState(credits=120), 3)
    assert low["state"] == "low" and low["text"] == "Not enough credits: 120 left, 3 GIFs cost 150"
    assert account.line(account.AccountState(credits=120))["state"] == "ok"  # one GIF fits
