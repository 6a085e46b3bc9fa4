"""End-to-end fixtures: a real Jupyter server, a real Chromium, and a notebook page driver.

Everything here is scoped to ``tests/e2e``. Servers (at most one JupyterLab and one
Notebook 7 per session) are started lazily, on a free loopback port, with throw-away
config/runtime/settings/workspace directories, and are stopped by their own PID.
The recipe behind the choices is ``tests/e2e/README.md``.

Usage::

    @pytest.mark.parametrize("jupyter_app", ["lab", "notebook"], indirect=True)
    def test_x(notebook_page, jupyter_app):
        page = notebook_page.open(["print(6*7)"])  # opens in ``jupyter_app``
        notebook_page.run_all()
        expect(notebook_page.output_locator(0)).to_contain_text("42")
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import playwright.sync_api as playwright_sync
import pytest

from magicgif_widget.emulator.server import free_port

from ..loopback import HTTP

CHROMIUM = os.environ.get("MAGICGIF_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SECRET_ENV = ("MAGIC_HOUR_API_TOKEN", "MAGIC_HOUR_API_KEY", "API_TOKEN")

App = Literal["lab", "notebook"]
Theme = Literal["light", "dark"]
APPS: tuple[App, ...] = ("lab", "notebook")
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}

SERVER_START_TIMEOUT = 60.0  # seconds; a cold start takes ~3-6 s here
SERVER_STOP_TIMEOUT = 5.0
DEFAULT_TIMEOUT = 30.0  # seconds, for any single wait in the page driver
EXPECT_TIMEOUT = 15.0  # seconds, for Playwright's ``expect`` (its default, 5 s, is tight
# on a loaded 2-core machine where a widget view can take a few seconds to render)
playwright_sync.expect.set_options(timeout=EXPECT_TIMEOUT * 1000)

# Settings every server starts with: no news/update toast over the notebook, and every
# cell attached to the DOM (no windowing), so locators see all outputs.
USER_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

# --- JavaScript predicates, evaluated in the page --------------------------------------

# The notebook widget at ``path`` has a kernel that is really connected and idle. The
# toolbar's ``data-status='idle'`` is not a signal: it reads idle before a kernel exists.
JS_KERNEL_READY = """(path) => {
  const app = window.jupyterapp;
  const w = app && app.shell.currentWidget;
  if (!w || !w.context || w.context.path !== path) return false;
  const k = w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""

# A snapshot of the current notebook: kernel status and, per code cell, its execution
# count, whether it is running/queued, and its error outputs.
JS_STATE = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  const cells = [];
  w.content.widgets.forEach((cell) => {
    const m = cell.model;
    if (m.type !== 'code') return;
    const errors = [];
    for (let i = 0; i < m.outputs.length; i++) {
      const o = m.outputs.get(i).toJSON();
      if (o.output_type === 'error') errors.push(o.ename + ': ' + o.evalue);
    }
    const prompt = cell.node.querySelector('.jp-InputArea-prompt');
    cells.push({
      count: m.executionCount,
      running: m.executionState === 'running' || (!!prompt && prompt.textContent.includes('*')),
      errors,
    });
  });
  return {
    kernel: k ? k.status : null,
    connection: k ? k.connectionStatus : null,
    cells,
  };
}"""

JS_THEME = """() => ({
  name: document.body.dataset.jpThemeName || null,
  light: document.body.dataset.jpThemeLight || null,
})"""


# --- server -----------------------------------------------------------------------------


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGKILL the server if pytest dies without tearing down (e.g. ``timeout``'s
    SIGTERM, which skips finalizers). Not SIGTERM: a server that still has live kernel
    connections can hang in its shutdown. Its kernels exit by themselves once their
    parent is gone (ipykernel's parent poller)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def server_env(
    dirs: dict[str, Path], checkout: bool = True, python: str = sys.executable
) -> dict[str, str]:
    """The server's (and so the kernels') environment: no API secrets, fast sandbox renders,
    this checkout importable first (unless not ``checkout``: then only what the server's
    environment has installed), ``python``'s scripts first on PATH (as an activated
    environment has them), and throw-away Jupyter directories."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    if python != sys.executable:  # `jupyter lab` runs the `jupyter-lab` PATH finds first
        env["PATH"] = os.pathsep.join((str(Path(python).parent), env.get("PATH", "")))
    render = "MAGICGIF_SANDBOX_RENDER_SECONDS"
    env[render] = os.environ.get(render, "0.3")
    # Kernels run with cwd = the notebook's temp dir; make them import this checkout, not
    # whatever copy happens to be installed (editable installs may point elsewhere).
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PROJECT_ROOT) if checkout else "", env.get("PYTHONPATH", "")) if p
    )
    env["JUPYTER_CONFIG_DIR"] = str(dirs["config"])
    env["JUPYTER_RUNTIME_DIR"] = str(dirs["runtime"])
    env["JUPYTERLAB_SETTINGS_DIR"] = str(dirs["settings"])
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(dirs["workspaces"])
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("JUPYTER_TOKEN", None)
    return env


