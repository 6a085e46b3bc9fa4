"""``LoopThread``, the sync client's engine: coroutines run on a private event loop in a helper
thread, events come back to the caller's thread, Ctrl-C cancels the work yet keeps the job id,
and a stopped loop refuses further calls with ``ClientClosedError``.

The unit tests drive a real ``LoopThread`` with real coroutines and real signals (a SIGINT
raised in the main thread is what Ctrl-C is); the last two run real processes against the
loopback emulator.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from magicgif_widget import ClientClosedError, GenerationInterrupted
from magicgif_widget.client.models import Created
from magicgif_widget.client.sync import LoopThread

from .conftest import Server, leftovers
from .fired import assert_fired


@dataclass(frozen=True)
class Note:
    """A stand-in progress event (the relay passes events through without reading them)."""

    text: str
    kind: str = "note"


@pytest.fixture
def runner() -> Iterator[LoopThread]:
    loop_thread = LoopThread(name="test-loop")
    yield loop_thread
    loop_thread.stop()


def ctrl_c() -> None:
    """Press Ctrl-C: SIGINT to this process, handled in the main thread (this one)."""
    assert threading.current_thread() is threading.main_thread()
    signal.raise_signal(signal.SIGINT)


def interrupted(call: Callable[[], Any]) -> GenerationInterrupted:
    """The ``GenerationInterrupted`` that ``call()`` ends with. A bare KeyboardInterrupt (one
    the runner failed to turn into an interrupt) fails the test instead of stopping pytest."""
    try:
        call()
    except GenerationInterrupted as exc:
        return exc
    except KeyboardInterrupt as exc:
        pytest.fail(f"a bare {exc!r} escaped, not GenerationInterrupted")
    pytest.fail("the call ended without an interrupt")


# -- running coroutines ----------------------------------------------------------------------


def test_run_returns_the_coroutines_result_computed_on_the_loop_thread(runner: LoopThread):
    async def where() -> tuple[int, asyncio.AbstractEventLoop]:
        await asyncio.sleep(0)
        return threading.get_ident(), asyncio.get_running_loop()

    ident, loop = runner.run(where)
    assert ident != threading.get_ident() and loop is runner.loop
    assert runner.run(where) == (ident, loop)  # one private loop, one thread, for every call


def test_run_raises_the_coroutines_own_error(runner: LoopThread):
    async def fails() -> None:
        raise LookupError("no such thing")

    with pytest.raises(LookupError, match="no such thing"):
        runner.run(fails)
    assert runner.alive  # an error ends the call, not the loop


def test_run_works_where_the_callers_thread_already_runs_a_loop(runner: LoopThread):
    """A notebook cell's thread runs an event loop; a sync call inside it must not need it."""

    async def answer() -> str:
        return "from the private loop"

    async def cell() -> tuple[str, bool]:
        outer = asyncio.get_running_loop()
        return runner.run(answer), runner.loop is not outer

    assert asyncio.run(cell()) == ("from the private loop", True)


def test_a_call_from_the_loop_thread_itself_is_refused_not_deadlocked(runner: LoopThread):
    async def inner() -> None:
        return None

    async def reenters() -> str:
        try:
            runner.run(inner)
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    assert "progress callback" in runner.run(reenters)


# -- events ----------------------------------------------------------------------------------


def test_events_reach_the_caller_in_its_thread_in_order_before_the_result(runner: LoopThread):
    seen: list[tuple[str, int]] = []

    async def work(emit: Any) -> str:
        for n in range(5):
            emit(Note(f"step {n}"))
            await asyncio.sleep(0)
        emit(Note("last"))  # emitted just before returning: still delivered
        return "done"

    result = runner.run_events(work, lambda e: seen.append((e.text, threading.get_ident())))
    assert result == "done"
    assert [text for text, _ in seen] == [*(f"step {n}" for n in range(5)), "last"]
    assert {ident for _, ident in seen} == {threading.get_ident()}


