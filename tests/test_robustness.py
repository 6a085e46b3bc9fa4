"""Nothing is lost: resuming a job by id, closed clients, interrupts, hostile servers, pickling."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from magicgif_widget import (
    Client,
    ClientClosedError,
    CreateOutcomeUnknown,
    DownloadError,
    GenerationInterrupted,
    GenerationTimeout,
    ImageProject,
    JobFailedError,
    RateLimitError,
    ValidationError,
)
from magicgif_widget.emulator import BackgroundServer

from .conftest import FAST_POLL, FAST_RETRY, PROMPT, Server, leftovers
from .scripted import Scripted, project


def test_check_result_picks_up_a_job_after_a_timeout(client: Client, server: Server, tmp_path):
    server.reset(render_seconds=1.2)
    with pytest.raises(GenerationTimeout) as info:
        client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=tmp_path, timeout=0.3)
    pid = info.value.project_id
    assert pid and list(tmp_path.iterdir()) == []
    res = client.v1.image_projects.check_result(pid, download_directory=tmp_path)
    assert res.status == "complete" and res.downloaded_paths == [str(tmp_path / f"{pid}.gif")]
    assert server.stats()["creates"] == 1


def test_check_result_on_a_finished_job_makes_one_get(client: Client, server: Server, tmp_path):
    created = client.v1.ai_gif_generator.create(style=PROMPT)
    time.sleep(0.4)
    before = server.requests("poll")
    res = client.v1.image_projects.check_result(created.id, True, False)
    assert res.status == "complete" and res.downloaded_paths is None
    assert server.requests("poll") == before + 1


def test_check_result_raises_for_failed_jobs(client: Client, server: Server, tmp_path):
    server.fault(route="create", outcome="error")
    created = client.v1.ai_gif_generator.create(style=PROMPT)
    with pytest.raises(JobFailedError) as info:
        client.v1.image_projects.check_result(id=created.id, download_directory=tmp_path)
    assert info.value.project_id == created.id


def test_calls_after_close_raise_a_typed_error(client_kwargs):
    client = Client(**client_kwargs)
    client.close()
    client.close()  # idempotent
    with pytest.raises(ClientClosedError):
        client.v1.ai_gif_generator.create(style=PROMPT)


def test_close_while_another_thread_waits_keeps_the_project_id(client_kwargs, server, tmp_path):
    server.reset(render_seconds=30)
    client = Client(**client_kwargs)
    caught: list[BaseException] = []

    def worker() -> None:
        try:
            client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=tmp_path)
        except BaseException as exc:
            caught.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    while server.stats()["creates"] == 0:
        time.sleep(0.02)
    client.close()
    thread.join(5)
    assert not thread.is_alive()
    assert isinstance(caught[0], ClientClosedError)
    assert caught[0].project_id in server.emulator.store.jobs


def test_errors_survive_pickling():
    project = ImageProject(id="cm1", status="error")
    for err in (
        JobFailedError("failed", project=project, code="boom"),
        ValidationError("style.prompt", "empty"),
        RateLimitError("slow down", retry_after=2.0, project_id="cm1"),
        GenerationInterrupted("cm1"),
    ):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err)
        assert getattr(back, "project_id", None) == getattr(err, "project_id", None)


def test_tokens_a_header_cannot_carry_are_refused_without_echo(monkeypatch):
    with pytest.raises(ValidationError) as info:
        Client(token="mhk_live_abc\ndef", base_url="http://127.0.0.1:9")
    assert "abc" not in str(info.value) and info.value.field == "token"
    monkeypatch.setenv("MAGIC_HOUR_API_TOKEN", "mhk live")
    with pytest.raises(ValidationError, match=r"MAGIC_HOUR_API_TOKEN"):
        Client()


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


def test_unreadable_create_answer_is_an_unknown_outcome(tmp_path):
    async def create(request: Request) -> Response:
        return Response("<html>oops</html>", media_type="text/html")

    class App:
        app = Starlette(routes=[Route("/v1/ai-gif-generator", create, methods=["POST"])])

    with BackgroundServer(App()) as srv:  # type: ignore[arg-type]
        with Client(base_url=srv.url, retry=FAST_RETRY) as client:
            with pytest.raises(CreateOutcomeUnknown, match="probably exists"):
                client.v1.ai_gif_generator.create(style=PROMPT)


def test_truncated_download_over_http_is_retried_quickly(client: Client, server, tmp_path):
    server.fault(route="download", kind="truncate", times=2)
    t0 = time.monotonic()
    res = client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=tmp_path)
    assert time.monotonic() - t0 < 2.0 and Path(res.downloaded_paths[0]).is_file()
    assert leftovers(tmp_path) == []


def test_sandbox_truncation_is_caught_by_the_length_check(tmp_path):
    from magicgif_widget.emulator import sandbox_emulator
    from magicgif_widget.emulator.faults import Fault

    sandbox_emulator().faults.add(Fault.parse({"route": "download", "kind": "truncate"}))
    events: list = []
    with Client(sandbox=True, poll=FAST_POLL, retry=FAST_RETRY) as client:
        res = client.v1.ai_gif_generator.generate(
            style=PROMPT, download_directory=tmp_path, on_event=events.append
        )
    reasons = [e.reason for e in events if e.kind == "retrying"]
    assert reasons and reasons[0].startswith("truncated:")
    assert Path(res.downloaded_paths[0]).is_file() and leftovers(tmp_path) == []


SCRIPT = """
import sys
from magicgif_widget import Client, GenerationInterrupted
client = Client(base_url=sys.argv[1])
print("sending", flush=True)
try:
    client.v1.ai_gif_generator.create(style={"prompt": "slow create"})
except GenerationInterrupted as exc:
    print("INTERRUPTED", exc.project_id, flush=True)
"""


def test_ctrl_c_during_a_sync_create_still_learns_the_id(server: Server):
    server.fault(route="create", kind="delay", seconds=1.0)
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), server.url],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "sending"
    time.sleep(0.4)
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=10)[0]
    pid = out.split("INTERRUPTED ")[1].split()[0]
    assert pid in server.emulator.store.jobs


def test_sigterm_in_the_cli_leaves_no_partial_file(server: Server, tmp_path):
    server.fault(route="download", kind="stall", seconds=20)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable,
        "-m",
        "magicgif_widget.cli",
        "generate",
        "cat",
        "--base-url",
        server.url,
        "-o",
        str(tmp_path),
    ]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "downloading" in line:
            break
    deadline = time.monotonic() + 10
    while not leftovers(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert leftovers(tmp_path), "the download should be under way"
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=10)[1]
    assert proc.returncode == 130 and "continues on the server" in rest
    assert list(tmp_path.iterdir()) == []


def test_a_client_used_without_a_name_stays_open_for_the_call(server: Server, tmp_path):
    """``Client(...).v1.…generate(...)``: the temporary client must not close mid-call."""
    import gc

    gen = Client(base_url=server.url, poll=FAST_POLL, retry=FAST_RETRY).v1.ai_gif_generator
    gc.collect()
    res = gen.generate(style=PROMPT, download_directory=tmp_path)
    assert res.status == "complete"
    many = Client(base_url=server.url, poll=FAST_POLL).v1.ai_gif_generator.generate_many(
        ["a", "b"], download_directory=tmp_path / "b", progress=False
    )
    assert len(many.completed) == 2