@dataclass
class JupyterServer:
    """One running ``jupyter lab`` or ``jupyter notebook`` (Notebook 7) process."""

    app: App
    port: int
    token: str
    base_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path
    _log: Any = field(repr=False, default=None)
    _shutdowns: list[threading.Thread] = field(repr=False, default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def root_dir(self) -> Path:
        """Where notebooks live (the server's ``root_dir``)."""
        return self.base_dir / "root"

    @property
    def settings_dir(self) -> Path:
        return self.base_dir / "settings"

    @property
    def env(self) -> dict[str, str]:
        return server_env(_dirs(self.base_dir))

    def notebook_url(self, name: str, workspace: str | None = None) -> str:
        """Browser URL opening ``name`` (relative to ``root_dir``) in this app.

        In JupyterLab, ``workspace`` names a fresh workspace, so the layout saved by an
        earlier page (other notebooks, and the kernels they would start) is not restored.
        """
        if self.app == "notebook":
            return f"{self.url}/notebooks/{name}?token={self.token}"
        route = f"lab/workspaces/{workspace}/tree" if workspace else "lab/tree"
        return f"{self.url}/{route}/{name}?token={self.token}"

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the server's REST API (``path`` like ``/api/sessions``)."""
        headers = {"Authorization": f"token {self.token}", **kwargs.pop("headers", {})}
        return HTTP.request(method, self.url + path, headers=headers, timeout=10, **kwargs)

    def start_session(self, path: str, kernel: str = "python3") -> dict[str, Any]:
        """Create (or get) the kernel session of notebook ``path``."""
        r = self.api(
            "POST",
            "/api/sessions",
            json={"path": path, "name": path, "type": "notebook", "kernel": {"name": kernel}},
        )
        r.raise_for_status()
        return r.json()

    def sessions(self, path: str | None = None) -> list[dict[str, Any]]:
        """The kernel sessions (of notebook ``path``, or all of them)."""
        return [s for s in self.api("GET", "/api/sessions").json() if path in (None, s["path"])]

    def shutdown_sessions(self, path: str | None = None, wait: bool = True) -> None:
        """Shut down the kernel sessions (of notebook ``path``, or all of them).

        ``wait=False`` does it in a background thread (a kernel takes ~0.4 s to stop);
        :meth:`stop` joins those threads.
        """
        if not wait:
            thread = threading.Thread(target=self.shutdown_sessions, args=(path,), daemon=True)
            thread.start()
            self._shutdowns.append(thread)
            return
        if self.proc.poll() is not None:
            return
        try:
            for s in self.sessions(path):
                self.api("DELETE", f"/api/sessions/{s['id']}")
        except httpx.HTTPError:
            pass

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Terminate our own process (kernels go with it), kill it after a timeout."""
        for thread in self._shutdowns:
            thread.join(SERVER_STOP_TIMEOUT)
        self._shutdowns.clear()
        if self.proc.poll() is None:
            self.shutdown_sessions()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(SERVER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(SERVER_STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None


def _dirs(base: Path) -> dict[str, Path]:
    names = ("root", "config", "runtime", "settings", "workspaces")
    return {n: base / n for n in names}


def start_jupyter_server(
    app: App, base_dir: Path | None = None, python: str = sys.executable, checkout: bool = True
) -> JupyterServer:
    """Start ``app`` on a free port with fresh directories; return once /api/status is 200.
    ``python`` is the environment it runs in; ``checkout`` puts this checkout first on the
    kernels' path (server_env)."""
    if app not in APPS:
        raise ValueError(f"app must be one of {APPS}, not {app!r}")
    base = Path(base_dir or tempfile.mkdtemp(prefix=f"e2e-{app}-"))
    dirs = _dirs(base)
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    for rel, content in USER_SETTINGS.items():
        target = dirs["settings"] / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(content))

    last_error = ""
    for _attempt in range(3):  # a free port can be taken between probe and bind
        port, token = free_port(), secrets.token_hex(16)
        app_class = "LabApp" if app == "lab" else "JupyterNotebookApp"
        cmd = [
            python, "-m", "jupyter", app,
            "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
            "--port-retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={dirs['root']}",
            f"--{app_class}.expose_app_in_browser=True",
        ]  # fmt: skip
        log_path = base / f"server-{port}.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(
            cmd,
            cwd=dirs["root"],
            env=server_env(dirs, checkout, python),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        server = JupyterServer(app, port, token, base, proc, log_path, log)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                r = HTTP.get(f"{server.url}/api/status", params={"token": token}, timeout=2)
                if r.status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        last_error = server.log_tail()
        server.stop()
    raise RuntimeError(f"jupyter {app} did not become ready:\n{last_error}")


