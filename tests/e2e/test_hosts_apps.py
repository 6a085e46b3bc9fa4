"""The widget in the app hosts the README names, each in Debian's Chromium: marimo (edit and
run) and Voilà. Each cancels a job, then generates a GIF and an MP4 on the sandbox, and
checks that each really decoded (helpers shared with ``test_hosts.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from magicgif_widget.emulator.server import free_port

from ..loopback import HTTP
from .conftest import server_env
from .test_hosts import RENDER, exercise, setup, shots

pytestmark = pytest.mark.timeout(240)


# --- marimo -------------------------------------------------------------------------------

MARIMO_NOTEBOOK = """import marimo

app = marimo.App()


@app.cell
def _():
    import os

    os.environ["MAGICGIF_SANDBOX_RENDER_SECONDS"] = "{render}"
    import marimo as mo
    from magicgif_widget import GifWidget

    wrapped = mo.ui.anywidget(GifWidget(download_directory={out!r}))
    wrapped
    return (GifWidget,)


@app.cell
def _(GifWidget):
    bare = GifWidget(download_directory={out!r})
    bare
    return


if __name__ == "__main__":
    app.run()
"""


class Served:
    """A server process on a free loopback port, stopped by its own PID."""

    def __init__(self, args: list[str], cwd: Path, port: int, ready_path: str = "/") -> None:
        env = server_env({k: cwd / k for k in ("config", "runtime", "settings", "workspaces")})
        self.log = cwd / "server.log"
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if HTTP.get(self.url + ready_path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"{args[:4]} did not start:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 1400})
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.mark.parametrize("mode", ["edit", "run"])
def test_marimo(page: Any, tmp_path: Path, mode: str):
    """``mo.ui.anywidget(GifWidget())`` and a bare ``GifWidget()``, in ``marimo edit`` and
    ``marimo run`` (which renders in shadow roots; Playwright's locators pierce them)."""
    notebook = tmp_path / "app.py"
    notebook.write_text(MARIMO_NOTEBOOK.format(render=RENDER, out=str(tmp_path / "out")))
    port = free_port()
    args = [sys.executable, "-m", "marimo", mode, str(notebook), "--headless", "--no-token"]
    args += ["--port", str(port)] + (["--skip-update-check"] if mode == "edit" else [])
    served = Served(args, tmp_path, port)
    try:
        page.goto(served.url)
        widgets = page.locator(".magicgif")
        if mode == "edit":  # an opened notebook may wait for Run: press it if so
            try:
                expect(widgets).to_have_count(2, timeout=8_000)
            except AssertionError:
                page.get_by_test_id("run-button").last.click()
        expect(widgets).to_have_count(2, timeout=60_000)
        for index, kind in enumerate(("wrapped", "bare")):
            seconds = exercise(widgets.nth(index))
            print(f"marimo {mode}, {kind}: Generate to visible {seconds}")
        time.sleep(0.3)
        widgets.nth(0).screenshot(path=str(shots() / f"host-marimo-{mode}.png"))
    finally:
        served.stop()


# --- Voilà --------------------------------------------------------------------------------


def test_voila(page: Any, tmp_path: Path):
    (tmp_path / "app.ipynb").write_text(
        json.dumps(
            {
                "nbformat": 4,
                "nbformat_minor": 5,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
                "cells": [
                    {
                        "cell_type": "code",
                        "id": "w",
                        "metadata": {},
                        "execution_count": None,
                        "outputs": [],
                        "source": setup() + f"GifWidget(download_directory={str(tmp_path)!r})",
                    }
                ],
            }
        )
    )
    port = free_port()
    args = [sys.executable, "-m", "voila", "app.ipynb", "--no-browser", f"--port={port}"]
    args += ["--Voila.ip=127.0.0.1", "--show_tracebacks=True"]
    served = Served(args, tmp_path, port, ready_path="/voila/static/voila.js")
    try:
        page.goto(served.url)
        root = page.locator(".magicgif")
        expect(root).to_be_visible(timeout=60_000)
        seconds = exercise(root)
        print(f"voila: Generate to visible {seconds}")
        expect(page.locator("[data-magicgif-still]")).to_be_hidden()
        time.sleep(0.3)
        root.screenshot(path=str(shots() / "host-voila.png"))
    finally:
        served.stop()
