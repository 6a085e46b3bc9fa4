"""The first minute, as a new user meets it, each in its own fresh environment and Chromium:

- Colab's pinned stack (classic Notebook 6.5.7, widgetsnbextension 3.6.10, ipywidgets 7.7.1,
  ipykernel 6.17.1, anywidget 0.9.21, httpx 0.28.1) with comm buffers dropped as Colab drops
  them: the README's flow run the moment the page opens, ten times. Classic Notebook redraws
  every widget output once its widget manager loads, which removes a view drawn before; each
  run must still show the live widget and the GIF, and the saved file must hold the result.
- The same stack with ipywidgets' extension disabled: the cell says what to do, and the
  README's command brings the widget.
- JupyterLab and Notebook 7 installed without ipywidgets: ``%pip install`` the built wheel from
  a cell, see the note that says to reload, reload, and make a GIF with no restart.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from magicgif_widget.emulator.server import free_port

from ..loopback import HTTP
from .conftest import (
    PROJECT_ROOT,
    BufferStripper,
    JupyterServer,
    NotebookPage,
    notebook_json,
    server_env,
    start_jupyter_server,
)
from .test_hosts import JS_IMG_DECODED, shots, wait_true

pytestmark = pytest.mark.timeout(600)

# What Colab runs, as measured there; `pip install` of this package changes none of it.
COLAB_PINS = (
    "notebook==6.5.7",
    "widgetsnbextension==3.6.10",
    "ipywidgets==7.7.1",
    "ipykernel==6.17.1",
    "anywidget==0.9.21",
    "httpx==0.28.1",
)
README_FLOW = [  # the README's widget cells, as a student pastes them
    "from magicgif_widget import GifWidget\n\n"
    'widget = GifWidget(prompt="Cute dancing cat, pixel art")\nwidget',
    "result = await widget.generate()\nresult.path, len(result.data)",
]
RUNS = 10
AT_ONCE = 2  # notebooks of those runs open at the same time
JS_RUN_ON_CONNECT = """(() => {
  if (window !== window.top) return;
  const tick = () => {
    const nb = window.Jupyter && Jupyter.notebook;
    if (nb && nb.kernel && nb.kernel.is_connected()) nb.execute_all_cells();
    else setTimeout(tick, 10);
  };
  setTimeout(tick, 10);
})()"""
NOTE = "did not load in this page"


def make_venv(path: Path, *requirements: str) -> Path:
    """A new virtual environment at ``path`` with ``requirements``; returns its python."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not on PATH (the README's test command installs it: pip install uv)")
    subprocess.run([uv, "venv", "-q", "--seed", "--python", sys.executable, str(path)], check=True)
    python = path / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(python), *requirements],
        check=True,
        timeout=600,
    )
    return python


# --- classic Notebook on Colab's stack ----------------------------------------------------