class JupyterServers:
    """Lazily started servers, at most one per app, all stopped by :meth:`close`."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self._servers: dict[str, JupyterServer] = {}

    def get(self, app: App) -> JupyterServer:
        server = self._servers.get(app)
        if server is None or server.proc.poll() is not None:
            if server is not None:
                server.stop()
            base = Path(tempfile.mkdtemp(prefix=f"{app}-", dir=self.base_dir))
            server = self._servers[app] = start_jupyter_server(app, base)
        return server

    def close(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()


@pytest.fixture(scope="session")
def jupyter_servers() -> Iterator[JupyterServers]:
    """Session pool of servers; ``.get("lab" | "notebook")`` starts one on first use."""
    base = Path(tempfile.mkdtemp(prefix="magicgif-e2e-"))
    pool = JupyterServers(base)
    try:
        yield pool
    finally:
        pool.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def jupyter_app(request: pytest.FixtureRequest, jupyter_servers: JupyterServers) -> JupyterServer:
    """The running server for ``request.param`` ("lab" by default, or "notebook").

    Parametrize with ``@pytest.mark.parametrize("jupyter_app", ["lab", "notebook"],
    indirect=True)``. Servers live in the session pool, so switching params never restarts one.
    """
    return jupyter_servers.get(getattr(request, "param", "lab"))


# --- browser ----------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright's sync API (never ``playwright install``)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)")
    pw = playwright_sync.sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            for key in [k for k in _WARM if k[0] == id(b)]:
                _WARM.pop(key).context.close()
            b.close()
    finally:
        pw.stop()


# --- page driver ------------------------------------------------------------------------


def notebook_json(cells: Sequence[str]) -> str:
    """An nbformat 4.5 notebook with these code cells and a python3 kernelspec.

    Written by hand: importing nbformat costs 1-4 s (its jsonschema format checkers).
    """
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {
                "name": "python3",
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
            },
            "language_info": {"name": "python"},
        },
        "cells": [
            {
                "cell_type": "code",
                "id": uuid.uuid4().hex[:8],
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": src,
            }
            for src in cells
        ],
    }
    return json.dumps(nb, indent=1)


# Disposes every document in a JupyterLab page (no "save?" dialog: the kernel goes by REST)
# and says whether the page can open the next test's notebook: still Lab, no dialog open.
JS_RELEASE = """() => {
  const app = window.jupyterapp;
  if (!app || !app.shell || document.querySelector('.jp-Dialog')) return false;
  for (const w of Array.from(app.shell.widgets('main'))) w.dispose();
  return true;
}"""


class WarmPage:
    """A loaded JupyterLab page parked between tests, which opens the next notebook in place.

    Loading Lab costs about 4.5 s of CPU here; opening a notebook in a loaded page costs
    only the kernel's start. One per (browser, server, viewport); the console sink is shared.
    """

    def __init__(self, context: Any, page: Any) -> None:
        self.context = context
        self.page = page
        self.console: list[str] = []
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))


_WARM: dict[tuple[int, str, tuple[int, int]], WarmPage] = {}
COLD = os.environ.get("MAGICGIF_E2E_COLD") == "1"  # a fresh browser context for every test


class NotebookPage:
    """Drive one notebook at a time in a browser page.

    A JupyterLab page whose test passed is kept warm (:class:`WarmPage`) and opens the next
    notebook in place; a failed test, a ``before_load`` hook or an explicit :meth:`close`
    means a fresh browser context next time.

    ``open`` writes and opens a notebook, waiting for a connected idle kernel;
    ``run_all`` runs it and waits for the kernel to finish; ``output_locator(i)``
    finds the outputs of the i-th code cell. Every wait is bounded by ``timeout``.
    """

    def __init__(
        self,
        browser: Any,
        servers: JupyterServers,
        app: App = "lab",
        timeout: float = DEFAULT_TIMEOUT,
        viewport: tuple[int, int] = (1280, 800),
    ) -> None:
        self.browser = browser
        self.servers = servers
        self.default_app: App = app
        self.timeout = timeout
        self.viewport = viewport
        self.context: Any = None
        self.page: Any = None
        self.server: JupyterServer | None = None
        self.path: str | None = None
        self.console: list[str] = []
        self.panel_id: str | None = None
        self.warm: WarmPage | None = None  # this page's record, parked again on release

    # -- lifecycle --

    def open(
        self,
        cells: Sequence[str],
        app: App | None = None,
        theme: Theme = "light",
        name: str | None = None,
        prestart_kernel: bool = True,
        before_load: Any = None,
    ) -> Any:
        """Write a notebook with these code cells, open it in ``app``, wait for a connected
        idle kernel, apply ``theme``; return the Playwright page.

        ``prestart_kernel`` creates the notebook's kernel session over REST before the page
        loads; the page then connects to it instead of starting its own. ``before_load(page)``
        runs before the page is loaded (to install routes, say)."""
        self.close(keep=True)
        server = self.server = self.servers.get(app or self.default_app)
        stem = name or f"e2e-{uuid.uuid4().hex[:10]}"
        self.path = f"{stem}.ipynb"
        (server.root_dir / self.path).write_text(notebook_json(cells))
        if prestart_kernel:
            # The kernel boots while the app loads (~1 s saved); the page adopts the session.
            server.start_session(self.path)

        reusable = server.app == "lab" and before_load is None
        warm = _WARM.pop(self._warm_key(), None) if reusable else None
        if warm is not None and not warm.page.is_closed():
            self.warm, self.context, self.page = warm, warm.context, warm.page
            self.console = warm.console
            self.console.clear()
            # Not awaited: under load its promise was once dropped unsettled ("Resulting
            # promise was garbage collected"); wait_kernel_ready waits for the notebook.
            self.page.evaluate(
                "(path) => { window.jupyterapp.commands.execute('docmanager:open', {path}); }",
                self.path,
            )
        else:
            w, h = self.viewport
            self.context = self.browser.new_context(viewport={"width": w, "height": h})
            self.context.set_default_timeout(self.timeout * 1000)
            page = self.page = self.context.new_page()
            record = WarmPage(self.context, page)
            self.console = record.console
            self.warm = record if reusable else None
            if before_load is not None:
                before_load(page)
            page.goto(server.notebook_url(self.path, workspace=stem), wait_until="domcontentloaded")
        self.wait_kernel_ready()
        self.panel_id = self.page.evaluate("() => window.jupyterapp.shell.currentWidget.id")
        self.set_theme(theme)
        return self.page

    def close(self, keep: bool = False) -> None:
        """Shut down this notebook's kernel (in the background; the server's ``stop`` waits
        for it) and close the browser context, or with ``keep`` park a Lab page warm."""
        if self.context is not None:
            try:
                if not (keep and self._park()):
                    self.context.close()
            finally:
                self.context = self.page = self.warm = None
        if self.server is not None and self.path is not None:
            self.server.shutdown_sessions(self.path, wait=False)
        self.path = None

    def _park(self) -> bool:
        """Release this Lab page's documents and park it for the next :meth:`open`."""
        if COLD or self.warm is None or self.server is None or self.page.is_closed():
            return False
        try:
            if not self.page.evaluate(JS_RELEASE):
                return False
        except playwright_sync.Error:
            return False
        old = _WARM.pop(self._warm_key(), None)
        if old is not None:
            old.context.close()
        _WARM[self._warm_key()] = self.warm
        return True

    def _warm_key(self) -> tuple[int, str, tuple[int, int]]:
        assert self.server is not None
        return id(self.browser), self.server.url, self.viewport

    # -- waits --

    def _wait(self, js: str, arg: Any = None, timeout: float | None = None, what: str = "") -> Any:
        try:
            return self.page.wait_for_function(
                js, arg=arg, timeout=(timeout or self.timeout) * 1000, polling=100
            )
        except playwright_sync.TimeoutError as exc:
            msg = f"timed out waiting for {what or js}\n{self.diagnostics()}"
            raise AssertionError(msg) from exc

    def reload(self, timeout: float | None = None) -> None:
        """Reload the browser page, as a user does; the kernel keeps running."""
        self.page.reload(wait_until="domcontentloaded")
        self.wait_kernel_ready(timeout)
        self.panel_id = self.page.evaluate("() => window.jupyterapp.shell.currentWidget.id")

    def wait_kernel_ready(self, timeout: float | None = None) -> None:
        """Until this notebook's kernel is connected and idle."""
        self._wait(JS_KERNEL_READY, self.path, timeout, "a connected, idle kernel")

    def state(self) -> dict[str, Any]:
        """Kernel status and per-code-cell ``count``/``running``/``errors``."""
        return self.page.evaluate(JS_STATE)

    def errors(self) -> list[str]:
        """``ename: evalue`` of every error output in the notebook."""
        return [e for c in self.state()["cells"] for e in c["errors"]]

    def wait_executed(
        self,
        cells: Sequence[int] | None = None,
        after: int = 0,
        timeout: float | None = None,
        check: bool = True,
    ) -> dict[str, Any]:
        """Until the kernel is idle and the given code cells (default all) have an execution
        count above ``after`` (i.e. ran since then), or one of them failed since then.
        ``check`` raises on such an error output."""
        deadline = time.monotonic() + (timeout or self.timeout)
        idle_since: float | None = None
        while True:
            st = self.state()
            chosen = [st["cells"][i] for i in cells] if cells is not None else st["cells"]
            fresh = [c for c in st["cells"] if c["count"] is not None and c["count"] > after]
            busy = st["kernel"] != "idle" or any(c["running"] for c in st["cells"])
            done = all(c["count"] is not None and c["count"] > after for c in chosen)
            failed = any(c["errors"] for c in fresh)
            if not busy and (done or failed):
                # After an error, later cells never run: let idle hold a moment (between
                # cells the kernel can flicker to idle) before calling it finished.
                idle_since = idle_since or time.monotonic()
                if done or time.monotonic() - idle_since > 0.5:
                    break
            else:
                idle_since = None
            if time.monotonic() > deadline:
                raise AssertionError(f"cells did not finish: {st}\n{self.diagnostics()}")
            time.sleep(0.1)
        if check and failed:
            raise AssertionError(f"cell errors: {[e for c in fresh for e in c['errors']]}")
        return st

    def _max_count(self) -> int:
        return max((c["count"] or 0 for c in self.state()["cells"]), default=0)

    def _started(self, after: int) -> bool:
        st = self.state()
        return st["kernel"] != "idle" or any(
            c["running"] or (c["count"] or 0) > after for c in st["cells"]
        )

    # -- actions --

    def command(self, command_id: str, args: dict[str, Any] | None = None) -> Any:
        """Execute an application command (``window.jupyterapp.commands.execute``)."""
        return self.page.evaluate(
            "([id, args]) => window.jupyterapp.commands.execute(id, args).then(() => true)",
            [command_id, args or {}],
        )

    def run_all(
        self, wait: bool = True, timeout: float | None = None, check: bool = True
    ) -> dict[str, Any] | None:
        """Run > Run All Cells via the menus (command fallback if nothing starts within
        3 s), then optionally wait for every code cell to finish (``check`` raises on
        error outputs). Returns the final :meth:`state`."""
        page = self.page
        after = self._max_count()
        try:
            page.get_by_role("menuitem", name="Run", exact=True).click(timeout=5000)
            page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click(timeout=5000)
        except playwright_sync.Error:
            page.keyboard.press("Escape")
        deadline = time.monotonic() + 3
        while not self._started(after) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self._started(after):
            page.keyboard.press("Escape")
            self.command("notebook:run-all-cells")
        return self.wait_executed(after=after, timeout=timeout, check=check) if wait else None

    def run_cell_and_wait(
        self, index: int, timeout: float | None = None, check: bool = True
    ) -> dict[str, Any]:
        """Run the ``index``-th code cell (``notebook:run-cell``) and wait for it."""
        after = self._max_count()
        self.page.evaluate(
            """(index) => {
              const nb = window.jupyterapp.shell.currentWidget.content;
              const code = nb.widgets.map((c, i) => [c, i])
                .filter(([c]) => c.model.type === 'code');
              nb.activeCellIndex = code[index][1];
              nb.deselectAll();
            }""",
            index,
        )
        self.command("notebook:run-cell")
        return self.wait_executed([index], after=after, timeout=timeout, check=check)

    def set_theme(self, theme: Theme, timeout: float | None = None) -> None:
        """Switch to the light or dark theme (if needed) and wait until the page shows it.
        The choice persists in the server's settings, so it is always set explicitly."""
        name = THEMES[theme]
        light = "true" if theme == "light" else "false"
        predicate = f"""() => document.body.dataset.jpThemeName === {json.dumps(name)}
            && document.body.dataset.jpThemeLight === '{light}'"""
        # Wait for the initial theme before deciding, so we never race the app's own load.
        self._wait("() => !!document.body.dataset.jpThemeName", None, timeout, "a theme")
        if self.page.evaluate(predicate):
            return
        self.command("apputils:change-theme", {"theme": name})
        self._wait(predicate, None, timeout, f"theme {name}")

    def theme(self) -> dict[str, Any]:
        """``{"name": ..., "light": "true"|"false"}`` from ``document.body`` data attributes."""
        return self.page.evaluate(JS_THEME)

    # -- locating --

    def panel_locator(self) -> Any:
        """The opened notebook's panel (other documents in the page are ignored)."""
        return self.page.locator(f'[id="{self.panel_id}"]')

    def cell_locator(self, cell_index: int) -> Any:
        """The ``cell_index``-th code cell of the opened notebook."""
        return self.panel_locator().locator(".jp-Notebook .jp-CodeCell").nth(cell_index)

    def output_locator(self, cell_index: int) -> Any:
        """The ``.jp-OutputArea-output`` elements of the ``cell_index``-th code cell."""
        return self.cell_locator(cell_index).locator(".jp-OutputArea-output")

    def screenshot(self, path: str | os.PathLike[str], full_page: bool = False) -> Path:
        """Save a PNG of the page and return its path."""
        self.page.screenshot(path=str(path), full_page=full_page)
        return Path(path)

    def diagnostics(self) -> str:
        parts = []
        if self.page is not None:
            try:
                parts.append(f"state: {self.state()}")
            except playwright_sync.Error as exc:
                parts.append(f"state unavailable: {exc}")
        parts.append("console:\n" + "\n".join(self.console[-20:]))
        if self.server is not None:
            parts.append(f"server log ({self.server.app}):\n{self.server.log_tail(20)}")
        return "\n".join(parts)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"_e2e_rep_{report.when}", report)
    return report