def test_a_broken_callback_is_logged_and_loses_nothing(runner: LoopThread, caplog):
    delivered: list[str] = []

    def callback(event: Note) -> None:
        delivered.append(event.text)
        if event.text == "b":
            raise ValueError("callback bug")

    async def work(emit: Any) -> int:
        for text in "abc":
            emit(Note(text))
        return 42

    with caplog.at_level(logging.ERROR, logger="magicgif_widget"):
        assert runner.run_events(work, callback) == 42
    assert delivered == ["a", "b", "c"]
    assert "progress callback failed on note event" in caplog.text


def test_iterate_yields_events_here_then_raises_the_error_last(runner: LoopThread):
    threads: set[int] = set()

    async def work(emit: Any) -> None:
        for n in range(3):
            emit(Note(str(n)))
            await asyncio.sleep(0)
        raise PermissionError("refused at the end")

    got = []
    with pytest.raises(PermissionError, match="refused at the end"):
        for event in runner.iterate(work):
            threads.add(threading.get_ident())
            got.append(event.text)
    assert got == ["0", "1", "2"] and threads == {threading.get_ident()}


def test_leaving_an_iteration_early_cancels_the_work(runner: LoopThread):
    cancelled = threading.Event()

    async def work(emit: Any) -> None:
        emit(Note("first"))
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    events = runner.iterate(work)
    assert next(events).text == "first"
    events.close()  # the caller stops reading (a break out of the for loop)
    assert cancelled.wait(10), "the abandoned work kept running"


# -- Ctrl-C ----------------------------------------------------------------------------------


def test_ctrl_c_cancels_the_work_and_keeps_the_project_id(runner: LoopThread):
    cancelled = threading.Event()

    async def work(emit: Any) -> None:
        emit(Created(project_id="cm-ctrl-c", credits_charged=50))
        emit(Note("rendering"))
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    def on_event(event: Any) -> None:
        if event.kind == "note":
            ctrl_c()

    error = interrupted(lambda: runner.run_events(work, on_event))
    assert error.project_id == "cm-ctrl-c" and isinstance(error, KeyboardInterrupt)
    assert "cm-ctrl-c continues on the server" in str(error)
    assert cancelled.is_set()  # cancelled, and waited for, before the interrupt is raised
    assert runner.alive  # the loop serves the next call


def test_ctrl_c_waits_for_cancelled_work_that_is_still_learning_the_id(runner: LoopThread):
    """A create whose answer arrives after Ctrl-C: the id it brings is not lost."""

    async def work(emit: Any) -> None:
        emit(Note("sending the create"))
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # the answer is on its way
            emit(Created(project_id="cm-late-answer", credits_charged=50))
            raise

    error = interrupted(lambda: runner.run_events(work, lambda event: ctrl_c()))
    assert error.project_id == "cm-late-answer"


def test_ctrl_c_before_any_job_says_none_was_created(runner: LoopThread):
    async def work(emit: Any) -> None:
        emit(Note("checking arguments"))
        await asyncio.sleep(3600)

    error = interrupted(lambda: runner.run_events(work, lambda event: ctrl_c()))
    assert error.project_id is None and "no job created" in str(error)


def test_ctrl_c_while_waiting_for_the_next_event_keeps_the_project_id(runner: LoopThread):
    """Ctrl-C lands while the iterator waits for an event: it ends as ``GenerationInterrupted``
    with the id (one pressed in the caller's own loop body is the caller's KeyboardInterrupt)."""
    consumed = threading.Event()
    main = threading.main_thread().ident
    assert main is not None
    cancelled = threading.Event()

    async def work(emit: Any) -> None:
        emit(Created(project_id="cm-streamed", credits_charged=50))
        await asyncio.to_thread(consumed.wait)  # the caller is back in the iterator, waiting
        await asyncio.sleep(0.1)
        signal.pthread_kill(main, signal.SIGINT)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    def consume() -> None:
        for event in runner.iterate(work):
            assert event.kind == "created"
            consumed.set()

    error = interrupted(consume)
    assert error.project_id == "cm-streamed" and cancelled.is_set()


# -- stopping --------------------------------------------------------------------------------


