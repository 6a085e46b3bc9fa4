"""GifWidget in a real browser: JupyterLab 4 and Notebook 7, driven by Playwright in Chromium."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ..conftest import Server
from .conftest import NotebookPage

pytestmark = pytest.mark.timeout(180)
BOTH_APPS = pytest.mark.parametrize("jupyter_app", ["lab", "notebook"], indirect=True)
CANARY = "mhk_live_CANARY_e2e_4242"


def widget_cell(server: Server, tmp_path: Path, journal: Path | None = None) -> str:
    """A widget on the emulator, with a job journal of the test's own (``journal``, else one
    beside ``tmp_path``): a job another test left running is not this one's duplicate."""
    data = journal or tmp_path.parent / f"{tmp_path.name}-journal"
    return (
        f"import os\nos.environ['MAGICGIF_DATA_DIR'] = {str(data)!r}\n"
        "from magicgif_widget import Client, GifWidget, PollPolicy\n"
        f"client = Client(base_url={server.url!r}, poll=PollPolicy(interval=0.2))\n"
        f"w = GifWidget(client=client, download_directory={str(tmp_path)!r})\n"
        "w"
    )


def widget(page: NotebookPage):
    root = page.output_locator(0).locator(".magicgif")
    expect(root).to_be_visible()
    return root


def progress_value(root) -> int:
    return int(root.get_by_role("progressbar").get_attribute("aria-valuenow") or 0)


@BOTH_APPS
def test_generate_a_gif_with_a_live_progress_bar(
    notebook_page: NotebookPage, jupyter_app, server: Server, tmp_path: Path
):
    server.reset(render_seconds=3.0)
    notebook_page.open([widget_cell(server, tmp_path)])
    notebook_page.run_all()
    root = widget(notebook_page)
    # Accessible names screen readers (and these tests) rely on.
    expect(root.get_by_role("textbox", name="Prompt", exact=True)).to_have_count(1)
    expect(root.get_by_role("combobox", name="Format", exact=True)).to_have_count(1)
    expect(root.get_by_role("textbox", name="Name", exact=True)).to_have_count(1)
    root.get_by_label("Prompt", exact=True).fill("A paper boat on a stormy sea")
    root.get_by_label("Format", exact=True).select_option("gif")
    root.get_by_label("Name", exact=True).fill("boat")
    root.get_by_role("button", name="Generate").dblclick()  # a double click makes one job

    bar = root.get_by_role("progressbar")
    expect(bar).to_be_visible()
    expect(root.get_by_role("button", name="Generate")).to_be_disabled()
    expect(root.locator(".mg-status")).to_contain_text("Rendering", timeout=10_000)
    first = progress_value(root)
    time.sleep(0.8)
    second = progress_value(root)
    assert 0 < first < second < 100, (first, second)

    image = root.locator(".mg-stage img")
    expect(image).to_be_visible(timeout=20_000)
    loaded = image.evaluate("img => img.complete && img.naturalWidth > 0")
    assert loaded
    assert progress_value(root) == 100
    expect(root.locator(".mg-status")).to_contain_text("Complete")
    assert server.stats()["creates"] == 1
    job = next(iter(server.emulator.store.jobs.values()))
    assert job.prompt == "A paper boat on a stormy sea" and job.name == "boat"
    expect(root.locator(".mg-credits")).to_have_text("50 credits charged")
    # Download saves the file through the browser, byte for byte.
    with notebook_page.page.expect_download() as info:
        root.get_by_role("button", name=re.compile("^Download ")).click()
    saved = Path(info.value.path())
    assert info.value.suggested_filename == f"{job.id}.gif"
    assert saved.read_bytes() == (tmp_path / f"{job.id}.gif").read_bytes()
    # The history strip holds the result; Reuse puts its settings back.
    expect(root.locator(".mg-item")).to_have_count(1)
    root.get_by_label("Prompt", exact=True).fill("something else")
    root.get_by_role("button", name="Reuse: A paper boat on a stormy sea").click()
    expect(root.get_by_label("Prompt", exact=True)).to_have_value("A paper boat on a stormy sea")
    assert notebook_page.errors() == []