@pytest.fixture
def notebook_page(
    request: pytest.FixtureRequest,
    browser: Any,
    jupyter_servers: JupyterServers,
    tmp_path: Path,
) -> Iterator[NotebookPage]:
    """A :class:`NotebookPage`; its default app is the test's ``jupyter_app`` param, if any.

    On failure a screenshot is saved as ``tmp_path/failure.png``.
    """
    app: App = "lab"
    if "jupyter_app" in request.fixturenames:
        app = request.getfixturevalue("jupyter_app").app
    nb = NotebookPage(browser, jupyter_servers, app=app)
    try:
        yield nb
    finally:
        rep = getattr(request.node, "_e2e_rep_call", None)
        if rep is not None and rep.failed and nb.page is not None:
            try:
                shot = nb.screenshot(tmp_path / "failure.png")
                request.node.add_report_section("teardown", "e2e", f"screenshot: {shot}")
            except playwright_sync.Error:
                pass
        nb.close(keep=rep is not None and rep.passed)


# --- a host without binary buffers ------------------------------------------------------


class BufferStripper:
    """What Colab's widget manager does to comm messages, done to a JupyterLab page: every
    kernel-to-page websocket frame loses its binary buffers on the way. ``stripped`` counts
    the buffers dropped, so a test can check that the fault really fired.

    JupyterLab 4 speaks the ``v1.kernel.websocket.jupyter.org`` framing: a little-endian
    uint64 count N, N uint64 offsets, then channel, header, parent header, metadata, content
    and one part per buffer. Classic Notebook 6.5 (``legacy``) sends a big-endian uint32 count
    N, N uint32 offsets, the message as JSON, then one part per buffer."""

    KERNEL_CHANNELS = re.compile(r"/api/kernels/[^/]+/channels")

    def __init__(self, legacy: bool = False) -> None:
        self.stripped = 0
        self.frames = 0
        self.legacy = legacy

    def install(self, page: Any) -> None:
        page.route_web_socket(self.KERNEL_CHANNELS, self._route)

    def _route(self, ws: Any) -> None:
        server = ws.connect_to_server()
        ws.on_message(server.send)  # page -> kernel: unchanged
        server.on_message(lambda message: ws.send(self.strip(message)))

    def strip(self, message: str | bytes) -> str | bytes:
        self.frames += 1
        if isinstance(message, str) or len(message) < 8:
            return message  # a JSON frame carries no buffers
        if self.legacy:
            count = int.from_bytes(message[:4], "big")
            if count < 2:
                return message
            first = int.from_bytes(message[4:8], "big")
            end = int.from_bytes(message[8:12], "big")
            dropped = count - 1
            self.stripped += dropped
            return (1).to_bytes(4, "big") + (8).to_bytes(4, "big") + message[first:end]
        count = int.from_bytes(message[:8], "little")
        offsets = [
            int.from_bytes(message[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)
        ]
        parts = [message[offsets[i] : offsets[i + 1]] for i in range(count - 1)]
        keep = parts[:5]  # channel, header, parent_header, metadata, content
        dropped = [p for p in parts[5:] if p]
        if not dropped:
            return message
        self.stripped += len(dropped)
        starts = [8 * (1 + len(keep) + 1)]
        for part in keep:
            starts.append(starts[-1] + len(part))
        layout = [len(starts).to_bytes(8, "little"), *(o.to_bytes(8, "little") for o in starts)]
        return b"".join([*layout, *keep])
