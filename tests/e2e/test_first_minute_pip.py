"""The first minute after ``%pip install``: JupyterLab and Notebook 7 installed without
ipywidgets, each test in its own fresh environment. ``%pip install`` the built wheel from a
cell, see the note that says to reload, reload, and make a GIF with no restart.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import PROJECT_ROOT, JupyterServer, NotebookPage, start_jupyter_server
from .test_first_minute import NOTE, README_FLOW, make_venv
from .test_hosts import JS_IMG_DECODED, shots, wait_true

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built from this checkout."""
    wheels = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-c", "import sys, hatchling.build as b; b.build_wheel(sys.argv[1])",
         str(wheels)],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )  # fmt: skip
    return next(wheels.glob("*.whl"))


@pytest.fixture
def bare_jupyter(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """JupyterLab and Notebook 7 as ``pip install jupyterlab notebook`` gives them (the lock's
    versions), each test its own: no ipywidgets, no anywidget."""
    python = make_venv(
        tmp_path / "venv",
        f"jupyterlab=={version('jupyterlab')}",
        f"notebook=={version('notebook')}",
    )
    probe = "import importlib.util as u; print(u.find_spec('ipywidgets'), u.find_spec('anywidget'))"
    missing = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    assert missing.stdout.split() == ["None", "None"], missing.stdout  # truly bare
    servers: dict[str, JupyterServer] = {}
    try:
        yield {"python": python, "servers": servers, "base": tmp_path}
    finally:
        for server in servers.values():
            server.stop()


class _One:
    """A server pool of one, for NotebookPage."""

    def __init__(self, server: JupyterServer) -> None:
        self.server = server

    def get(self, app: str) -> JupyterServer:
        return self.server


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_pip_install_into_a_running_jupyter_then_reload(browser, bare_jupyter, wheel, app):
    """The README's main path: ``%pip install`` in an open notebook. The cell says to reload;
    after the reload (same kernel, nothing restarted) the widget from before says to run its
    cell again; run again, it makes a GIF."""
    env = bare_jupyter
    server = env["servers"][app] = start_jupyter_server(
        app, env["base"] / app, python=str(env["python"]), checkout=False
    )
    page = NotebookPage(browser, _One(server), app=app)  # type: ignore[arg-type]
    page.viewport = (1280, 1100)
    try:
        page.open([f"%pip install -q {wheel}", README_FLOW[0]])
        kernel = server.sessions(page.path)[0]["kernel"]["id"]
        loaded = page.page.evaluate(
            "() => JSON.parse(document.getElementById('jupyter-config-data').textContent)"
            ".federated_extensions.map(e => e.name)"
        )
        assert "@jupyter-widgets/jupyterlab-manager" not in loaded, loaded  # truly bare page
        page.run_all(timeout=300)
        out = page.output_locator(1)
        expect(out.get_by_role("note")).to_contain_text(NOTE)
        expect(out.filter(has_text="reload the browser page")).not_to_have_count(0)
        expect(page.cell_locator(1).locator(".magicgif")).to_have_count(0)
        page.screenshot(shots() / f"first-run-{app}-note.png")
        page.command("docmanager:save")
        page.reload(timeout=60)  # the reload the note asks for
        # The widget from before the reload is drawn again from the kernel's state, but the
        # page that lacked ipywidgets closed its comm: the view says so instead of sitting dead.
        stale = page.cell_locator(1).locator(".magicgif .mg-unanswered")
        expect(stale).to_contain_text("run this cell again", timeout=20_000)
        page.screenshot(shots() / f"first-run-{app}-after-reload.png")
        page.run_cell_and_wait(1, timeout=60)  # "then run this cell again"
        root = page.cell_locator(1).locator(".magicgif")
        expect(root).to_have_count(1)
        expect(page.cell_locator(1).get_by_role("note")).to_be_hidden()
        root.get_by_role("button", name="Generate", exact=True).click()
        wait_true(root.locator(".mg-stage img"), JS_IMG_DECODED, timeout=40)
        expect(root.locator(".mg-unanswered")).to_be_hidden()
        page.screenshot(shots() / f"first-run-{app}-gif.png")
        assert server.sessions(page.path)[0]["kernel"]["id"] == kernel, "the kernel restarted"
    finally:
        page.close()
