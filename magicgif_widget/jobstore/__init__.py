"""The user's job records: every paid job, whatever made it, in one place.

- ``journal``: one SQLite file per user (``journal_path()``) that remembers every job on the
  real API: single jobs (widget, Python, CLI) and each item of a batch or gallery, with its
  batch, position and directory. It also counts the spend that limits are checked against.
- ``ledger``: a batch's own file in its download directory, so a folder copied elsewhere
  still resumes. Its every change is written through to the journal (``batch_writer``).
- ``journaling``: the ``Recorder`` that ``magicgif_widget.Client`` gives the API client as
  its ``records``, writing each job's life to the journal.
- ``migrations``: each store file moves forward on open; a newer file is refused untouched.

Nothing here raises for a journal that cannot be written, except where a spend limit needs it.
"""

from __future__ import annotations

from .journal import (
    BatchRecord,
    JobSettings,
    Journal,
    JournalEntry,
    JournalError,
    journal_path,
    shared_journal,
)
from .journaling import Recorder
from .ledger import Ledger, LedgerError

__all__ = [
    "BatchRecord",
    "JobSettings",
    "Journal",
    "JournalEntry",
    "JournalError",
    "Ledger",
    "LedgerError",
    "Recorder",
    "journal_path",
    "shared_journal",
]
