"""Smoke tests of the e2e harness itself: real server, real browser, real widgets."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import NotebookPage

pytestmark = pytest.mark.timeout(120)

BOTH_APPS = pytest.mark.parametrize("jupyter_app", ["lab", "notebook"], indirect=True)

SLIDER_CELLS = ["import ipywidgets as w\nw.IntSlider(value=7)", "print(6*7)"]

ANYWIDGET_CELL = '''\
import anywidget
import traitlets


class W(anywidget.AnyWidget):
    _esm = """export default { render({ model, el }) {
        el.textContent = 'anywidget ok ' + model.get('v'); } }"""
    v = traitlets.Int(3).tag(sync=True)


W()'''


@BOTH_APPS
def test_run_all_renders_slider_and_print(notebook_page: NotebookPage, jupyter_app):
    notebook_page.open(SLIDER_CELLS)
    notebook_page.run_all()

    slider = notebook_page.output_locator(0).locator(".widget-slider, .jupyter-widgets").first
    expect(slider).to_be_visible()
    expect(notebook_page.output_locator(0).locator(".widget-readout")).to_contain_text("7")
    expect(notebook_page.output_locator(1)).to_have_text("42")
    assert notebook_page.errors() == []
    # The page adopted the pre-started kernel: one session for this notebook, no duplicate.
    assert len(jupyter_app.sessions(notebook_page.path)) == 1


@BOTH_APPS
def test_dark_theme_screenshot(notebook_page: NotebookPage, jupyter_app, tmp_path: Path):
    notebook_page.open(SLIDER_CELLS, theme="dark")
    notebook_page.run_all()
    expect(notebook_page.output_locator(1)).to_have_text("42")

    theme = notebook_page.theme()
    assert theme == {"name": "JupyterLab Dark", "light": "false"}
    # The page background really is dark, not just the attribute.
    bg = notebook_page.page.evaluate(
        "() => getComputedStyle(document.body).getPropertyValue('--jp-layout-color0').trim()"
    )
    assert bg.lower() in {"#111111", "#111"}, bg

    shot = notebook_page.screenshot(tmp_path / f"dark-{jupyter_app.app}.png")
    assert shot.exists()
    assert shot.stat().st_size > 10_000

    # And back: the choice persists in the server's settings, so open() always sets it.
    notebook_page.set_theme("light")
    assert notebook_page.theme() == {"name": "JupyterLab Light", "light": "true"}
    # close() shuts the notebook's kernel down (in the background).
    path = notebook_page.path
    notebook_page.close()
    deadline = time.monotonic() + 10
    while jupyter_app.sessions(path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert jupyter_app.sessions(path) == []


@BOTH_APPS
def test_anywidget_renders(notebook_page: NotebookPage, jupyter_app):
    notebook_page.open([ANYWIDGET_CELL])
    # Light, as asked, even if an earlier test left the server's theme setting dark.
    assert notebook_page.theme() == {"name": "JupyterLab Light", "light": "true"}
    notebook_page.run_all()
    expect(notebook_page.output_locator(0)).to_contain_text("anywidget ok 3")
