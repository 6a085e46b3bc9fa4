"""Accessibility in real hosts: axe-core finds no serious or critical violation in the widget
after a generation (JupyterLab light and dark, Notebook 7, marimo), and a keyboard-only run
works, its status reaching screen readers once per change, not once per tick."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from magicgif_widget.emulator.server import free_port

from .conftest import NotebookPage
from .test_hosts import JS_IMG_DECODED, lab_widget, setup, wait_true
from .test_hosts_apps import MARIMO_NOTEBOOK, Served

pytestmark = pytest.mark.timeout(240)
SERIOUS = {"serious", "critical"}


def axe_violations(root: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations inside ``root`` (shadow roots included)."""
    page = root.page
    page.evaluate(Axe().axe_script)
    found = root.element_handle().evaluate(
        "el => axe.run(el, {resultTypes: ['violations']}).then(r => r.violations)"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:120] for n in v["nodes"]]}
        for v in found
        if v["impact"] in SERIOUS
    ]


def generate_once(root: Any) -> None:
    root.get_by_label("Prompt", exact=True).fill("A lighthouse at dusk")
    root.get_by_role("button", name="Generate", exact=True).click()
    wait_true(root.locator(".mg-stage img"), JS_IMG_DECODED)
    expect(root.locator(".mg-item")).to_have_count(1)


@pytest.mark.parametrize(
    ("jupyter_app", "theme"),
    [("lab", "light"), ("lab", "dark"), ("notebook", "light")],
    indirect=["jupyter_app"],
)
def test_axe_finds_nothing_serious_in_jupyter(
    notebook_page: NotebookPage, jupyter_app, theme: str, tmp_path: Path
):
    cell = setup("0.3") + f"GifWidget(download_directory={str(tmp_path)!r})"
    notebook_page.open([cell], theme=theme)
    notebook_page.run_all()
    root = lab_widget(notebook_page)
    generate_once(root)
    assert axe_violations(root) == []


def test_axe_finds_nothing_serious_in_marimo(browser: Any, tmp_path: Path):
    notebook = tmp_path / "app.py"
    notebook.write_text(MARIMO_NOTEBOOK.format(render="0.3", out=str(tmp_path / "out")))
    port = free_port()
    args = [sys.executable, "-m", "marimo", "run", str(notebook), "--headless", "--no-token"]
    served = Served([*args, "--port", str(port)], tmp_path, port)
    context = browser.new_context(viewport={"width": 1200, "height": 1400})
    try:
        page = context.new_page()
        page.goto(served.url)
        root = page.locator(".magicgif").first
        expect(root).to_be_visible(timeout=30_000)
        generate_once(root)
        assert axe_violations(root) == []
    finally:
        context.close()
        served.stop()


JS_WATCH_LIVE = """root => {
  // Count what a screen reader would hear: changes inside aria-live regions of the widget.
  window.__announced = [];
  const live = [...root.querySelectorAll('[aria-live], [role=status], [role=alert]')];
  for (const region of live) {
    new MutationObserver(() => window.__announced.push(region.textContent))
      .observe(region, {childList: true, characterData: true, subtree: true});
  }
  window.__ticks = 0;
  const elapsed = root.querySelector('.mg-elapsed');
  new MutationObserver(() => { window.__ticks += 1; })
    .observe(elapsed, {childList: true, characterData: true, subtree: true});
  return live.length;
}"""


@pytest.mark.parametrize("jupyter_app", ["lab"], indirect=True)
def test_a_keyboard_only_run(notebook_page: NotebookPage, jupyter_app, tmp_path: Path):
    """Tab to the prompt, type, Ctrl+Enter to generate, Tab to Cancel, Enter; then a whole
    job by keyboard, announced a few times, while the elapsed time ticks silently."""
    notebook_page.open([setup() + f"GifWidget(download_directory={str(tmp_path)!r})"])
    notebook_page.run_all()
    root = lab_widget(notebook_page)
    page = notebook_page.page
    focused = "() => document.activeElement && (document.activeElement.getAttribute('aria-label')"
    focused += " || (document.activeElement.labels && document.activeElement.labels[0]"
    focused += (
        " && document.activeElement.labels[0].textContent) || document.activeElement.textContent)"
    )

    root.locator(".mg-title").click()  # the widget's heading: not focusable itself
    passed = []
    for _ in range(12):  # past the cell's own toolbar, if it comes first
        page.keyboard.press("Tab")
        passed.append(page.evaluate(focused))
        if passed[-1] == "Prompt":
            break
    assert passed[-1] == "Prompt", passed
    page.keyboard.type("A kite on a windy day")
    regions = root.element_handle().evaluate(JS_WATCH_LIVE)
    assert regions >= 3  # status, notices, alerts
    page.keyboard.press("Control+Enter")
    expect(root.locator(".mg-status")).to_contain_text("Queued", timeout=5_000)
    order = []
    for _ in range(6):
        page.keyboard.press("Tab")
        order.append(page.evaluate(focused))
        if order[-1] == "Cancel":
            break
    assert order == ["Format", "Name", "Cancel"], order  # Generate and the gallery box are off
    page.keyboard.press("Enter")
    expect(root.locator(".mg-status")).to_contain_text("Canceled", timeout=5_000)
    expect(root.get_by_role("status").filter(has_text="Sandbox job")).to_be_visible()
    # Focus moved back to Generate; Enter runs a whole job.
    assert page.evaluate(focused) == "Generate"
    page.keyboard.press("Enter")
    wait_true(root.locator(".mg-stage img"), JS_IMG_DECODED, timeout=40)
    time.sleep(0.3)
    announced = page.evaluate("() => window.__announced")
    ticks = page.evaluate("() => window.__ticks")
    assert ticks > 20, ticks  # the elapsed time moved every 100 ms…
    labels = [a.strip() for a in announced if a.strip()]
    assert len(labels) <= 14, labels  # …while screen readers heard each phase once
    assert any("Canceled" in a for a in labels) and any("Complete" in a for a in labels), labels
