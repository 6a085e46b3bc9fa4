"""HTML exported by nbconvert, opened in Debian's Chromium with no kernel and no network: a
notebook saved after a GIF was made, and every notebook under ``notebooks/``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import PROJECT_ROOT, NotebookPage
from .test_hosts import JS_IMG_DECODED, lab_widget, setup, shots, wait_true

pytestmark = pytest.mark.timeout(240)


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
