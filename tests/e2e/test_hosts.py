"""The widget in the Jupyter hosts the README names, each in Debian's Chromium: JupyterLab
and Notebook 7, JupyterLab without binary buffers (what Colab's widget manager delivers), and
HTML exported by nbconvert with no kernel and no network (marimo and Voilà:
``test_hosts_apps.py``, a module of its own so the two run beside these).

Each live host cancels a job, then generates a GIF and an MP4 on the sandbox, and checks that
each really decoded (``img.naturalWidth > 0``, ``video.readyState >= 2``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import PROJECT_ROOT, BufferStripper, NotebookPage

pytestmark = pytest.mark.timeout(240)
RENDER = "3"  # sandbox seconds: long enough to press Cancel, short enough for CI


def setup(render: str = RENDER) -> str:
    """A cell's first lines: the sandbox's render time (read when it starts), the import."""
    return (
        f"import os\nos.environ['MAGICGIF_SANDBOX_RENDER_SECONDS'] = '{render}'\n"
        "from magicgif_widget import GifWidget\n"
    )


JS_IMG_DECODED = "img => img.complete && img.naturalWidth > 0"
JS_VIDEO_READY = "v => v.readyState >= 2 && v.videoWidth > 0 && !v.error"


def shots() -> Path:
    """Where screenshots go: $MAGICGIF_SCREENSHOTS (docs/screenshots/ to refresh the README's),
    else a temporary directory."""
    path = Path(
        os.environ.get("MAGICGIF_SCREENSHOTS") or Path(tempfile.gettempdir(), "magicgif-shots")
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


def wait_true(locator: Any, js: str, timeout: float = 30.0) -> float:
    """Seconds until ``js`` holds for ``locator``'s element (which must become visible)."""
    start = time.monotonic()
    expect(locator).to_be_visible(timeout=timeout * 1000)
    while not locator.evaluate(js):
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{js} never held for {locator}")
        time.sleep(0.05)
    return time.monotonic() - start


def exercise(root: Any) -> dict[str, float]:
    """Cancel a job, then a GIF and an MP4; returns seconds from Generate to decoded media."""
    prompt = root.get_by_label("Prompt", exact=True)
    fmt = root.get_by_label("Format", exact=True)
    generate = root.get_by_role("button", name="Generate", exact=True)
    status = root.locator(".mg-status")

    prompt.fill("a job to cancel")
    generate.click()
    expect(status).to_contain_text(re.compile("Queued|Rendering"), timeout=10_000)
    root.get_by_role("button", name="Cancel", exact=True).click()
    expect(status).to_contain_text("Canceled", timeout=5_000)
    expect(root.locator(".mg-notice")).to_contain_text("Canceled")
    expect(generate).to_be_enabled()

    seconds = {}
    for kind, selector, ready in (
        ("gif", ".mg-stage img", JS_IMG_DECODED),
        ("mp4", ".mg-stage video", JS_VIDEO_READY),
    ):
        prompt.fill(f"a paper boat, as {kind}")
        fmt.select_option(kind)
        generate.click()
        try:
            seconds[kind] = wait_true(root.locator(selector), ready, timeout=40)
        except AssertionError as exc:  # say what the widget showed instead
            raise AssertionError(
                f"no decoded {kind}; the widget read: {root.inner_text()}"
            ) from exc
        expect(status).to_contain_text("Complete")
    expect(root.locator(".mg-item")).to_have_count(2)
    for thumb in range(2):  # history thumbnails came through the same media path
        media = root.locator(".mg-thumb").nth(thumb).locator("img, video")
        expect(media).to_have_count(1, timeout=10_000)
    return seconds


def open_tall(notebook_page: NotebookPage, cells: list[str], **kwargs: Any) -> None:
    """Open in a viewport tall enough for the whole widget (for its screenshot)."""
    notebook_page.viewport = (1280, 1300)
    notebook_page.open(cells, **kwargs)


def lab_widget(notebook_page: NotebookPage) -> Any:
    root = notebook_page.output_locator(0).locator(".magicgif")
    expect(root).to_be_visible()
    return root


# --- Jupyter hosts ------------------------------------------------------------------------


@pytest.mark.parametrize("jupyter_app", ["lab", "notebook"], indirect=True)
def test_jupyter_with_binary_buffers(notebook_page: NotebookPage, jupyter_app, tmp_path: Path):
    open_tall(notebook_page, [setup() + f"GifWidget(download_directory={str(tmp_path)!r})"])
    notebook_page.run_all()
    root = lab_widget(notebook_page)
    seconds = exercise(root)
    print(f"{jupyter_app.app} with buffers: Generate to visible {seconds}")
    # The static output beside the widget is hidden while the live view is on the page.
    still = notebook_page.output_locator(0).locator("[data-magicgif-still]")
    expect(still).to_have_count(1)
    expect(still).to_be_hidden()
    time.sleep(0.3)
    root.screenshot(path=str(shots() / f"host-{jupyter_app.app}.png"))
    assert notebook_page.errors() == []


@pytest.mark.parametrize("jupyter_app", ["lab"], indirect=True)
def test_a_host_that_drops_binary_buffers(notebook_page: NotebookPage, jupyter_app, tmp_path: Path):
    """Colab's widget manager delivers comm messages without their buffers; the view notices
    the first empty chunk and asks for base64 text from then on."""
    stripper = BufferStripper()
    open_tall(
        notebook_page,
        [setup() + f"GifWidget(download_directory={str(tmp_path)!r})"],
        before_load=stripper.install,
    )
    notebook_page.run_all()
    root = lab_widget(notebook_page)
    seconds = exercise(root)
    print(f"lab without buffers: Generate to visible {seconds}")
    assert stripper.stripped >= 1, "no buffer was ever dropped: the host was not buffer-less"
    time.sleep(0.3)
    root.screenshot(path=str(shots() / "host-lab-no-buffers.png"))
    assert notebook_page.errors() == []


@pytest.mark.parametrize("jupyter_app", ["lab"], indirect=True)
def test_media_that_never_arrives_offers_a_retry(
    notebook_page: NotebookPage, jupyter_app, tmp_path: Path
):
    """A kernel that stops answering media requests: a clear message and a Retry button,
    never an empty box; Retry fetches it once the kernel answers again."""
    cell = (
        setup("0.3")
        + "import magicgif_widget.widget as mw\n"
        + f"w = GifWidget(download_directory={str(tmp_path)!r})\n"
        + "w.limits = {**w.limits, 'media_timeout_ms': 1500}\n"
        + "serve, mw.GifWidget._send_media = mw.GifWidget._send_media, lambda *a, **k: None\n"
        + "w"
    )
    notebook_page.open([cell, "mw.GifWidget._send_media = serve"])
    notebook_page.run_cell_and_wait(0)
    root = lab_widget(notebook_page)
    root.get_by_label("Prompt", exact=True).fill("a shy owl")
    root.get_by_role("button", name="Generate", exact=True).click()
    box = root.locator(".mg-unavailable")
    expect(box).to_contain_text("did not arrive from the kernel within 2 s", timeout=20_000)
    expect(box.get_by_role("button", name="Retry")).to_be_visible()
    root.screenshot(path=str(shots() / "widget-media-retry-lab.png"))
    notebook_page.run_cell_and_wait(1)
    box.get_by_role("button", name="Retry").click()
    wait_true(root.locator(".mg-stage img"), JS_IMG_DECODED)
    expect(root.locator(".mg-unavailable")).to_have_count(0)


# --- exported HTML ------------------------------------------------------------------------


def open_offline(browser: Any, html: Path) -> tuple[Any, Any, list[str]]:
    """Open ``html`` from disk with every network request refused (nor CDN, nor kernel)."""
    context = browser.new_context(viewport={"width": 1200, "height": 1400})
    refused: list[str] = []

    def guard(route: Any) -> None:
        if route.request.url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.goto(html.as_uri(), wait_until="load")
    return context, page, refused


def export_html(notebook: Path, out: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "html",
            str(notebook),
            "--output-dir",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out / f"{notebook.stem}.html"


@pytest.mark.parametrize("jupyter_app", ["lab"], indirect=True)
def test_html_export_of_a_saved_notebook_shows_the_result(
    notebook_page: NotebookPage, jupyter_app, browser: Any, tmp_path: Path
):
    notebook_page.open([setup("0.3") + f"GifWidget(download_directory={str(tmp_path)!r})"])
    notebook_page.run_all()
    root = lab_widget(notebook_page)
    root.get_by_label("Prompt", exact=True).fill("A lighthouse at dusk")
    root.get_by_role("button", name="Generate", exact=True).click()
    wait_true(root.locator(".mg-stage img"), JS_IMG_DECODED)
    notebook_page.command("docmanager:save")
    saved = jupyter_app.root_dir / notebook_page.path
    deadline = time.monotonic() + 10
    while "data:image/gif;base64" not in saved.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    html = export_html(saved, tmp_path / "html")
    context, page, _refused = open_offline(browser, html)
    try:
        image = page.locator("[data-magicgif-still] img")
        expect(image).to_have_count(1)
        wait_true(image, JS_IMG_DECODED)
        assert image.get_attribute("alt") == "Generated animation: A lighthouse at dusk"
        page.locator("[data-magicgif-still]").screenshot(path=str(shots() / "host-html-export.png"))
    finally:
        context.close()


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in (PROJECT_ROOT / "notebooks").glob("*.ipynb"))
)
def test_the_committed_notebooks_export_with_their_pictures(
    browser: Any, tmp_path: Path, name: str
):
    """Each notebook under notebooks/, as nbconvert exports it: every picture decodes with no
    kernel and no network, the widget's result among them (the notebooks carry saved widget
    state, the case where nbconvert draws nothing but the widget view from its output)."""
    html = export_html(PROJECT_ROOT / "notebooks" / f"{name}.ipynb", tmp_path)
    context, page, refused = open_offline(browser, html)
    try:
        images = page.locator(".jp-OutputArea-output img")
        count = images.count()
        assert count >= 1, f"{name}: the exported page shows no picture"
        for index in range(count):
            assert images.nth(index).evaluate(JS_IMG_DECODED), f"{name}: image {index} is broken"
        nb = json.loads((PROJECT_ROOT / "notebooks" / f"{name}.ipynb").read_text())
        widgets = sum(
            "application/vnd.jupyter.widget-view+json" in o.get("data", {})
            and "magicgif" in json.dumps(nb["metadata"].get("widgets", {}))
            for c in nb["cells"]
            for o in c.get("outputs", [])
        )
        if widgets:
            # The page wanted the widget manager from a CDN and was refused: what shows is ours.
            assert any("jupyter-widgets" in url or "unpkg" in url for url in refused), refused
            stills = page.locator("[data-magicgif-still] img").count()
            assert stills >= 1, f"{name}: no widget result on the exported page"
    finally:
        context.close()