@pytest.mark.parametrize("jupyter_app", ["lab"], indirect=True)
@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_video_formats_play_inline(
    notebook_page: NotebookPage, jupyter_app, server: Server, tmp_path: Path, fmt: str
):
    server.reset(render_seconds=0.5)
    notebook_page.open([widget_cell(server, tmp_path)])
    notebook_page.run_all()
    root = widget(notebook_page)
    root.get_by_label("Prompt", exact=True).fill(f"a {fmt} of fireflies")
    root.get_by_label("Format", exact=True).select_option(fmt)
    root.get_by_role("button", name="Generate").click()
    video = root.locator(".mg-stage video")
    expect(video).to_be_visible(timeout=20_000)
    deadline = time.monotonic() + 10
    state: dict = {}
    while time.monotonic() < deadline:
        state = video.evaluate(
            "v => ({ready: v.readyState, paused: v.paused, t: v.currentTime, w: v.videoWidth,"
            " error: v.error && v.error.code, loop: v.loop, muted: v.muted})"
        )
        if state["t"] > 0.2:
            break
        time.sleep(0.2)
    assert state["error"] is None and state["w"] > 0 and not state["paused"], state
    assert state["t"] > 0.2 and state["loop"] and state["muted"], state


@BOTH_APPS
def test_cancel_tells_what_became_of_the_job(
    notebook_page: NotebookPage, jupyter_app, server: Server, tmp_path: Path
):
    server.reset(render_seconds=60)
    notebook_page.open([widget_cell(server, tmp_path)])
    notebook_page.run_all()
    root = widget(notebook_page)
    root.get_by_label("Prompt", exact=True).fill("never finishes")
    root.get_by_role("button", name="Generate").click()
    expect(root.locator(".mg-status")).to_contain_text(re.compile("Queued|Rendering"))
    root.get_by_role("button", name="Cancel").click()
    expect(root.locator(".mg-status")).to_contain_text("Canceled", timeout=3_000)
    expect(root.locator(".mg-notice")).to_contain_text("keeps running")
    expect(root.get_by_role("button", name="Generate")).to_be_enabled()
    project_id = next(iter(server.emulator.store.jobs))
    expect(root.locator(".mg-notice")).to_contain_text(project_id)
    assert server.stats()["creates"] == 1


@pytest.mark.parametrize("jupyter_app", ["lab"], indirect=True)
def test_errors_show_in_the_alert_area(
    notebook_page: NotebookPage, jupyter_app, server: Server, tmp_path: Path
):
    notebook_page.open([widget_cell(server, tmp_path)])
    notebook_page.run_all()
    root = widget(notebook_page)
    # An empty prompt: an inline error, nothing sent.
    root.get_by_role("button", name="Generate").click()
    expect(root.get_by_role("alert")).to_contain_text("must not be empty")
    assert set(server.stats()["requests"]) <= {"account"}  # the balance read, nothing else
    # A job that fails on the server.
    server.fault(route="create", outcome="error")
    root.get_by_label("Prompt", exact=True).fill("doomed")
    root.get_by_role("button", name="Generate").click()
    expect(root.get_by_role("alert")).to_contain_text("The job failed", timeout=15_000)
    expect(root.get_by_role("alert")).to_contain_text("credits refunded")
    expect(root.locator(".mg-status")).to_contain_text("Failed")
    # Out of credits, after the emulator's balance runs dry.
    server.emulator.store.initial_credits = 0
    root.get_by_role("button", name="Generate").click()
    expect(root.get_by_role("alert")).to_contain_text("Not enough credits", timeout=10_000)


@BOTH_APPS
def test_sandbox_badge_and_dark_theme_screenshot(
    notebook_page: NotebookPage, jupyter_app, tmp_path: Path
):
    cells = [
        "import os\nos.environ['MAGICGIF_SANDBOX_RENDER_SECONDS'] = '0.5'\n"
        "from magicgif_widget import GifWidget\n"
        f"GifWidget(prompt='Cute dancing cat, pixel art', download_directory={str(tmp_path)!r})"
    ]
    notebook_page.open(cells, theme="dark")
    notebook_page.run_all()
    root = widget(notebook_page)
    expect(root.locator(".mg-badge")).to_have_text("sandbox")
    root.get_by_label("Prompt", exact=True).press("Control+Enter")
    expect(root.locator(".mg-stage img")).to_be_visible(timeout=20_000)
    expect(root.locator(".mg-item")).to_have_count(1)
    time.sleep(0.3)
    shot = root.screenshot(path=str(_shots(tmp_path) / f"widget-dark-{jupyter_app.app}.png"))
    assert len(shot) > 10_000