class ClassicServer:
    """``jupyter notebook`` 6.5 from its own environment, on a free loopback port."""

    def __init__(self, python: Path, base: Path) -> None:
        self.python = python
        self.base = base
        self.root = base / "root"
        self.dirs = {n: base / n for n in ("root", "config", "runtime", "settings", "workspaces")}
        for d in self.dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        self.env = server_env(self.dirs)  # the kernel imports this checkout
        self.env["MAGICGIF_SANDBOX_RENDER_SECONDS"] = "1"
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.log = (base / "server.log").open("wb")
        cmd = [
            str(python), "-m", "notebook", "--no-browser", "--allow-root",
            "--ip=127.0.0.1", f"--port={self.port}", "--port-retries=0",
            f"--NotebookApp.token={self.token}", f"--NotebookApp.notebook_dir={self.root}",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                url = f"{self.url}/api/status?token={self.token}"
                if HTTP.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"classic Notebook did not start:\n{self.log_tail()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def jupyter(self, *args: str) -> str:
        """``jupyter ARGS`` in the server's environment and config; returns what it printed."""
        done = subprocess.run(
            [str(self.python.parent / "jupyter"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout + done.stderr

    def log_tail(self) -> str:
        return (self.base / "server.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def classic() -> Iterator[ClassicServer]:
    base = Path(tempfile.mkdtemp(prefix="magicgif-classic-"))
    python = make_venv(base / "venv", *COLAB_PINS, str(PROJECT_ROOT))
    server = ClassicServer(python, base)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


class ClassicPage:
    """One notebook in classic Notebook, driven through its ``Jupyter`` global."""

    def __init__(
        self,
        browser: Any,
        server: ClassicServer,
        cells: list[str],
        run_on_connect: bool = False,
        **route: Any,
    ):
        self.server = server
        self.name = f"first-{secrets.token_hex(4)}.ipynb"
        (server.root / self.name).write_text(notebook_json(cells))
        self.context = browser.new_context(viewport={"width": 1280, "height": 1300})
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        if route.get("stripper") is not None:
            route["stripper"].install(self.page)
        if run_on_connect:  # the page itself runs every cell the moment its kernel connects
            self.page.add_init_script(JS_RUN_ON_CONNECT)
            self.page.goto(self.address, wait_until="domcontentloaded")
        else:
            self.open()

    @property
    def address(self) -> str:
        return f"{self.server.url}/notebooks/{self.name}?token={self.server.token}"

    def open(self) -> None:
        self.page.goto(self.address, wait_until="domcontentloaded")
        self.page.wait_for_function(
            "() => window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel"
            " && Jupyter.notebook.kernel.is_connected()",
            timeout=60_000,
        )

    def run_all_now(self) -> None:
        """Run every cell at once: no wait for the widget manager (the race)."""
        self.page.evaluate("() => Jupyter.notebook.execute_all_cells()")

    def wait_done(self, timeout: float = 60) -> None:
        self.page.wait_for_function(
            """() => Jupyter.notebook.get_cells().every(c => c.cell_type !== 'code'
                   || (c.input_prompt_number !== undefined && c.input_prompt_number !== null
                       && c.input_prompt_number !== '*'))""",
            timeout=timeout * 1000,
        )

    def output(self, cell: int) -> Any:
        return self.page.locator(".cell").nth(cell).locator(".output")

    def saved(self) -> dict[str, Any]:
        """Save the notebook from the page and read the file the server wrote. An output that
        changes during the save marks the page dirty again, so the save is asked again."""
        deadline = time.monotonic() + 40
        while True:
            self.page.evaluate("() => Jupyter.notebook.save_notebook()")
            try:
                self.page.wait_for_function("() => !Jupyter.notebook.dirty", timeout=5_000)
                break
            except PlaywrightTimeoutError:
                if time.monotonic() > deadline:
                    raise
        return json.loads((self.server.root / self.name).read_text())

    def close(self) -> None:
        self.context.close()
        for s in HTTP.get(f"{self.server.url}/api/sessions?token={self.server.token}").json():
            if s["path"] == self.name:
                HTTP.delete(f"{self.server.url}/api/sessions/{s['id']}?token={self.server.token}")


def result_saved(nb: dict[str, Any]) -> bool:
    """The widget cell's static output in the saved file holds the result image."""
    for out in nb["cells"][0]["outputs"]:
        data = out.get("data", {})
        if "data-magicgif-still" in str(data.get("text/html", "")) and "image/png" in data:
            return "<img" in str(data["text/html"])
    return False


def saves_the_result(nb: ClassicPage, seconds: float = 10) -> bool:
    """Whether the saved file gets the result within ``seconds``: the still's update follows
    the view's, so the file is saved again until it holds it."""
    deadline = time.monotonic() + seconds
    while not result_saved(nb.saved()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def test_classic_notebook_on_colabs_stack_runs_the_readme_flow_at_once(browser, classic):
    """Ten times: open, run the README's two cells at once, buffers dropped. Each shows one
    live widget with the decoded GIF, and the saved file holds the result. Two notebooks
    load at a time, each in its own browser context and kernel (their waits overlap)."""
    stripper = BufferStripper(legacy=True)
    redrawn = dropped = 0
    pages: list[ClassicPage] = []
    for run in range(RUNS):
        if not pages:
            pages = [
                ClassicPage(browser, classic, README_FLOW, run_on_connect=True, stripper=stripper)
                for _ in range(min(AT_ONCE, RUNS - run))
            ]
        nb = pages.pop(0)
        try:
            nb.wait_done()
            root = nb.output(0).locator(".magicgif")
            expect(root).to_have_count(1, timeout=15_000)
            wait_true(root.locator(".mg-stage img"), JS_IMG_DECODED, timeout=30)
            expect(root.locator(".mg-status")).to_contain_text("Complete")
            expect(nb.output(0).locator("[data-magicgif-still]")).to_be_hidden()
            redrawn += nb.page.locator("[data-magicgif-rescued]").count()
            assert saves_the_result(nb), f"run {run}: the saved file lacks the result"
            # An update that arrived while the redrawn output had no display id was dropped
            # (the host says so); the view asked the kernel for it again, as the file shows.
            dropped += any("No targets for display_id" in c for c in nb.console)
            if run == 0:
                root.screenshot(path=str(shots() / "host-classic-colab-stack.png"))
        except BaseException:
            for other in pages:
                other.close()
            raise
        finally:
            nb.close()
    print(
        f"classic Notebook: {RUNS} of {RUNS}; the redraw removed the view {redrawn}x and "
        f"dropped a still update {dropped}x (sent again)"
    )
    assert redrawn >= 1, "the widget manager never redrew a view: the race was not exercised"
    assert stripper.stripped >= RUNS, "no buffers were dropped: the host was not buffer-less"


def test_classic_notebook_generate_button_right_after_opening(browser, classic):
    """The Generate button, pressed as soon as the view shows: the result reaches the live
    view and the saved file (the redrawn output was told its display id again)."""
    nb = ClassicPage(browser, classic, README_FLOW[:1])
    try:
        nb.run_all_now()
        root = nb.output(0).locator(".magicgif")
        expect(root).to_have_count(1, timeout=30_000)
        root.get_by_role("button", name="Generate", exact=True).click()
        wait_true(root.locator(".mg-stage img"), JS_IMG_DECODED, timeout=30)
        assert saves_the_result(nb), "the saved file never got the result"
    finally:
        nb.close()


def test_classic_notebook_without_the_widgets_extension_says_what_to_do(browser, classic):
    """With ipywidgets' extension off, the cell says the controls did not load; the README's
    command turns it on, and after a page reload the widget draws and makes a GIF."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    command = re.search(r"`(jupyter nbextension enable [^`]+)`", readme)
    assert command, "the README names no command to enable the extension"
    # Off where pip's install turned it on: the environment's own config (which outranks the
    # user's in a virtual environment).
    off = ("nbextension", "disable", "--sys-prefix", "jupyter-js-widgets/extension")
    classic.jupyter(*off)
    try:
        nb = ClassicPage(browser, classic, README_FLOW[:1])
        try:
            nb.run_all_now()
            nb.wait_done()
            note = nb.output(0).get_by_role("note")
            expect(note).to_contain_text(NOTE)
            expect(note).to_contain_text("reload the browser page")
            expect(nb.output(0).locator(".magicgif")).to_have_count(0)
            nb.page.screenshot(path=str(shots() / "first-run-classic-extension-off.png"))
            classic.jupyter(*command.group(1).split()[1:])  # verbatim, after `jupyter`
            nb.open()  # the reload
            nb.run_all_now()
            root = nb.output(0).locator(".magicgif")
            expect(root).to_have_count(1, timeout=15_000)
            root.get_by_role("button", name="Generate", exact=True).click()
            wait_true(root.locator(".mg-stage img"), JS_IMG_DECODED, timeout=30)
        finally:
            nb.close()
    finally:
        classic.jupyter("nbextension", "enable", "--sys-prefix", "jupyter-js-widgets/extension")


# --- `%pip install` into a running JupyterLab or Notebook 7 -------------------------------


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
