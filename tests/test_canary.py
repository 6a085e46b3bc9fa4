"""One canary token through every surface: it must appear nowhere but in the Authorization
header. Widget state and messages, a saved notebook, reprs, DEBUG logs, errors and their
tracebacks, the batch ledger, the job journal, and the CLI's output are all searched for it."""

from __future__ import annotations

import json
import logging
import os
import pickle
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from magicgif_widget import (
    AsyncClient,
    Client,
    GifWidget,
    JobFailedError,
    MagicHourError,
    ServerError,
)
from magicgif_widget.emulator import BackgroundServer, Emulator
from magicgif_widget.jobstore.journal import JOURNAL_NAME
from magicgif_widget.jobstore.ledger import LEDGER_NAME

from .conftest import FAST_POLL, FAST_RETRY, PROMPT

CANARY = "mhk_live_CANARY_9d41e7c3ab52"


class Seen:
    """Everything a surface produced, to be searched for the canary at the end."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.blobs: list[bytes] = []

    def add(self, *values: Any) -> None:
        for value in values:
            if isinstance(value, (bytes, bytearray, memoryview)):
                self.blobs.append(bytes(value))
            else:
                self.texts.append(value if isinstance(value, str) else repr(value))

    def error(self, exc: BaseException) -> None:
        self.add(str(exc), repr(exc), pickle.dumps(exc))
        self.add("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))

    def assert_clean(self) -> None:
        assert self.texts and self.blobs, "nothing was collected"
        for text in self.texts:
            assert CANARY not in text, text[:300]
        for blob in self.blobs:
            assert CANARY.encode() not in blob


@pytest.fixture
def guarded() -> Iterator[tuple[str, Emulator]]:
    """An emulator on loopback that demands the canary as its Bearer token."""
    emulator = Emulator(render_seconds=0.1, token=CANARY)
    with BackgroundServer(emulator) as srv:
        yield srv.url, emulator


async def test_the_canary_leaves_no_trace(guarded, tmp_path: Path, monkeypatch, caplog):
    url, emulator = guarded
    monkeypatch.setenv("MAGIC_HOUR_API_TOKEN", CANARY)
    monkeypatch.setenv("MAGICGIF_DATA_DIR", str(tmp_path / "data"))  # this test's own journal
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    seen = Seen()
    kwargs = {"base_url": url, "poll": FAST_POLL, "retry": FAST_RETRY, "timeout": 5}

    # the sync and async clients: a success, a failed job, a persistent server error
    with Client(**kwargs) as client:
        result = client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=tmp_path)
        seen.add(client, client.settings, result, result.model_dump())
        emulator.add_fault(route="create", outcome="error")
        with pytest.raises(JobFailedError) as failed:
            client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=tmp_path)
        seen.error(failed.value)
        seen.add(list(client.v1.ai_gif_generator.stream(style=PROMPT, download_directory=tmp_path)))
    async with AsyncClient(**kwargs) as aclient:
        emulator.add_fault(route="poll", status=503, times=None)
        with pytest.raises(ServerError) as down:
            await aclient.v1.ai_gif_generator.generate(style=PROMPT, download_directory=tmp_path)
        seen.error(down.value)
        emulator.faults.clear()
        seen.add(aclient, await aclient.v1.account.get())

    # a batch: its ledger is a file on disk
    with Client(**kwargs) as client:
        batch = client.v1.ai_gif_generator.generate_many(
            ["one", "two"], download_directory=tmp_path / "batch", progress=False
        )
        seen.add(batch, list(batch))
    seen.add((tmp_path / "batch" / LEDGER_NAME).read_bytes())

    # the widget: its synced state, its display bundle, and every message it sends
    messages: list[Any] = []
    widget = GifWidget(client=Client(**kwargs), prompt="a canary", download_directory=tmp_path)
    widget.send = lambda content, buffers=None: messages.append((content, buffers))  # type: ignore[method-assign]
    await widget.generate()
    widget._on_front_end_msg(widget, {"type": "media", "key": widget.media["key"], "req": 1}, [])
    widget.gallery_mode = True
    widget.prompt = "a canary\na second canary"
    await widget.generate()
    emulator.add_fault(route="create", status=401)
    widget.gallery_mode = False
    with pytest.raises(MagicHourError) as refused:
        await widget.generate()
    seen.error(refused.value)
    seen.add(json.dumps(widget.get_state(), default=repr), widget._repr_mimebundle_(), widget)
    seen.add(json.dumps([content for content, _ in messages], default=repr))
    seen.add(*(bytes(b) for _, buffers in messages for b in buffers or []))
    widget.close()

    # the user's job journal, every file of it (the WAL too), with the jobs above in it
    journal = sorted((tmp_path / "data").iterdir())
    assert any(path.name == JOURNAL_NAME for path in journal)
    stored = b"".join(path.read_bytes() for path in journal)
    assert PROMPT["prompt"].encode() in stored
    assert b"a second canary" in stored  # a gallery's items are journaled too
    seen.add(*(path.read_bytes() for path in journal))

    # the logs, at DEBUG, and every record's arguments
    seen.add(caplog.text, *(repr(r.__dict__) for r in caplog.records))
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)  # httpx did log
    seen.assert_clean()


def test_the_canary_stays_out_of_a_saved_notebook_and_the_cli(guarded, tmp_path: Path):
    url, emulator = guarded
    env = {**os.environ, "MAGIC_HOUR_API_TOKEN": CANARY}
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import logging, sys\n"
                "logging.basicConfig(level=logging.DEBUG, stream=sys.stdout)\n"
                "from magicgif_widget import Client, GifWidget\n"
                f"client = Client(base_url={url!r})\n"
                "client, client.settings"
            ),
            nbformat.v4.new_code_cell(
                "w = GifWidget(client=client, prompt='a saved canary', "
                f"download_directory={str(tmp_path)!r})\nawait w.generate()\nw"
            ),
            nbformat.v4.new_code_cell("client.v1.image_projects.get(id='nope')"),  # an error output
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    saved = tmp_path / "saved.ipynb"
    old = os.environ.get("MAGIC_HOUR_API_TOKEN")
    os.environ["MAGIC_HOUR_API_TOKEN"] = CANARY  # the kernel inherits it
    try:
        NotebookClient(nb, timeout=60, allow_errors=True, kernel_name="python3").execute()
    finally:
        if old is None:
            os.environ.pop("MAGIC_HOUR_API_TOKEN", None)
        else:
            os.environ["MAGIC_HOUR_API_TOKEN"] = old
    nbformat.write(nb, saved)
    text = saved.read_text()
    assert "NotFoundError" in text and "image/png" in text and "DEBUG" in text
    assert CANARY not in text

    def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "magicgif_widget.cli", *args, "--base-url", url],
            input=stdin,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    runs = [
        cli("generate", "a cli canary", "-o", str(tmp_path / "cli")),
        cli("batch", "-", "-o", str(tmp_path / "cli-batch"), stdin="one\ntwo\n"),
    ]
    emulator.add_fault(route="poll", status=500, times=None)
    runs.append(cli("generate", "a failing canary", "-o", str(tmp_path / "cli")))
    assert [r.returncode for r in runs] == [0, 0, 1]
    for run in runs:
        assert CANARY not in run.stdout + run.stderr
    assert (tmp_path / "cli-batch" / LEDGER_NAME).read_bytes().find(CANARY.encode()) == -1
