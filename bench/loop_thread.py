"""The sync face's cost: LoopThread against anyio's blocking portal, in one run.

Prints a table: per-call overhead of a trivial coroutine, how long an event emitted on the
loop takes to reach the caller's thread, and whether a Ctrl-C in the caller keeps the id of
a create already sent (the reason LoopThread stays: docs/architecture.md).

    uv run --locked --extra test python bench/loop_thread.py
"""

from __future__ import annotations

import _thread
import asyncio
import statistics
import threading
import time
from typing import Any

import anyio
from anyio.from_thread import start_blocking_portal

from magicgif_widget.client.errors import GenerationInterrupted
from magicgif_widget.client.models import Created
from magicgif_widget.client.sync import LoopThread

CALLS = 2000
EVENTS = 200


async def _nothing() -> int:
    return 1


def _per_call(run: Any) -> float:
    started = time.perf_counter()
    for _ in range(CALLS):
        run()
    return (time.perf_counter() - started) / CALLS * 1e6


def _loop_thread_event_latency(loop: LoopThread) -> float:
    lags: list[float] = []

    async def emitter(emit: Any) -> None:
        for _ in range(EVENTS):
            emit(time.perf_counter())
            await asyncio.sleep(0.002)

    loop.run_events(emitter, lambda sent: lags.append(time.perf_counter() - sent))
    return statistics.median(lags) * 1e3


def _portal_event_latency(portal: Any) -> float:
    # The portal relays calls, not events: a callback from the loop runs on the loop's
    # thread. Handing events to the caller's thread needs a queue read by the caller.
    import queue

    events: queue.SimpleQueue[float] = queue.SimpleQueue()
    lags: list[float] = []

    async def emitter() -> None:
        for _ in range(EVENTS):
            events.put(time.perf_counter())
            await anyio.sleep(0.002)

    future = portal.start_task_soon(emitter)
    while not future.done() or not events.empty():
        try:
            sent = events.get(timeout=0.1)
            lags.append(time.perf_counter() - sent)
        except queue.Empty:
            pass
    return statistics.median(lags) * 1e3


def _interrupt_soon() -> None:
    threading.Timer(0.2, _thread.interrupt_main).start()


def _loop_thread_keeps_the_id(loop: LoopThread) -> str:
    async def create(emit: Any) -> None:
        emit(Created("cm-sent", None))  # the create's answer came
        await asyncio.sleep(10)  # then the poll waits

    _interrupt_soon()
    try:
        loop.run_events(create, None)
    except GenerationInterrupted as exc:
        return f"yes ({exc.project_id})" if exc.project_id == "cm-sent" else "no"
    return "no interrupt"


def _portal_keeps_the_id(portal: Any) -> str:
    async def create() -> None:
        await anyio.sleep(10)

    _interrupt_soon()
    try:
        portal.call(create)
    except KeyboardInterrupt:
        # The task still runs on the portal's loop: nothing canceled it, and the caller
        # holds no id (the portal carries only a return value or an exception).
        return "no: the task runs on, no id"
    return "no interrupt"


def main() -> None:
    loop = LoopThread("bench")
    with start_blocking_portal() as portal:
        rows = [
            (
                "µs per call (trivial coroutine)",
                f"{_per_call(lambda: loop.run(_nothing)):.0f}",
                f"{_per_call(lambda: portal.call(_nothing)):.0f}",
            ),
            (
                "ms, event on the loop → caller's thread (median)",
                f"{_loop_thread_event_latency(loop):.2f}",
                f"{_portal_event_latency(portal):.2f}",
            ),
            (
                "Ctrl-C after the create: id kept, work canceled",
                _loop_thread_keeps_the_id(loop),
                _portal_keeps_the_id(portal),
            ),
        ]
    loop.stop()
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure':<{width}} | LoopThread | anyio portal |")
    print(f"|{'-' * (width + 2)}|------------|--------------|")
    for name, ours, theirs in rows:
        print(f"| {name:<{width}} | {ours} | {theirs} |")


if __name__ == "__main__":
    main()
