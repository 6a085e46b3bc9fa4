"""What the metadata and the README promise, checked by the test command itself: the lock
matches pyproject.toml, `mypy --strict` and ruff are clean, and nothing points outside the
repository."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_the_lock_matches_pyproject():
    """`uv lock --check` fails when a dependency in pyproject.toml is not what uv.lock holds.
    Offline: an up-to-date lock needs no index to be checked."""
    done = _run("uv", "lock", "--check", "--offline")
    assert done.returncode == 0, (
        f"uv.lock and pyproject.toml disagree; refresh with `uv lock`:\n{done.stderr}"
    )


def test_the_lock_pins_every_test_tool_with_hashes():
    lock = (ROOT / "uv.lock").read_text()
    for name in ("pytest", "schemathesis", "playwright", "mypy", "ruff", "magic-hour"):
        block = re.search(
            rf'\[\[package\]\]\nname = "{name}"\nversion = "([^"]+)"(.*?)\n\n', lock, re.S
        )
        assert block, f"{name} is not locked"
        assert "sha256:" in block.group(2), f"{name} is locked without hashes"


def test_mypy_strict_is_clean():
    done = _run("mypy")  # files and strictness come from [tool.mypy] in pyproject.toml
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("check", [["check", "."], ["format", "--check", "."]], ids=" ".join)
def test_ruff_is_clean(check: list[str]):
    done = _run("ruff", *check)
    assert done.returncode == 0, done.stdout + done.stderr


def test_nothing_points_outside_the_repository():
    """Docs and tests stand on what is in the repository, not on one machine's paths."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    offenders = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in {".py", ".md", ".toml", ".cfg", ".ipynb", ".js", ".css", ""}:
            continue
        text = path.read_text(errors="replace")
        for needle in ("/work/", "../shared", "shared/design.md", "/root/"):
            if needle in text and name != "tests/test_project_checks.py":
                offenders.append(f"{name}: {needle}")
    assert not offenders


def test_ci_runs_the_readme_test_command_in_a_fresh_environment():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^# \d\. .*?\n(?:#.*\n)*(\S.*)$", readme.split("```bash", 1)[1], re.M)
    assert len(commands) == 2, "the README's first screen has exactly two set-up commands"
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.rstrip().splitlines()[-1] == commands[1]
    assert "mktemp -d" in ci and "UV_PROJECT_ENVIRONMENT" in ci and "--locked" in commands[1]
