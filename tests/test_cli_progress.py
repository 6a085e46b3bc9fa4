"""``magicgif generate``'s progress on stderr: a tqdm bar on a (pseudo-)terminal, plain status
lines in a pipe or a log, the token in neither."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from magicgif_widget.cli_output import Progress
from magicgif_widget.client.models import Created, StatusChanged

from .emulator_process import emulator_process
from .loopback import HTTP
from .terminal import run_on_a_terminal

MAGICGIF = [sys.executable, "-m", "magicgif_widget.cli"]
TOKEN = "cli-progress-canary-6d1f"


def on_a_terminal(*args: str, cwd: Path, rows: int = 40, cols: int = 100) -> tuple[int, str, str]:
    """Run magicgif (with the canary token) with stderr on a ``rows`` x ``cols`` terminal."""
    env = {**os.environ, "MAGIC_HOUR_API_TOKEN": TOKEN}
    return run_on_a_terminal([*MAGICGIF, *args], cwd=cwd, env=env, rows=rows, cols=cols)


@pytest.mark.parametrize("rows", [40, 0], ids=["sized", "never-sized"])
def test_on_a_terminal_one_tqdm_bar_under_the_job_line(tmp_path: Path, rows: int):
    with emulator_process("--render-seconds", "1", "--token", TOKEN) as url:
        code, screen, stdout = on_a_terminal(
            "generate", "cat", "-o", "out", "--base-url", url, cwd=tmp_path, rows=rows
        )
    assert code == 0, screen
    assert re.search(r"magicgif: job cm\w+ created\r?\n", screen)
    assert re.search(r"magicgif:\s+\d+%\|.*\| rendering\s+\[00:0\d\]", screen)
    assert re.search(r"magicgif: 100%\|.*\| complete\s+\[00:0\d\]\r?\n", screen)
    assert "magicgif: done: project cm" in screen
    assert TOKEN not in screen and TOKEN not in stdout
    assert Path(stdout.strip()).suffix == ".gif"


def test_an_error_on_a_terminal_follows_the_bar_without_a_blank_line(tmp_path: Path):
    with emulator_process("--render-seconds", "0.2", "--token", TOKEN) as url:
        HTTP.post(f"{url}/emulator/faults", json={"route": "create", "outcome": "error"})
        code, screen, _ = on_a_terminal("generate", "cat", "--base-url", url, cwd=tmp_path)
    assert code == 1
    lines = [line.rsplit("\r", 1)[-1] for line in screen.replace("\r\n", "\n").split("\n")]
    last = max(i for i, line in enumerate(lines) if line.strip())
    assert lines[last].startswith("magicgif: error: job cm") and "render_failed" in lines[last]
    assert "%|" in lines[last - 1]  # the bar's last state, then the error: no empty line
    assert TOKEN not in screen


def test_off_a_terminal_one_plain_line_per_status(tmp_path: Path):
    with emulator_process("--render-seconds", "1.5", "--token", TOKEN) as url:
        proc = subprocess.run(
            [*MAGICGIF, "generate", "cat", "-o", "out", "--base-url", url],
            cwd=tmp_path,
            env={**os.environ, "MAGIC_HOUR_API_TOKEN": TOKEN},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr and "%|" not in proc.stderr and "\x1b" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert re.fullmatch(r"magicgif: job cm\w+ created", lines[0])
    statuses = [re.fullmatch(r"magicgif: (\w+) \(\d+\.\ds\)", line) for line in lines[1:-1]]
    assert [m.group(1) for m in statuses if m] == ["queued", "rendering", "downloading", "complete"]
    assert lines[-1].startswith("magicgif: done: project cm")
    assert TOKEN not in proc.stderr + proc.stdout


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_draws_a_status_once_per_change_and_closes_on_exit():
    out = Terminal()
    with Progress(out, estimate=10.0) as progress:
        progress(Created("cm1", 50))
        progress(StatusChanged("cm1", "rendering", 1.0, None))
        progress(StatusChanged("cm1", "rendering", 1.0, None))
    text = out.getvalue()
    assert "magicgif: job cm1 created\n" in text
    assert text.count("| rendering") == 2  # drawn once, then once more by close()
    assert text.endswith("\n") and progress.status == "rendering"
