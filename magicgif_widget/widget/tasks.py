"""The kernel's loop as the widget uses it: run a coroutine there from any thread, cancel,
await from another loop, and wind down before the client closes."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Coroutine
from typing import Any, Protocol

Task = Any  # an asyncio.Task on the kernel's loop, or a concurrent future from another thread


class Closable(Protocol):
    async def close(self) -> None: ...


class KernelLoop:
    """The loop jobs run on: the one running when the widget was made (the kernel's), else
    one private loop thread (a plain script)."""

    def __init__(self) -> None:
        self.loop = running_loop()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> Task:
        """Run ``coro`` as a task on the kernel's loop (from any thread)."""
        running = running_loop()
        if self.loop is None or self.loop.is_closed():
            self.loop = running
        if self.loop is None:
            self.loop = _fallback_loop()
        if running is self.loop:
            return self.loop.create_task(coro)
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def alive(self) -> bool:
        return self.loop is not None and not self.loop.is_closed()


def awaitable(task: Task) -> Any:
    """``task`` as something the caller's loop can await (or the future itself)."""
    if isinstance(task, concurrent.futures.Future) and running_loop() is not None:
        return asyncio.wrap_future(task)
    return task


def done() -> Any:
    """An awaitable that is already done (with None)."""
    loop = running_loop()
    future: Any = loop.create_future() if loop is not None else concurrent.futures.Future()
    future.set_result(None)
    return future


def cancel(task: Task) -> None:
    """Cancel ``task`` from any thread (an asyncio Task is canceled on its own loop)."""
    if task.done():
        return
    if isinstance(task, asyncio.Task) and task.get_loop() is not running_loop():
        if not task.get_loop().is_closed():
            task.get_loop().call_soon_threadsafe(task.cancel)  # a Task is not thread-safe
    else:
        task.cancel()  # a concurrent future cancels its task on the owning loop


def observe(task: Task) -> None:
    """Mark a task's exception as seen: the widget already shows it."""
    if not task.cancelled():
        task.exception()


async def close_after(tasks: list[Task], client: Closable) -> None:
    """Let canceled jobs finish their cancellation (one may be learning its id), then close."""
    for task in tasks:
        if task is not None:
            with contextlib.suppress(BaseException):
                await (
                    asyncio.wrap_future(task)
                    if isinstance(task, concurrent.futures.Future)
                    else task
                )
    await client.close()


def running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


_fallback: Any = None


def _fallback_loop() -> asyncio.AbstractEventLoop:
    """Outside a kernel (a plain script) jobs run on one private loop thread."""
    global _fallback
    if _fallback is None:
        from ..client.sync import LoopThread

        _fallback = LoopThread("magicgif-widget")
    return _fallback.loop  # type: ignore[no-any-return]
