"""The magicgif command, run as a user runs it: a subprocess, on the sandbox or over loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from .emulator_process import emulator_process
from .loopback import HTTP

MAGICGIF = [sys.executable, "-m", "magicgif_widget.cli"]


def run(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60):
    full = {**os.environ, "MAGICGIF_SANDBOX_RENDER_SECONDS": "0.3", **(env or {})}
    return subprocess.run(
        [*MAGICGIF, *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=timeout
    )


def test_generate_on_the_sandbox_writes_an_animated_gif(tmp_path: Path):
    proc = run("generate", "Cute dancing cat, pixel art", "-o", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip())
    assert path.parent == tmp_path / "out" and path.suffix == ".gif"
    with Image.open(path) as im:
        assert im.is_animated and im.n_frames >= 8
    assert "SANDBOX" in proc.stderr and "MAGIC_HOUR_API_TOKEN" in proc.stderr
    assert "complete" in proc.stderr
    assert os.listdir(tmp_path / "out") == [path.name]


@pytest.mark.parametrize(
    "args,needle,code",
    [
        (["generate", ""], "style.prompt: must not be empty", 2),
        (["generate", "x" * 501], "at most 500", 2),
        (["generate", "cat", "--format", "png"], "invalid choice: 'png'", 2),
        (["generate", "cat", "--timeout", "soon"], "not a number", 2),
        (["generate", "cat", "-o", "file.txt"], "exists and is not a directory", 2),
    ],
)
def test_errors_are_one_specific_line(tmp_path: Path, args, needle, code):
    (tmp_path / "file.txt").write_text("x")
    proc = run(*args, cwd=tmp_path)
    assert proc.returncode == code
    last = proc.stderr.strip().splitlines()[-1]
    assert needle in last and "Traceback" not in proc.stderr


def test_job_failure_exits_1_with_the_project_id(tmp_path: Path):
    with emulator_process("--render-seconds", "0.2") as url:
        HTTP.post(f"{url}/emulator/faults", json={"route": "create", "outcome": "error"})
        proc = run("generate", "cat", "--base-url", url, cwd=tmp_path)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("magicgif: error: job cm") and "render_failed" in last
    assert "SANDBOX" not in proc.stderr


def test_emulator_command_with_token_and_output_file(tmp_path: Path):
    payload = tmp_path / "fixed.gif"
    Image.new("RGB", (8, 8), "red").save(payload)
    args = ("--render-seconds", "0.1", "--output-file", str(payload), "--token", "s3cret")
    with emulator_process(*args) as url:
        body = {"style": {"prompt": "cat"}}
        assert HTTP.post(f"{url}/v1/ai-gif-generator", json=body).status_code == 401
        env = {"MAGIC_HOUR_API_TOKEN": "s3cret"}
        proc = run("generate", "cat", "--base-url", url, "-o", "o", cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stderr
        assert Path(proc.stdout.strip()).read_bytes() == payload.read_bytes()
        bad = run(
            "generate", "cat", "--base-url", url, cwd=tmp_path, env={"MAGIC_HOUR_API_TOKEN": "nope"}
        )
        assert bad.returncode == 1 and "401 unauthorized" in bad.stderr
        assert "nope" not in bad.stderr
    with pytest.raises(httpx.TransportError):  # Ctrl-C stopped it
        HTTP.get(f"{url}/emulator/health", timeout=1)


def test_ctrl_c_names_the_job_and_exits_130(tmp_path: Path):
    with emulator_process("--render-seconds", "30") as url:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        gen = subprocess.Popen(
            [*MAGICGIF, "generate", "cat", "--base-url", url],
            cwd=tmp_path,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert gen.stderr is not None
        line = ""
        deadline = time.monotonic() + 20
        while "created" not in line and time.monotonic() < deadline:
            line = gen.stderr.readline()
        project_id = line.split("job ")[1].split()[0]
        t0 = time.monotonic()
        gen.send_signal(signal.SIGINT)
        rest = gen.communicate(timeout=10)[1]
        assert time.monotonic() - t0 < 3
        assert gen.returncode == 130
        assert f"project {project_id} continues on the server" in rest


def test_help_lists_the_commands_as_the_readme_does_and_version_prints(capsys):
    from magicgif_widget import __version__
    from magicgif_widget.cli import main, parser

    text = parser().format_help()
    order = ["generate", "batch", "jobs", "resume", "account", "emulator"]
    assert [text.index(f"    {name}  ") for name in order] == sorted(
        text.index(f"    {name}  ") for name in order
    )
    assert "{generate," not in text
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"magicgif {__version__}\n"
