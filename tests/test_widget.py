"""GifWidget's model without a browser: traits, the task lifecycle, cancel, errors, no token."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from magicgif_widget import Client, GifWidget, JobFailedError, ValidationError
from magicgif_widget.widget import media as media_module
from magicgif_widget.widget.media import MediaFile

from .conftest import Server

CANARY = "mhk_live_CANARY_widget_77"


@pytest.fixture(autouse=True)
def journal_dir(tmp_path: Path, monkeypatch) -> Path:
    """A job journal of this test's own (a job another test left running is not this one's
    duplicate)."""
    where = tmp_path / "data"
    monkeypatch.setenv("MAGICGIF_DATA_DIR", str(where))
    return where


def sent_nothing(server: Server) -> bool:
    """No request reached the server but the widget's balance read."""
    return {k: v for k, v in server.stats()["requests"].items() if k != "account"} == {}


@pytest.fixture
def make(server: Server, tmp_path: Path):
    made: list[GifWidget] = []

    def factory(**kw) -> GifWidget:
        kw.setdefault("client", Client(base_url=server.url, token=CANARY))
        kw.setdefault("download_directory", tmp_path)
        w = GifWidget(**kw)
        made.append(w)
        return w

    yield factory
    for w in made:
        w.close()


async def test_generate_from_python_fills_traits_and_result(make, server: Server):
    w = make(prompt="a happy cat", output_format="gif")
    seen: list[str] = []
    w.observe(lambda change: seen.append(change["new"]), names="status")
    result = await w.generate()
    assert w.status == "complete" and w.progress == 100 and not w.running and w.error == ""
    assert result.path.is_file() and result.data[:6] == b"GIF89a" and w.result is result
    assert w.media["key"] and w.media["format"] == "gif" and w.media["size"] == len(result.data)
    assert [h["prompt"] for h in w.history] == ["a happy cat"]
    assert seen[0] == "creating" and "queued" in seen and seen[-1] == "complete"
    assert w.project_id == result.project.id and w.credits_charged == 50
    assert server.stats()["creates"] == 1


async def test_double_generate_makes_one_job(make, server: Server):
    w = make(prompt="twice")
    first, second = w.generate(), w.generate()
    assert first is second
    await first
    assert server.stats()["creates"] == 1


async def test_empty_prompt_is_an_inline_error_and_sends_nothing(make, server: Server):
    w = make(prompt="   ")
    with pytest.raises(ValidationError):
        w.generate()
    assert "must not be empty" in w.error and w.status == "idle" and not w.running
    w._on_front_end_msg(w, {"type": "generate"}, [])  # the button does the same, quietly
    assert sent_nothing(server)


async def test_cancel_stops_at_once_and_says_what_became_of_the_job(make, server: Server):
    server.reset(render_seconds=30)
    w = make(prompt="slow")
    task = w.generate()
    while not w.project_id:
        await asyncio.sleep(0.01)
    w._on_front_end_msg(w, {"type": "cancel"}, [])
    assert w.status == "canceled" and not w.running
    with pytest.raises(asyncio.CancelledError):
        await task
    assert w.project_id in w.notice and "no cancel endpoint" in w.notice
    assert f"magicgif resume {w.project_id}" in w.notice and server.stats()["creates"] == 1


async def test_failed_job_shows_an_actionable_error(make, server: Server):
    server.fault(route="create", outcome="error")
    w = make(prompt="doomed")
    with pytest.raises(JobFailedError):
        await w.generate()
    assert w.status == "failed" and w.error.startswith("The job failed:") and not w.running
    assert w.project_id in w.error and w.error.endswith("credits refunded)")


@pytest.mark.parametrize(
    ("code", "line"),
    [
        ("content_policy_violation", "the prompt breaks Magic Hour's content rules"),
        ("processing_timeout", "Magic Hour took too long to render this one; try again"),
        ("no_source_face", "no face was found in the input image"),
    ],
)
async def test_a_failed_job_is_told_in_the_vendors_words(make, server: Server, code, line):
    server.fault(route="create", outcome="error", code=code)
    w = make(prompt=f"doomed by {code}")
    with pytest.raises(JobFailedError) as failed:
        await w.generate()
    assert failed.value.line.startswith(line) and failed.value.refunded
    assert w.error == (
        f"The job failed: {failed.value.line} (job {w.project_id}; credits refunded)"
    )
    assert code not in w.error  # the sentence, not the code


