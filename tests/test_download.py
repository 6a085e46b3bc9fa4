"""Downloading a finished job's output: hostile URLs fail typed and leave nothing, a truncated
body is caught (over HTTP by the dropped connection, in the sandbox by the length check) and
retried. ``place`` itself is in test_place.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.responses import JSONResponse

from magicgif_widget import Client, DownloadError, Retrying
from magicgif_widget.emulator import BackgroundServer

from .conftest import FAST_POLL, FAST_RETRY, PROMPT, Server, leftovers
from .fired import assert_fired
from .scripted import Scripted, project


@pytest.mark.parametrize(
    "url,needle",
    [("BASE/loop", "TooManyRedirects"), ("file:///etc/passwd", "'file'"), ("BASE/x", "404")],
)
def test_hostile_downloads_fail_typed_and_leave_nothing(tmp_path, url, needle):
    """A finished job whose download redirects forever, or points elsewhere."""
    server = Scripted()
    server.create = lambda r: JSONResponse({"id": "../../etc/evil", "credits_charged": 50})
    server.poll = project(id="../../etc/evil", downloads=[{"url": url}])
    with BackgroundServer(server) as srv:  # type: ignore[arg-type]
        with Client(base_url=srv.url, poll=FAST_POLL, retry=FAST_RETRY) as client:
            with pytest.raises(DownloadError) as info:
                client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=tmp_path)
    assert needle in str(info.value) and info.value.project_id == "../../etc/evil"
    assert list(tmp_path.iterdir()) == []


def test_truncated_download_over_http_is_retried(client: Client, server: Server, tmp_path):
    server.fault(route="download", kind="truncate", times=2)
    events: list = []
    res = client.v1.ai_gif_generator.generate(
        style=PROMPT, download_directory=tmp_path, on_event=events.append
    )
    assert Path(res.downloaded_paths[0]).is_file() and leftovers(tmp_path) == []
    retries = [e for e in events if isinstance(e, Retrying)]
    assert [r.operation for r in retries] == ["download", "download"], retries
    assert_fired(server, 2)
    assert server.requests("download") == 3  # two cut short, then the whole file


def test_sandbox_truncation_is_caught_by_the_length_check(tmp_path):
    from magicgif_widget.emulator import sandbox_emulator

    emulator = sandbox_emulator()
    emulator.clear()  # the process's one sandbox: no rule or count of another test's
    emulator.add_fault(route="download", kind="truncate")
    events: list = []
    with Client(sandbox=True, poll=FAST_POLL, retry=FAST_RETRY) as client:
        res = client.v1.ai_gif_generator.generate(
            style=PROMPT, download_directory=tmp_path, on_event=events.append
        )
    reasons = [e.reason for e in events if e.kind == "retrying"]
    assert reasons and reasons[0].startswith("truncated:")
    assert Path(res.downloaded_paths[0]).is_file() and leftovers(tmp_path) == []
    assert emulator.faults.applied == 1 and emulator.faults.list() == []  # the fault fired
