"""A batch's ledger written through to the user's journal, so every paid item is listed and
collectable from one place (``magicgif jobs``, ``magicgif resume --all``, a new widget).

The ledger in the batch's directory stays the batch's record (a folder copied elsewhere still
resumes from it); the journal is told each change right after the ledger, and ``started``
brings the journal up to date with the ledger on every open, so a crash between the two
writes, or a folder copied from another machine, is made good at the next run. The one write
that comes first is the intent: it is where a spend limit is checked, across processes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..client.errors import SpendLimitError
from ..client.limits import SpendLimit
from .journal import Journal, JournalError, Surface, shared_journal
from .journal_entry import JobSettings

log = logging.getLogger("magicgif_widget")


class BatchWriter:
    """The journal's side of one batch run; every write but a limited intent is best effort."""

    def __init__(
        self,
        journal: Journal | None,
        *,
        server: str,
        surface: str,
        batch: str,
        directory: Path,
        limits: Sequence[SpendLimit] = (),
    ) -> None:
        self.journal = journal
        self.server = server
        self.surface: Surface = surface if surface in ("widget", "python", "cli") else "python"  # type: ignore[assignment]
        self.batch = batch
        self.directory = directory
        self.limits = tuple(limits)
        self._keys: dict[str, str] = {}  # ledger item key → journal entry key

    @classmethod
    def open(
        cls,
        *,
        server: str,
        surface: str,
        batch: str,
        directory: Path,
        limits: Sequence[SpendLimit] = (),
    ) -> BatchWriter:
        """The record over this process's journal; without one (it cannot be opened) writes
        are skipped, and a limited batch is refused."""
        try:
            journal: Journal | None = shared_journal()
        except (JournalError, OSError) as exc:
            if limits:
                raise SpendLimitError(
                    f"refused before sending anything: the spend limit is counted in the job "
                    f"journal, which cannot be opened ({exc})"
                ) from None
            log.warning("the job journal cannot be opened (%s); the batch is not journaled", exc)
            journal = None
        return cls(
            journal, server=server, surface=surface, batch=batch, directory=directory, limits=limits
        )

    def started(self, total: int, items: Iterable[Any]) -> None:
        """The batch and every item the ledger knows a job for, in the journal (made good)."""
        self._write("batch_started", self.batch, self.server, self.surface, self.directory, total)
        items = list(items)
        # An intent whose item the ledger still calls pending was never sent (the run died
        # between the two writes): no job, no charge.
        unsent = [e.key for e in items if e.state == "pending" and not e.project_id]
        if unsent:
            self._write("retire", self.batch, unsent)
        for entry in items:
            if entry.project_id:
                key = self._write(
                    "item",
                    self.server,
                    entry.project_id,
                    self.surface,
                    JobSettings.from_request(entry.request),
                    batch=self.batch,
                    position=entry.position,
                    item_key=entry.key,
                    directory=self.directory,
                    credits=entry.credits or None,
                )
                if key:
                    self._keys[entry.key] = key
                if entry.state == "complete":
                    paths = [str(self.directory / name) for name, _ in entry.files]
                    self._write("collected", entry.project_id, paths)

    def spent(self, limit: SpendLimit) -> int:
        """The journal's spend in ``limit``'s window (a limit needs the journal)."""
        if self.journal is None:
            raise SpendLimitError("the spend limit is counted in the job journal, which is closed")
        try:
            return self.journal.spent(self.server, limit.window)
        except JournalError as exc:
            raise SpendLimitError(
                f"refused before sending anything: the job journal cannot be read ({exc})"
            ) from None

    def intent(self, key: str, position: int, request: dict[str, Any]) -> None:
        """Before the item's create is sent: the journal's intent, where the limits are kept
        (``SpendLimitError`` if this create would pass one; nothing is then sent)."""
        if self.journal is None:
            return
        try:
            self._keys[key] = self.journal.intent(
                self.server,
                request,
                self.surface,
                directory=self.directory,
                batch=self.batch,
                position=position,
                item_key=key,
                limits=self.limits,
            )
        except JournalError as exc:
            if self.limits:
                raise SpendLimitError(
                    f"refused before sending anything: the job journal cannot be written ({exc})"
                ) from None
            log.warning("the job journal could not be written (%s); the batch goes on", exc)

    def created(self, key: str, project_id: str, credits: int) -> None:
        jkey = self._keys.get(key)
        if jkey is not None:
            self._write("created", jkey, project_id, credits)

    def seen(self, project_id: str, status: str, **details: Any) -> None:
        self._write("seen", project_id, status, **details)

    def collected(self, project_id: str, paths: Sequence[str]) -> None:
        self._write("collected", project_id, list(paths))

    def lost(self, key: str) -> None:
        jkey = self._keys.pop(key, None)
        if jkey is not None:
            self._write("lost", jkey)

    def not_created(self, key: str, code: str | None) -> None:
        jkey = self._keys.pop(key, None)
        if jkey is not None:
            self._write("not_created", jkey, code)

    def _write(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.journal is None:
            return None
        try:
            return getattr(self.journal, method)(*args, **kwargs)
        except (JournalError, OSError) as exc:
            log.warning("the job journal could not be written (%s); the batch goes on", exc)
            return None
