"""The widget in the Jupyter hosts the README names, each in Debian's Chromium: JupyterLab
and Notebook 7, and JupyterLab without binary buffers (what Colab's widget manager delivers).
HTML exported by nbconvert is in ``test_host_exports.py``, marimo and Voilà in
``test_hosts_apps.py``: modules of their own, so they run beside these.

Each live host cancels a job, then generates a GIF and an MP4 on the sandbox, and checks that
each really decoded (``img.naturalWidth > 0``, ``video.readyState >= 2``).
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import BufferStripper, NotebookPage

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