async def test_rate_limit_retry_shows_a_notice_then_completes(make, server: Server):
    server.fault(route="poll", status=429, retry_after=0.3)
    w = make(prompt="busy")
    notices: list[str] = []
    w.observe(lambda change: notices.append(change["new"]), names="notice")
    await w.generate()
    assert any("HTTP 429" in n and "retrying" in n for n in notices) and w.status == "complete"


async def test_state_and_display_never_carry_the_token(make):
    w = make(prompt="secret keeper")
    await w.generate()
    state = json.dumps(w.get_state(), default=repr)
    data, _meta = w._repr_mimebundle_()
    assert CANARY not in state and CANARY not in json.dumps(data) and CANARY not in repr(w)
    assert w.sandbox is False


def _displayed(w: GifWidget, monkeypatch) -> list[tuple[dict, dict]]:
    """What ``display(w)`` publishes, and what later updates publish, as (data, metadata)."""
    import IPython.display

    out: list[tuple[dict, dict]] = []

    class Handle:
        display_id = "d1"

        def update(self, data, metadata=None, raw=False):
            out.append((data, metadata or {}))

    def display(data, metadata=None, raw=False, display_id=None):
        out.append((data, metadata or {}))
        return Handle() if display_id else None

    monkeypatch.setattr(IPython.display, "display", display)
    w._ipython_display_()
    return out


