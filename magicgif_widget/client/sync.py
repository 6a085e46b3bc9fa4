"""The synchronous face: the async core runs on a private event loop in a helper thread.

That works in plain scripts and inside a notebook cell (whose thread already runs a loop)
without patching any loop. Progress callbacks run in the caller's thread; Ctrl-C cancels
the work promptly and raises ``GenerationInterrupted`` carrying the project id.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import queue
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

from .errors import ClientClosedError, GenerationInterrupted
from .models import Created

log = logging.getLogger("magicgif_widget")

P = ParamSpec("P")
R = TypeVar("R")
# Events and the end of a call wake the caller at once; this bounds how long a Ctrl-C waits
# where a lock wait cannot be interrupted (Windows). On POSIX the signal interrupts the wait.
TICK = 0.1
_DONE = object()  # put on a call's event queue when the call has ended
CANCEL_GRACE = 5.0  # seconds to let canceled work finish (it may be learning a job's id)

# Events are the workflow's ``Event``s or a batch's ``BatchProgress``: relayed, never inspected
# (but for ``Created``, whose id a Ctrl-C must not lose).
Emit = Callable[[Any], None]
Factory = Callable[[Emit], Coroutine[Any, Any, R]]


class LoopThread:
    """A daemon thread running one event loop; coroutines are submitted to it and awaited."""

    def __init__(self, name: str = "magicgif-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._calls: set[asyncio.Task[Any]] = set()  # the calls running, not their inner tasks
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self.loop.is_closed()

    def run(self, factory: Callable[[], Coroutine[Any, Any, R]]) -> R:
        """Run ``factory()`` on the loop and wait for it; Ctrl-C cancels it."""
        return self.run_events(lambda _emit: factory(), None)

    def run_events(self, factory: Factory[R], on_event: Emit | None) -> R:
        """Run ``factory(emit)`` on the loop; events reach ``on_event`` in this thread."""
        events: queue.SimpleQueue[Any] = queue.SimpleQueue()
        box: dict[str, str] = {}
        future = self._submit(factory, events, box)
        try:
            for event in _until_done(events):
                _deliver(event, on_event)
            return _result(future, box)
        except KeyboardInterrupt:
            future.cancel()
            concurrent.futures.wait([future], timeout=CANCEL_GRACE)
            raise GenerationInterrupted(box.get("project_id")) from None

    def iterate(self, factory: Factory[Any]) -> Iterator[Any]:
        """Run ``factory(emit)`` on the loop and yield its events here; its error comes last."""
        events: queue.SimpleQueue[Any] = queue.SimpleQueue()
        box: dict[str, str] = {}
        future = self._submit(factory, events, box)
        try:
            yield from _until_done(events)
            _result(future, box)
        except KeyboardInterrupt:
            future.cancel()
            concurrent.futures.wait([future], timeout=CANCEL_GRACE)
            raise GenerationInterrupted(box.get("project_id")) from None
        finally:
            if not future.done():
                future.cancel()

    def _submit(
        self, factory: Factory[R], events: queue.SimpleQueue[Any], box: dict[str, str]
    ) -> concurrent.futures.Future[R]:
        if threading.current_thread() is self._thread:
            raise RuntimeError("a sync Client call cannot be made from its own progress callback")
        if not self.alive:
            raise ClientClosedError("this Client is closed; create a new one")

        def emit(event: Any) -> None:
            if isinstance(event, Created):
                box["project_id"] = event.project_id
            events.put(event)

        async def main() -> R:
            task = asyncio.current_task()
            assert task is not None
            self._calls.add(task)
            try:
                return await factory(emit)
            finally:
                self._calls.discard(task)

        future = asyncio.run_coroutine_threadsafe(main(), self.loop)
        future.add_done_callback(lambda _future: events.put(_DONE))  # after every event
        return future

    def stop(self, cleanup: Callable[[], Coroutine[Any, Any, Any]] | None = None) -> None:
        """Cancel what still runs, await ``cleanup()``, stop the loop, join (idempotent).

        The calls are canceled first and awaited, so a workflow's own grace for an in-flight
        create still learns the job's id; whatever else is left is canceled after them.
        """
        if self.loop.is_closed():
            return

        async def shutdown() -> None:
            calls = list(self._calls)
            for call in calls:
                call.cancel()
            await asyncio.gather(*calls, return_exceptions=True)
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if cleanup is not None:
                try:
                    await cleanup()
                except Exception:
                    log.exception("closing the client failed")
            asyncio.get_running_loop().stop()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop)
        except RuntimeError:  # the loop closed meanwhile
            return
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)


def _result(future: concurrent.futures.Future[R], box: dict[str, str]) -> R:
    try:
        return future.result()
    except concurrent.futures.CancelledError:  # not by us: the client was closed meanwhile
        raise ClientClosedError(
            "the Client was closed while this call ran", project_id=box.get("project_id")
        ) from None


def _until_done(events: queue.SimpleQueue[Any]) -> Iterator[Any]:
    """A call's events as they come, until it has ended (woken by each, not by a timer)."""
    while True:
        try:
            event = events.get(timeout=TICK)
        except queue.Empty:
            continue
        if event is _DONE:
            return
        yield event


def _deliver(event: Any, on_event: Emit | None) -> None:
    if on_event is None:
        return
    try:
        on_event(event)
    except Exception:  # a broken progress callback must not lose the job
        log.exception("progress callback failed on %s event; ignored", event.kind)


class SyncResource:
    """A sync view of one async resource: ``_inner`` runs on ``_runner``'s loop.

    It keeps its ``owner`` (the ``Client``) alive, so ``Client().v1.x.generate(...)`` works:
    the client's thread stops only when nothing can reach it any more.
    """

    def __init__(self, inner: Any, runner: LoopThread, owner: object = None) -> None:
        self._inner = inner
        self._runner = runner
        self._owner = owner


def blocking(
    method: Callable[Concatenate[Any, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[SyncResource, P], R]:
    """The sync twin of an async resource method (same signature and docstring)."""

    def call(self: SyncResource, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._runner.run(lambda: method(self._inner, *args, **kwargs))

    functools.update_wrapper(call, method)
    return call


def blocking_with_events(
    method: Callable[Concatenate[Any, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[SyncResource, P], R]:
    """Like ``blocking``, with the ``on_event`` callback run in the caller's thread."""

    def call(self: SyncResource, /, *args: P.args, **kwargs: P.kwargs) -> R:
        on_event: Any = kwargs.pop("on_event", None)
        with_emit: dict[str, Any] = dict(kwargs)
        return self._runner.run_events(
            lambda emit: method(self._inner, *args, **{**with_emit, "on_event": emit}),
            on_event,
        )

    functools.update_wrapper(call, method)
    return call
