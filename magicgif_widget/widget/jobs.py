"""The widget's jobs: one at a time, each a task on the kernel's own loop.

``Jobs`` starts, cancels and closes them and runs the background reads. The work lives in
one module per kind: ``single_job`` (fresh or collected), ``gallery_job``, ``earlier_reader``
(the journal's cards) and ``account_reader`` (the balance), all sharing one ``Runner``.
"""

from __future__ import annotations

import time
from collections.abc import Coroutine
from typing import Any

from ..client.settings import Settings
from ..contract import DEFAULT_FORMAT
from ..jobstore.journal import BatchRecord, JournalEntry
from . import earlier, gallery_job, run_state, single_job, stills, tasks
from .account import AccountState
from .account_reader import AccountReader
from .earlier_reader import read_earlier
from .gallery_state import started as gallery_started
from .media import MediaStore, referenced
from .request import Request, estimate
from .runner import Runner
from .surface import Surface


class Jobs:
    """Starts, cancels and closes ``widget``'s jobs and reads its journal and balance."""

    def __init__(
        self, widget: Surface, settings: Settings, media: MediaStore, still: stills.StillOutput
    ) -> None:
        self.widget = widget
        self.settings = settings
        self.runner = Runner(widget, settings, media, still, reread=self._after_job)
        self.balance = AccountReader(self.runner)
        self.server = self.runner.server
        self.born = time.time()  # jobs journaled before this are "earlier"
        self.closed = False
        self._side: list[Any] = []  # refresh tasks, canceled on close
        self._shutdown: Any = None
        # The store serves only what the traits can still show.
        widget.observe(self._retain_media, names=["media", "history", "gallery"])

    @property
    def account_state(self) -> AccountState:
        """The last balance read."""
        return self.balance.state

    def busy(self) -> bool:
        return self.runner.busy()

    def current(self) -> Any:
        """The running task as something the caller's loop can await (or the future itself)."""
        return tasks.awaitable(self.runner.task)

    def start(self, job: Request, *, confirmed: bool = False, recheck: bool = False) -> Any:
        """A fresh job. Unless ``confirmed``, one that repeats a job still running at Magic
        Hour asks first (the ``confirm`` trait) and sends nothing. With ``recheck`` (the last
        balance read could not pay for it) the balance is read again first, and a job it
        still cannot pay for is refused before anything is sent."""
        r = self.runner
        state = r.begin(estimate(self.settings, job.output_format))
        if job.prompts is not None and not confirmed and self.asks_cost(job.count):
            r.set(run_state.asked(state))  # nothing sent: the answer is a new Generate
            r.set({"confirm": earlier.confirm_cost(job.count, self._credits())})
            return tasks.done()
        r.set(run_state.checking(state) if recheck else run_state.started(state))
        coro: Coroutine[Any, Any, object]
        if job.prompts is not None:
            r.set(gallery_started(job.prompts))
            coro = gallery_job.gallery(r, self.balance, r.number, job, confirmed, recheck)
        else:
            coro = single_job.one(r, self.balance, r.number, job, confirmed, recheck)
        r.task = r.loop.spawn(coro)
        r.task.add_done_callback(tasks.observe)
        return self.current()

    def asks_cost(self, count: int) -> bool:
        """Whether a gallery of ``count`` GIFs asks before paying (never on the sandbox)."""
        return not self.settings.sandbox and count > earlier.ASK_ABOVE

    def _credits(self) -> int | None:
        credits = self.widget.account.get("credits")
        return credits if isinstance(credits, int) else None

    def collect_gallery(self, record: BatchRecord, *, create: bool = False) -> Any:
        """Collect a batch or gallery made earlier (or canceled here), through its folder:
        every job it made, with no create; with ``create``, also the items never sent."""
        r = self.runner
        fmt = record.items[0].settings.output_format if record.items else DEFAULT_FORMAT
        state = r.begin(estimate(self.settings, fmt))
        r.sent = True
        r.set({"earlier_jobs": earlier.without(self.widget.earlier_jobs, record.id)})
        r.set({"gallery_mode": True})  # its result is a gallery: cards and a summary
        r.set(run_state.collecting(state, ""))
        r.task = r.loop.spawn(gallery_job.again(r, r.number, record, create))
        r.task.add_done_callback(tasks.observe)
        r.task.add_done_callback(lambda _task: self._after_job(journal=True))
        return self.current()

    def collect(self, entry: JournalEntry) -> Any:
        """Wait for and download a job made earlier (``entry`` has an id); no create."""
        r = self.runner
        pid = str(entry.project_id)
        state = r.begin(estimate(self.settings, entry.settings.output_format))
        r.own.add(pid)
        r.sent = True
        r.set({"earlier_jobs": earlier.without(self.widget.earlier_jobs, pid)})
        r.set(run_state.collecting(state, pid))
        r.task = r.loop.spawn(single_job.collect(r, r.number, entry))
        r.task.add_done_callback(tasks.observe)
        # Even a collect canceled before it ran: no longer running, its card may come back.
        r.task.add_done_callback(lambda _task: self._collected(pid))
        return self.current()

    def refresh(self, *, journal: bool = True, balance: bool = True) -> Any:
        """Read the journal for earlier jobs and the account for the balance, in the background
        (never on the sandbox); returns an awaitable."""
        if self.closed:
            return tasks.done()
        task = self.runner.loop.spawn(self._refresh(journal, balance))
        task.add_done_callback(tasks.observe)
        self._side = [t for t in self._side if not t.done()] + [task]
        return tasks.awaitable(task)

    def cancel(self) -> None:
        """Stop waiting now; the notice says what became of the server-side job."""
        r = self.runner
        task = r.task
        if task is None or task.done() or r.canceled:
            return
        r.canceled = True
        r.set(run_state.canceled(r.run_state(), r.cancel_notice()))
        tasks.cancel(task)

    def close(self) -> None:
        """Cancel a running job and any refresh, then close the client's connections once
        they have wound down."""
        self.cancel()
        self.closed = True
        side, self._side = self._side, []
        for task in side:
            tasks.cancel(task)
        client = self.runner.take_client()
        if client is not None and self.runner.loop.alive():
            self._shutdown = self.runner.loop.spawn(
                tasks.close_after([self.runner.task, *side], client)
            )
            self._shutdown.add_done_callback(tasks.observe)

    def _collected(self, pid: str) -> None:
        self.runner.own.discard(pid)  # not running any more: offered again if still pending
        self._after_job(journal=True)

    def _after_job(self, *, journal: bool, balance: bool = True) -> None:
        """A job ended (its credits spent or refunded): read the balance again, and the
        journal too after a collect (a job picked up in vain comes back as a card)."""
        if not self.settings.sandbox:
            self.refresh(journal=journal, balance=balance)

    async def _refresh(self, journal: bool, balance: bool) -> None:
        if journal and self.runner.journaled:
            await read_earlier(self.runner, self.born)
        if balance and not self.settings.sandbox:
            await self.balance.read()

    def _retain_media(self, _change: Any) -> None:
        w = self.widget
        self.runner.media.retain(referenced(w.media, w.history, w.gallery))
