"""The front end's own checks, in the test command: ``tsc --noEmit`` over ``js/widget.js`` (its
JSDoc types, with anywidget's published ``@anywidget/types``) and its node tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parent.parent / "js"


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=JS, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def node_tools() -> Path:
    """js/node_modules, installed from js/package-lock.json when missing (users never need it)."""
    npm = shutil.which("npm")
    assert npm and shutil.which("node"), "node and npm are needed for the front end's checks"
    tsc = JS / "node_modules" / ".bin" / "tsc"
    if not tsc.exists():
        done = _run(npm, "ci", "--no-audit", "--no-fund")
        assert done.returncode == 0, done.stdout + done.stderr
    return tsc


def test_the_front_end_type_checks(node_tools: Path):
    assert JS.joinpath("widget.js").read_text().startswith("// @ts-check\n")
    done = _run(str(node_tools), "-p", "tsconfig.json")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_front_end_s_node_tests_pass(node_tools: Path):
    done = _run("node", "--test", "tests/")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# fail 0" in done.stdout
    passed = int(done.stdout.split("# pass ")[1].split()[0])
    assert passed >= 9, done.stdout