def test_stop_cancels_running_work_then_awaits_cleanup_then_ends_the_thread():
    runner = LoopThread()
    order: list[str] = []
    started = threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            order.append("work cancelled")
            raise

    async def cleanup() -> None:
        await asyncio.sleep(0)
        order.append(f"cleanup on the loop thread: {threading.current_thread().name}")

    orphan = asyncio.run_coroutine_threadsafe(forever(), runner.loop)
    assert started.wait(10)
    runner.stop(cleanup)
    assert order == ["work cancelled", "cleanup on the loop thread: magicgif-loop"]
    assert orphan.cancelled() and not runner.alive and runner.loop.is_closed()
    runner.stop(cleanup)  # idempotent: nothing runs twice
    assert len(order) == 2


def test_a_failing_cleanup_is_logged_and_the_loop_still_stops(caplog):
    runner = LoopThread()

    async def cleanup() -> None:
        raise OSError("socket already gone")

    with caplog.at_level(logging.ERROR, logger="magicgif_widget"):
        runner.stop(cleanup)
    assert not runner.alive and "closing the client failed" in caplog.text


def test_calls_after_stop_raise_client_closed():
    runner = LoopThread()
    runner.stop()

    async def anything() -> int:
        return 1

    with pytest.raises(ClientClosedError, match="closed"):
        runner.run(anything)
    with pytest.raises(ClientClosedError):
        runner.run_events(lambda emit: anything(), None)
    with pytest.raises(ClientClosedError):
        next(runner.iterate(lambda emit: anything()))


def test_a_call_cut_off_by_stop_raises_client_closed_with_the_project_id():
    runner = LoopThread()
    caught: list[BaseException] = []
    created = threading.Event()

    async def work(emit: Any) -> None:
        emit(Created(project_id="cm-cut-off", credits_charged=50))
        created.set()
        await asyncio.sleep(3600)

    def caller() -> None:
        try:
            runner.run_events(work, None)
        except BaseException as exc:
            caught.append(exc)

    thread = threading.Thread(target=caller)
    thread.start()
    assert created.wait(10)
    runner.stop()
    thread.join(10)
    assert not thread.is_alive()
    (error,) = caught
    assert isinstance(error, ClientClosedError) and error.project_id == "cm-cut-off"


# -- in real processes -----------------------------------------------------------------------

CREATE_SCRIPT = """
import sys
from magicgif_widget import Client, GenerationInterrupted
client = Client(base_url=sys.argv[1])
print("sending", flush=True)
try:
    client.v1.ai_gif_generator.create(style={"prompt": "slow create"})
except GenerationInterrupted as exc:
    print("INTERRUPTED", exc.project_id, flush=True)
"""


@pytest.mark.timeout(60)
def test_ctrl_c_during_a_sync_create_still_learns_the_id(server: Server):
    """SIGINT while the create's answer is late: the process still learns (and prints) the id
    of the job the create made."""
    server.fault(route="create", kind="delay", seconds=1.5)
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CREATE_SCRIPT), server.url],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "sending"
    while server.requests("create") == 0:  # the create is at the server, its answer delayed
        assert proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=30)[0]
    assert "INTERRUPTED" in out, out
    pid = out.split("INTERRUPTED ")[1].split()[0]
    assert pid in server.emulator.store.jobs and server.stats()["creates"] == 1
    assert_fired(server, 1)


@pytest.mark.timeout(60)
def test_sigterm_in_the_cli_leaves_no_partial_file(server: Server, tmp_path):
    """The CLI turns SIGTERM into the same interrupt as Ctrl-C: the loop thread cancels the
    stalled download, its partial file goes, and the job is named as going on."""
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
    while not leftovers(tmp_path):  # the stalled download's partial file is there
        assert proc.poll() is None
        time.sleep(0.02)
    # The partial file can appear just before the request reaches the stall: wait for it.
    deadline = time.monotonic() + 10
    while server.stats()["faults_applied"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert_fired(server, 1)  # the download met the stall
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=30)[1]
    assert proc.returncode == 130 and "continues on the server" in rest
    assert list(tmp_path.iterdir()) == []
