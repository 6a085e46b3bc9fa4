"""The README's "If a job is interrupted" commands, read from the README and run in order, as
printed, on a batch killed with one item never sent; the emulator counts what each created."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from magicgif_widget import Client, pickup

from .conftest import FAST_POLL, Server
from .test_money_cli import creates, gifs, prompts, run_advice, wait_for

ROOT = Path(__file__).parents[1]
MAGICGIF = [sys.executable, "-m", "magicgif_widget.cli"]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## If a job is interrupted", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None, "the section's command block"
    return [line.split("  #", 1)[0].strip() for line in block.group(1).splitlines() if line]


def test_the_readme_names_these_commands():
    assert readme_commands() == [
        "magicgif jobs",
        "magicgif resume --all",
        "magicgif batch --resume out --collect-only",
        "magicgif batch --resume out",
        "magicgif account",
    ]


def test_the_readme_commands_do_what_it_says(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MAGICGIF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    server.reset(render_seconds=4.0)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            *MAGICGIF,
            "batch",
            str(prompts(tmp_path, 3)),
            "-o",
            "out",
            "--concurrency",
            "2",
            "--base-url",
            server.url,
        ],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:  # two made and journaled, the third still waiting for a slot: killed
        wait_for(
            lambda: creates(server) == 2 and len([e for e in pickup.jobs() if e.project_id]) == 2
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    jobs, resume_all, collect_only, resume, account = readme_commands()

    listed = run_advice(jobs)
    assert listed.returncode == 0 and "3 items, 2 created, 1 never sent" in listed.stdout
    collected = run_advice(resume_all)
    assert collected.returncode == 0, collected.stderr
    assert len(gifs(out)) == 2 and creates(server) == 2  # collected, nothing created
    only = run_advice(collect_only)
    assert only.returncode == 0 and "1 never sent" in only.stderr
    assert creates(server) == 2
    (advice,) = re.findall(r"to create them: (magicgif batch --resume \S+)", only.stderr)
    # what the CLI printed is the README's next command, with the folder made absolute
    assert advice == resume.replace(" out", f" {out.resolve()}")
    server.emulator.store.render_seconds = 0.3
    finished = run_advice(resume)
    assert finished.returncode == 0, finished.stderr
    assert "batch of 3: 1 to create, 50 credits" in finished.stderr
    assert len(gifs(out)) == 3 and creates(server) == 3  # only the one never sent
    told = run_advice(account)  # no token in this environment: it says it is the sandbox
    assert told.returncode == 0 and "SANDBOX" in told.stdout
    # and the README's Python line: generate_many(resume="out") continues from the record
    with Client(base_url=server.url, poll=FAST_POLL) as client:
        results = client.v1.ai_gif_generator.generate_many(resume="out", progress=False)
    assert results.counts.complete == 3 and results.counts.reused == 3 and creates(server) == 3