@pytest.mark.parametrize("jupyter_app", ["lab"], indirect=True)
def test_light_theme_screenshot(notebook_page: NotebookPage, jupyter_app, tmp_path: Path):
    cells = [
        "import os\nos.environ['MAGICGIF_SANDBOX_RENDER_SECONDS'] = '0.5'\n"
        "from magicgif_widget import GifWidget\n"
        f"GifWidget(prompt='A lighthouse at dusk', download_directory={str(tmp_path)!r})"
    ]
    notebook_page.open(cells)
    notebook_page.run_all()
    root = widget(notebook_page)
    root.get_by_role("button", name="Generate").click()
    expect(root.locator(".mg-stage img")).to_be_visible(timeout=20_000)
    time.sleep(0.3)
    shot = root.screenshot(path=str(_shots(tmp_path) / "widget-light-lab.png"))
    assert len(shot) > 10_000


@pytest.mark.parametrize("jupyter_app", ["lab"], indirect=True)
def test_saved_notebook_holds_no_token(
    notebook_page: NotebookPage, jupyter_app, server: Server, tmp_path: Path
):
    cell = (
        "import os\nfrom magicgif_widget import Client, GifWidget, PollPolicy\n"
        f"client = Client(base_url={server.url!r}, token=os.environ['MG_T'],"
        " poll=PollPolicy(interval=0.2))\n"
        f"w = GifWidget(client=client, download_directory={str(tmp_path)!r})\nw"
    )
    notebook_page.open([cell])
    # The token reaches the kernel through its environment only, as a user would set it.
    notebook_page.page.evaluate(
        "code => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
        ".requestExecute({code}).done",
        f"import os; os.environ['MG_T'] = {CANARY!r}",
    )
    notebook_page.run_all()
    root = widget(notebook_page)
    root.get_by_label("Prompt", exact=True).fill("a secret-keeping owl")
    root.get_by_role("button", name="Generate").click()
    expect(root.locator(".mg-stage img")).to_be_visible(timeout=20_000)
    assert CANARY not in root.inner_html()
    notebook_page.command("docmanager:save")
    saved = jupyter_app.root_dir / notebook_page.path
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "image/png" not in saved.read_text():
        time.sleep(0.2)
    text = saved.read_text()
    assert "image/png" in text, "the static fallback image should be saved with the output"
    assert CANARY not in text


def _shots(default: Path) -> Path:
    """Where screenshots go: $MAGICGIF_SCREENSHOTS (to look at them), else the test's tmp dir."""
    import os

    path = Path(os.environ.get("MAGICGIF_SCREENSHOTS") or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.parametrize("jupyter_app", ["lab"], indirect=True)
def test_two_views_of_one_widget_and_chunked_big_media(
    notebook_page: NotebookPage, jupyter_app, server: Server, tmp_path: Path
):
    """One model shown twice; a 10 MB output crosses in several binary chunks to both views."""
    big = tmp_path / "big.gif"
    _big_gif(big)
    assert big.stat().st_size > 9_000_000
    server.reset(render_seconds=0.3)
    server.emulator.output_file = big
    try:
        notebook_page.open([widget_cell(server, tmp_path / "out"), "w"])
        notebook_page.run_all()
        first = widget(notebook_page)
        second = notebook_page.output_locator(1).locator(".magicgif")
        expect(second).to_be_visible()
        first.get_by_label("Prompt", exact=True).fill("a very large animation")
        first.get_by_role("button", name="Generate").click()
        for view in (first, second):
            image = view.locator(".mg-stage img")
            expect(image).to_be_visible(timeout=30_000)
            assert image.evaluate("img => img.complete && img.naturalWidth > 0")
        size = first.locator(".mg-stage img").evaluate(
            "img => fetch(img.src).then(r => r.blob()).then(b => b.size)"
        )
        assert size == big.stat().st_size
    finally:
        server.emulator.output_file = None


def _big_gif(path: Path) -> None:
    """An animated GIF of about 10 MB: noisy frames compress badly."""
    import random

    from PIL import Image

    rng = random.Random(7)
    frames = [
        Image.frombytes("L", (600, 600), rng.randbytes(600 * 600)).convert("P") for _ in range(30)
    ]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=80, loop=0)


