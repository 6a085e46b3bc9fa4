"""Shared fixtures: a real emulator on loopback, fast policies, and a clean environment."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Let every process of the run keep the bytecode it compiles (Python's default). A machine
# that sets PYTHONDONTWRITEBYTECODE makes each kernel, server and CLI child compile all it
# imports from source again: about a second per kernel, four per JupyterLab server. The
# xdist workers start after this file is read, so they keep theirs too.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
os.environ["MAGICGIF_SANDBOX_RENDER_SECONDS"] = "0.3"
# Learned job timings go to a throw-away cache, never the user's (kernels inherit this).
os.environ["MAGICGIF_CACHE_DIR"] = tempfile.mkdtemp(prefix="magicgif-test-cache-")
os.environ["MAGICGIF_DATA_DIR"] = tempfile.mkdtemp(prefix="magicgif-test-data-")  # the journal
for _name in (
    "MAGIC_HOUR_API_TOKEN",
    "MAGIC_HOUR_API_KEY",
    "API_TOKEN",
):
    os.environ.pop(_name, None)
# Clients made without a poll policy poll every 0.1 s here (the vendor's variable, which picks
# a fixed interval): the adaptive default expects real 26 s jobs and would make every test
# wait seconds for its first GET. tests/test_timing.py tests the adaptive poller itself.
os.environ["MAGIC_HOUR_POLL_INTERVAL"] = "0.1"

from magicgif_widget import AsyncClient, Client, PollPolicy, RetryPolicy  # noqa: E402
from magicgif_widget.emulator import BackgroundServer, Clock, Emulator  # noqa: E402
from magicgif_widget.emulator.clock import SYSTEM_CLOCK  # noqa: E402

from .loopback import HTTP  # noqa: E402

# Tests of faults other than the rate limit need not wait 2 s after an injected 429
# (tests/test_rate_limit.py checks that wait with the default policy).
FAST_POLL = PollPolicy(interval=0.05, limited_wait=0.05)
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, bad_gateway_delay=0.05)


class Server:
    """A running emulator and helpers to drive its test hooks over HTTP."""

    def __init__(self, background: BackgroundServer) -> None:
        self.background = background
        self.emulator = background.emulator
        self.url = background.url

    def reset(self, render_seconds: float = 0.3, clock: Clock = SYSTEM_CLOCK) -> None:
        """Forget everything; jobs then take ``render_seconds`` on ``clock`` (the real one)."""
        HTTP.post(f"{self.url}/emulator/reset").raise_for_status()
        self.emulator.use_clock(clock)
        self.emulator.store.render_seconds = render_seconds
        self.emulator.store.initial_credits = 1_000_000

    def fault(self, **rule: Any) -> None:
        HTTP.post(f"{self.url}/emulator/faults", json=rule).raise_for_status()

    def stats(self) -> dict[str, Any]:
        return HTTP.get(f"{self.url}/emulator/stats").json()

    def requests(self, route: str) -> int:
        return int(self.stats()["requests"].get(route, 0))


@pytest.fixture(scope="session")
def _background() -> Iterator[BackgroundServer]:
    with BackgroundServer(Emulator(render_seconds=0.3)) as server:
        yield server


@pytest.fixture
def server(_background: BackgroundServer) -> Server:
    """The loopback emulator, reset: no jobs, no faults, zero counts, 0.3 s renders."""
    srv = Server(_background)
    srv.reset()
    return srv


@pytest.fixture
def client_kwargs(server: Server) -> dict[str, Any]:
    return {"base_url": server.url, "poll": FAST_POLL, "retry": FAST_RETRY, "timeout": 5}


@pytest.fixture
def client(client_kwargs: dict[str, Any]) -> Iterator[Client]:
    with Client(**client_kwargs) as c:
        yield c


@pytest.fixture
async def aclient(client_kwargs: dict[str, Any]) -> Any:
    async with AsyncClient(**client_kwargs) as c:
        yield c


def leftovers(directory: Path) -> list[str]:
    """Temporary or partial files left in ``directory``."""
    return sorted(
        p.name for p in directory.iterdir() if p.name.startswith(".") or p.suffix == ".part"
    )


PROMPT = {"prompt": "Cute dancing cat, pixel art"}


KERNEL_FIXTURES = {"kernels", "kernel"}
# Long modules of few tests, which xdist's most-tests-first order would start last, where
# they alone decide when the run ends (about 135 s and 80 s of a worker's time).
STARTED_FIRST = {"test_first_minute.py", "test_hosts_apps.py"}
SLOW_FILES = {
    "test_properties.py",
    "test_schemathesis.py",
    "test_packaging.py",
    "test_light_install.py",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test ``browser``, ``kernel`` or ``slow`` by where it lives and what it uses,
    and order the modules for xdist (``--no-loadscope-reorder``, ``_module_order``)."""
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.browser)
        fixtures = set(getattr(item, "fixturenames", ()))
        if (
            item.path.suffix == ".ipynb"
            or item.path.name == "test_kernel.py"
            or (fixtures & KERNEL_FIXTURES)
        ):
            item.add_marker(pytest.mark.kernel)
        if item.path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)
    modules: dict[Path, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.path, []).append(item)
    items[:] = [item for path in _module_order(modules) for item in modules[path]]


def _module_order(modules: dict[Path, list[pytest.Item]]) -> list[Path]:
    """``STARTED_FIRST``; then the other modules most tests first (xdist's own order), with
    the browser modules spread through the first 70 % of them, so that about two workers
    drive Chromium at any time (four at once ran out of CPU and ended the run late)."""
    ordered = sorted(modules, key=lambda path: -len(modules[path]))
    first = [path for path in ordered if path.name in STARTED_FIRST]
    browser = [path for path in ordered if "e2e" in path.parts and path not in first]
    rest = [path for path in ordered if "e2e" not in path.parts]
    spacing = 0.7 * len(rest) / (len(browser) + 1)
    out, placed = list(first), 0
    for i, path in enumerate(rest):
        while placed < len(browser) and i >= round((placed + 1) * spacing):
            out.append(browser[placed])
            placed += 1
        out.append(path)
    return out + browser[placed:]