async def test_the_static_output_sits_beside_the_widget_and_fills_on_completion(make, monkeypatch):
    """The widget's own output is the view alone (nbconvert draws nothing else from it when
    widget state is saved); the result is a second output, updated in place."""
    w = make(prompt="static")
    out = _displayed(w, monkeypatch)
    (view, _), (still, _) = out
    assert set(view) == {"application/vnd.jupyter.widget-view+json", "text/plain"}
    # Before any result the slot says why the controls may be missing, and what to do.
    display_id = still["text/html"].split('data-magicgif-display="')[1].split('"')[0]
    assert len(display_id) == 32 and f'data-magicgif-still="{w.still_id}"' in still["text/html"]
    assert "reload the browser page" in still["text/html"]
    result = await w.generate()
    assert len(out) == 3
    html = out[2][0]["text/html"]
    assert (
        f'data-magicgif-still="{w.still_id}"' in html
        and f'data-magicgif-display="{display_id}"' in html  # the same output, updated
        and 'alt="Generated animation: static"' in html
    )
    gif = base64.b64decode(html.split("data:image/gif;base64,")[1].split('"')[0])
    with Image.open(io.BytesIO(gif)) as im, Image.open(result.path) as full:
        assert im.is_animated and im.size == full.size  # animated, half the frames
        assert 1 < im.n_frames <= full.n_frames // 2 + 1 and len(gif) <= 300_000
    png = base64.b64decode(out[2][0]["image/png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) < 150_000
    assert w._still["image/png"] == out[2][0]["image/png"]
    assert "image/png" not in w._repr_mimebundle_()[0]


def test_without_its_front_end_the_widget_says_what_to_do(make, monkeypatch):
    """What a host shows when it cannot draw the view: the static slot, in HTML and in plain
    text, with the fix and where to read more (the README's section); the view's own text is
    its repr, so an HTML host says it once."""
    from magicgif_widget.widget import not_loaded

    w = make(prompt="a cat")
    (view, _), (still, _) = _displayed(w, monkeypatch)
    assert view["text/plain"] == repr(w)
    plain = still["text/plain"]
    assert "did not load in this page" in plain and "did not load" in still["text/html"]
    assert "reload the browser page" in plain and not_loaded.HELP_URL in plain
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split(f"## {not_loaded.HELP_SECTION}\n", 1)[1].split("\n## ", 1)[0]
    for host in (
        "JupyterLab",
        "Notebook 7",
        "classic Notebook",
        "Colab",
        "VS Code",
        "marimo",
        "Voilà",
    ):
        assert host in section, host
    assert f'href="{not_loaded.HELP_URL}"' in still["text/html"]


def test_the_first_state_the_front_end_receives_is_already_true(server: Server, monkeypatch):
    """The comm's opening message carries the real facts (not the sandbox, not defaults)."""
    import comm

    opened: list[dict] = []
    real = comm.create_comm

    def recording(*args, **kwargs):
        opened.append(kwargs.get("data") or {})
        return real(*args, **kwargs)

    monkeypatch.setattr(comm, "create_comm", recording)
    w = GifWidget(client=Client(base_url=server.url, token=CANARY), output_format="mp4")
    try:
        state = next(d["state"] for d in opened if d.get("state", {}).get("_esm"))
        assert state["sandbox"] is False and state["still_id"] == w.still_id
        assert state["limits"]["formats"] and state["account"]["state"] != "sandbox"
        assert state["output_format"] == "mp4" and state["render_estimate"] > 0
    finally:
        w.close()


async def test_a_large_gif_travels_as_its_first_frame(make, monkeypatch):
    from magicgif_widget.widget import stills

    monkeypatch.setattr(stills, "ANIMATION_MAX_BYTES", 1000)
    w = make(prompt="big")
    await w.generate()
    assert (
        "data:image/png;base64," in w._still["text/html"]
        and "image/gif" not in w._still["text/html"]
    )


async def test_video_static_image_is_a_png_frame(make):
    w = make(prompt="video", output_format="mp4")
    result = await w.generate()
    assert result.path.suffix == ".mp4" and w.media["mime"] == "video/mp4"
    assert "data:image/png;base64," in w._still["text/html"] and "image/png" in w._still


def test_colab_widget_manager_metadata_is_kept(make, monkeypatch):
    """On Colab, anywidget adds the custom widget manager's URL to the view's metadata; a
    widget that rebuilds that metadata stops showing there. Ours passes it through."""
    import sys
    import types

    from anywidget import _util

    url = "https://ssl.gstatic.com/colaboratory-static/widgets/colab-cdn-widget-manager/abc.js"
    output = types.ModuleType("google.colab.output")
    enabled: list[bool] = []
    output.enable_custom_widget_manager = lambda: enabled.append(True)  # type: ignore[attr-defined]
    output._widgets = types.SimpleNamespace(_installed_url=url)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    _util.enable_custom_widget_manager_once.cache_clear()
    try:
        w = make(prompt="colab")
        (_, meta), _still = _displayed(w, monkeypatch)
    finally:
        _util.enable_custom_widget_manager_once.cache_clear()
    view = "application/vnd.jupyter.widget-view+json"
    assert meta == {view: {"colab": {"custom_widget_manager": {"url": url}}}} and enabled
    assert w._repr_mimebundle_()[1] == meta


async def test_media_goes_as_small_text_chunks_where_buffers_are_dropped(
    make, tmp_path, monkeypatch
):
    """A 10 MB output in base64 messages of at most 256 KiB each, and no buffers at all."""
    w = make(prompt="colab-sized")
    await w.generate()
    big = tmp_path / "big.gif"
    big.write_bytes(bytes(range(256)) * (10 * 1024 * 1024 // 256))
    w._media.add({"big": MediaFile(big, "image/gif")})
    sent: list[tuple[dict, list | None]] = []
    monkeypatch.setattr(w, "send", lambda content, buffers=None: sent.append((content, buffers)))
    w._on_front_end_msg(w, {"type": "media", "key": "big", "req": "t1", "encoding": "base64"}, [])
    assert len(sent) == 54 and all(b is None for _, b in sent)
    assert max(len(json.dumps(c)) for c, _ in sent) < 256 * 1024 + 300
    assert {c["encoding"] for c, _ in sent} == {"base64"} and sent[0][0]["chunks"] == 54
    joined = b"".join(
        base64.b64decode(c["data"]) for c, _ in sorted(sent, key=lambda x: x[0]["seq"])
    )
    assert joined == big.read_bytes()


def test_the_front_end_gets_the_limits_instead_of_copies(make):
    from magicgif_widget.contract import OUTPUT_FORMATS, PROMPT_MAX_CHARS

    w = make()
    assert w.limits["formats"] == list(OUTPUT_FORMATS)
    assert w.limits["prompt_max_chars"] == PROMPT_MAX_CHARS and w.limits["gallery_max"] == 48
    assert w.limits["media_timeout_ms"] > 0 and len(w.still_id) == 16
    js = (Path(__file__).resolve().parents[1] / "js" / "widget.js").read_text()
    assert "500" not in js and '"gif", "mp4"' not in js and "48" not in js


async def test_the_bar_follows_a_curve_the_kernel_sends(make):
    """The front end draws rendering's progress from the progress_curve trait; the model and
    its numbers live in progress.py only."""
    from magicgif_widget.widget import run_state

    w = make(prompt="curvy")
    curves: list[list] = []
    w.observe(lambda change: curves.append(change["new"]), names="progress_curve")
    await w.generate()
    assert run_state.rendering_curve(w.render_estimate) in curves
    assert w.progress_curve == [] and curves[-1] == []
    js = (Path(__file__).resolve().parents[1] / "js" / "widget.js").read_text()
    assert "progress_curve" in js and 'render_estimate")' not in js and "Math.log" not in js


async def test_the_media_store_holds_only_what_the_traits_name(make, monkeypatch):
    from magicgif_widget.widget import run_state

    monkeypatch.setattr(run_state, "HISTORY_MAX", 2)
    w = make(prompt="first")
    first = (await w.generate(), w.media["key"])[1]
    for prompt in ("second", "third"):
        w.prompt = prompt
        await w.generate()
    assert len(w.history) == 2 and len(w._media) == 2 and first not in w._media
    sent: list[dict] = []
    monkeypatch.setattr(w, "send", lambda content, buffers=None: sent.append(content))
    w._on_front_end_msg(w, {"type": "media", "key": first, "req": "old"}, [])
    assert sent[0]["type"] == "media-error" and "no longer held" in sent[0]["message"]
    w.gallery_mode, w.prompt = True, "kite one\nkite two"
    await w.generate()
    cards = {c["key"] for c in w.gallery}
    assert len(w._media) == 4 and all(k in w._media for k in cards)
    w.prompt = "kite three"
    await w.generate()
    assert not any(k in w._media for k in cards) and len(w._media) == 3
    w.history = []
    assert len(w._media) == 2  # the current result and the gallery's one card
    w.media = {}
    assert len(w._media) == 1


async def test_media_goes_out_in_binary_chunks(make, monkeypatch):
    w = make(prompt="chunks")
    result = await w.generate()
    sent: list[tuple[dict, list]] = []
    monkeypatch.setattr(w, "send", lambda content, buffers=None: sent.append((content, buffers)))
    monkeypatch.setattr(media_module, "CHUNK", 100_000)
    w._on_front_end_msg(w, {"type": "media", "key": w.media["key"], "req": "r1"}, [])
    assert len(sent) == -(-len(result.data) // 100_000) > 1
    assert b"".join(bytes(b[0]) for _, b in sent) == result.data
    assert all(c["req"] == "r1" and c["chunks"] == len(sent) for c, _ in sent)
    sent.clear()
    w._on_front_end_msg(w, {"type": "media", "key": "nope", "req": "r2"}, [])
    assert sent[0][0]["type"] == "media-error"


def test_repr_is_stable_and_meaningful(server: Server, tmp_path: Path):
    w = GifWidget(client=Client(base_url=server.url), prompt="x" * 60, download_directory=tmp_path)
    assert repr(w) == (
        "GifWidget(prompt='" + "x" * 39 + "…', output_format='gif', backend='magic hour')"
    )
    with pytest.raises(ValidationError, match="output_format"):
        GifWidget(client=Client(base_url=server.url), output_format="png")
    with pytest.raises(ValidationError, match="client"):
        GifWidget(client="not a client")  # type: ignore[arg-type]
    w.close()


def test_no_client_means_the_sandbox(tmp_path: Path):
    w = GifWidget(download_directory=tmp_path)
    assert w.sandbox and "sandbox" in repr(w)
    w.close()


async def test_close_cancels_a_running_job(make, server: Server):
    server.reset(render_seconds=30)
    w = make(prompt="closing")
    task = w.generate()
    while not w.project_id:
        await asyncio.sleep(0.01)
    w.close()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_cancel_during_the_create_then_a_new_job_at_once(make, server: Server):
    server.fault(route="create", kind="delay", seconds=1.0)
    w = make(prompt="slow create")
    first = w.generate()
    while server.requests("create") < 1:  # the create is in flight (its answer is late)
        await asyncio.sleep(0.01)
    w.cancel()
    assert "may have created (and charged)" in w.notice and w.status == "canceled"
    second = w.generate()  # no need to wait for the first to wind down
    assert second is not first
    result = await second
    with pytest.raises(asyncio.CancelledError):
        await first
    assert w.status == "complete" and w.result is result and not w.running
    late = [pid for pid in server.emulator.store.jobs if pid != result.project.id]
    assert len(late) == 1 and server.stats()["creates"] == 2  # the first job exists, as warned


async def test_late_id_after_cancel_is_named(make, server: Server):
    server.fault(route="create", kind="delay", seconds=0.6)
    w = make(prompt="named late")
    task = w.generate()
    while server.requests("create") < 1:  # the create is in flight (its answer is late)
        await asyncio.sleep(0.01)
    w.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert w.project_id and w.project_id in w.notice and "no cancel endpoint" in w.notice
    assert w.status == "canceled"


async def test_generate_after_close_is_refused(make):
    from magicgif_widget import ClientClosedError

    w = make(prompt="closed")
    w.close()
    with pytest.raises(ClientClosedError):
        w.generate()


def test_generate_from_another_thread(server: Server, tmp_path: Path):
    """Off the widget's loop, generate() still gives an awaitable and cancel stays consistent."""
    import threading

    async def main():
        w = GifWidget(
            client=Client(base_url=server.url), prompt="threads", download_directory=tmp_path
        )
        box: dict = {}
        thread = threading.Thread(target=lambda: box.update(fut=w.generate()))
        thread.start()
        thread.join()
        result = await asyncio.wrap_future(box["fut"])
        assert w.status == "complete" and result.path.is_file()
        w.close()

    asyncio.run(main())


async def test_bad_token_and_rate_limits_read_as_actions(server: Server, tmp_path: Path):
    from magicgif_widget import AuthenticationError, RateLimitError, RetryPolicy
    from magicgif_widget.emulator import BackgroundServer, Emulator

    with BackgroundServer(Emulator(render_seconds=0.1, token="right")) as srv:
        w = GifWidget(
            client=Client(base_url=srv.url, token="wrong"),
            prompt="locked out",
            download_directory=tmp_path,
        )
        with pytest.raises(AuthenticationError):
            await w.generate()
        assert (
            w.error.startswith("The API token was rejected") and "MAGIC_HOUR_API_TOKEN" in w.error
        )
        assert "wrong" not in w.error
        w.close()
    server.fault(route="create", status=429, retry_after=0, times=None)
    retry = RetryPolicy(attempts=2, base_delay=0.01)
    w = GifWidget(
        client=Client(base_url=server.url, retry=retry), prompt="busy", download_directory=tmp_path
    )
    with pytest.raises(RateLimitError):
        await w.generate()
    assert w.error.startswith("Rate limited by Magic Hour") and w.status == "failed"
    w.close()


# ---- gallery mode: one job per line, through generate_many --------------------------------


async def test_gallery_makes_one_job_per_line_with_its_own_ledger(make, server: Server, tmp_path):
    w = make(prompt="a red kite\n\n  a blue kite \na green kite\n", output_format="gif")
    w.gallery_mode = True
    results = await w.generate()
    assert w.status == "complete" and w.progress == 100 and not w.running and w.error == ""
    assert [c["prompt"] for c in w.gallery] == ["a red kite", "a blue kite", "a green kite"]
    assert {c["status"] for c in w.gallery} == {"complete"}
    assert len(results.completed) == 3 and results.counts.credits == 150
    folder = Path(results.ledger_path).parent
    assert folder.parent == tmp_path and folder.name.startswith("gallery-")
    assert sorted(p.suffix for p in folder.iterdir() if p.suffix) == [
        ".gif",
        ".gif",
        ".gif",
        ".lock",
        ".sqlite3",
    ]
    assert str(folder) in w.notice and "3 of 3 complete" in w.summary
    assert w.credits_charged == 150 and server.stats()["creates"] == 3
    sent: list[dict] = []
    w.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    w._on_front_end_msg(w, {"type": "media", "key": w.gallery[1]["key"], "req": "g"}, [])
    assert sent and sent[0]["type"] == "media" and sent[0]["mime"] == "image/gif"
    # saved notebooks show a contact sheet of the gallery, in the static output
    assert base64.b64decode(w._still["image/png"])[:4] == b"\x89PNG"
    assert f'data-magicgif-still="{w.still_id}"' in w._still["text/html"]


async def test_a_bad_gallery_line_is_named_and_nothing_is_sent(make, server: Server):
    w = make(prompt="fine\n" + "x" * 501 + "\nalso fine")
    w.gallery_mode = True
    with pytest.raises(ValidationError, match="line 2"):
        w.generate()
    assert "line 2" in w.error and not w.running and w.gallery == []
    w.prompt = "\n".join(f"kite {i}" for i in range(49))
    with pytest.raises(ValidationError, match="at most 48"):
        w.generate()
    assert sent_nothing(server)


async def test_a_failed_gallery_card_says_why_and_the_rest_complete(make, server: Server):
    server.fault(route="create", outcome="error")
    w = make(prompt="one\ntwo\nthree", gallery_concurrency=1)
    w.gallery_mode = True
    await w.generate()
    assert [c["status"] for c in w.gallery] == ["failed", "complete", "complete"]
    assert "The job failed" in w.gallery[0]["error"] and w.gallery[0]["project_id"]
    assert w.status == "failed" and "1 of 3 did not complete" in w.error


async def test_canceling_a_gallery_says_how_to_collect_the_running_jobs(make, server: Server):
    server.reset(render_seconds=30)
    w = make(prompt="slow one\nslow two\nslow three")
    w.gallery_mode = True
    task = w.generate()
    while server.stats()["creates"] < 3:
        await asyncio.sleep(0.01)
    while sum(1 for c in w.gallery if c["project_id"]) < 3:
        await asyncio.sleep(0.01)
    w.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert w.status == "canceled" and "3 job(s) already made" in w.notice
    # tests/test_widget_money.py runs this command as printed and counts the creates
    assert "magicgif batch --resume " in w.notice and "gallery-" in w.notice
    assert server.stats()["creates"] == 3


async def test_generate_uses_the_settings_sent_with_it(make, server: Server):
    """A state update held back by the widget manager must not make a job with stale input:
    the front end sends the form's values with the request itself."""
    w = make(prompt="stale prompt", output_format="gif")
    settings = {"prompt": "a fresh fox", "name": "", "output_format": "mp4", "gallery_mode": False}
    w._on_front_end_msg(w, {"type": "generate", "settings": settings}, [])
    result = await w.generate()  # the running job
    assert w.prompt == "a fresh fox" and result.path.suffix == ".mp4"
    job = next(iter(server.emulator.store.jobs.values()))
    assert job.prompt == "a fresh fox" and job.output_format == "mp4"
    w._on_front_end_msg(w, {"type": "generate", "settings": {"output_format": "png"}}, [])
    await w.generate()
    assert w.output_format == "mp4"  # a value the API does not take is ignored


def test_a_view_s_hello_is_answered_so_it_knows_the_kernel_has_its_widget(make):
    """widget.js sends a hello when it draws; the kernel answers at once. A view that gets no
    answer within ``unanswered["after_ms"]`` shows ``unanswered["text"]`` (e2e: after reload)."""
    from magicgif_widget.widget import not_loaded

    w = make(prompt="a cat")
    sent: list[object] = []
    w.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    w._on_front_end_msg(w, {"type": "hello"}, [])
    assert sent == [{"type": "hello"}]
    assert w.unanswered == {
        "after_ms": not_loaded.UNANSWERED_AFTER_MS,
        "text": not_loaded.UNANSWERED,
    }
    assert "run this cell again" in w.unanswered["text"]