@pytest.mark.parametrize("jupyter_app", ["lab"], indirect=True)
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_gallery_from_several_prompts(
    notebook_page: NotebookPage, jupyter_app, server: Server, tmp_path: Path, theme: str
):
    server.reset(render_seconds=1.0)
    notebook_page.open([widget_cell(server, tmp_path)], theme=theme)
    notebook_page.run_all()
    root = widget(notebook_page)
    root.get_by_label("One per line").check()
    expect(root.get_by_role("button", name="Generate gallery")).to_be_visible()
    prompt = root.get_by_label("Prompt", exact=True)
    prompt.fill("A red kite\nA blue kite\n\nA green kite\nA paper boat")
    expect(root.locator(".mg-count")).to_have_text("4 prompts")
    root.get_by_role("button", name="Generate gallery").click()
    cards = root.get_by_role("list", name="Gallery").get_by_role("listitem")
    expect(cards).to_have_count(4)
    expect(root.locator(".mg-status")).to_contain_text("running", timeout=10_000)
    images = root.locator(".mg-gallery img")
    expect(images).to_have_count(4, timeout=30_000)
    for index in range(4):
        assert images.nth(index).evaluate("img => img.complete && img.naturalWidth > 0")
    expect(root.locator(".mg-status")).to_contain_text("4 of 4 complete")
    expect(root.locator(".mg-account")).to_have_text(
        "This gallery: 4 GIFs cost 200 credits · 999,800 credits left"
    )
    expect(root.get_by_role("button", name="Generate gallery")).to_be_enabled()
    assert progress_value(root) == 100
    assert server.stats()["creates"] == 4
    assert sorted(job.prompt for job in server.emulator.store.jobs.values()) == [
        "A blue kite",
        "A green kite",
        "A paper boat",
        "A red kite",
    ]
    expect(cards.nth(0)).to_contain_text("A red kite")
    with notebook_page.page.expect_download() as info:
        cards.nth(2).get_by_role("button", name=re.compile("^Download ")).click()
    assert info.value.suggested_filename.endswith(".gif")
    time.sleep(0.3)
    shot = root.screenshot(path=str(_shots(tmp_path) / f"widget-gallery-{theme}-lab.png"))
    assert len(shot) > 10_000
    assert notebook_page.errors() == []


@pytest.mark.parametrize("jupyter_app", ["lab"], indirect=True)
def test_batch_progress_bar_is_a_widget_in_the_notebook(
    notebook_page: NotebookPage, jupyter_app, tmp_path: Path
):
    cells = [
        "import os\nos.environ['MAGICGIF_SANDBOX_RENDER_SECONDS'] = '0.5'\n"
        "import warnings\nwarnings.simplefilter('ignore')\n"
        "from magicgif_widget import Client\n"
        "results = Client().v1.ai_gif_generator.generate_many(\n"
        "    ['a red kite', 'a blue kite', 'a green kite'],\n"
        f"    download_directory={str(tmp_path / 'batch')!r}, concurrency=2)\n"
        "print(results.counts.describe())"
    ]
    notebook_page.open(cells)
    notebook_page.run_all()
    outputs = notebook_page.output_locator(0)
    expect(outputs).to_have_count(2, timeout=30_000)
    expect(outputs.nth(1)).to_contain_text("3 of 3 complete, sandbox, no credits")
    bar = outputs.nth(0)
    expect(bar.locator(".widget-hprogress")).to_have_count(1)  # tqdm.notebook: an ipywidget
    expect(bar).to_contain_text("3/3")
    expect(bar).to_contain_text("3 done, 0 failed, 0 running, sandbox, no credits")
    shot = bar.screenshot(path=str(_shots(tmp_path) / "batch-bar-lab.png"))
    assert len(shot) > 2_000
    assert notebook_page.errors() == []


@pytest.mark.parametrize("jupyter_app", ["lab"], indirect=True)
def test_a_failed_gallery_card_says_why(
    notebook_page: NotebookPage, jupyter_app, server: Server, tmp_path: Path
):
    server.reset(render_seconds=0.5)
    server.fault(route="create", outcome="error")
    notebook_page.open([widget_cell(server, tmp_path)], theme="dark")
    notebook_page.run_all()
    root = widget(notebook_page)
    root.get_by_label("One per line").check()
    root.get_by_label("Prompt", exact=True).fill("A stormy sea\nA calm lake\nA frozen river")
    root.get_by_role("button", name="Generate gallery").click()
    cards = root.get_by_role("list", name="Gallery").get_by_role("listitem")
    expect(root.locator(".mg-gallery img")).to_have_count(2, timeout=30_000)
    failed = root.locator('.mg-card[data-status="failed"]')  # whichever create came first
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("The job failed")
    expect(cards).to_have_count(3)
    expect(root.get_by_role("alert")).to_contain_text("1 of 3 did not complete")
    expect(root.locator(".mg-status")).to_contain_text("2 of 3 complete, 1 failed")
    time.sleep(0.3)
    shot = root.screenshot(path=str(_shots(tmp_path) / "widget-gallery-failed-dark-lab.png"))
    assert len(shot) > 10_000
