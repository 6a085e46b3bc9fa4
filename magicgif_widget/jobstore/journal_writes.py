"""The journal's writes: each call is one short transaction, committed before it returns
(intents, answers, statuses, collected files, batches, dismissals, retention).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from ..client.errors import SpendLimitError
from ..client.limits import SpendLimit, over_limit
from ..contract import CREDITS_PER_GIF, FINAL_STATUSES, STATUSES
from .journal_core import JournalCore, Surface, abspath, as_int, code
from .journal_entry import JobSettings, server_label


class JournalWrites(JournalCore):
    """What a job tells the journal; ``Journal`` adds opening and reads."""

    # -- writing (each call is one short transaction, committed before it returns) ------

    def intent(
        self,
        server: str,
        settings: JobSettings | Mapping[str, Any],
        surface: Surface,
        *,
        directory: str | os.PathLike[str] | None = None,
        batch: str | None = None,
        position: int | None = None,
        item_key: str | None = None,
        limits: Sequence[SpendLimit] = (),
    ) -> str:
        """Record a create about to be sent; returns the entry's key. Call it before sending.

        ``settings`` may be a request mapping (see ``JobSettings.from_request``); its
        ``directory`` key, or ``directory``, is where the files are to go. A batch item names
        its ``batch``, ``position`` and ledger ``item_key``. With ``limits``, the spend in
        each limit's window (``spent``) plus this job must fit, checked and recorded in one
        transaction, so processes sharing the journal cannot together pass a limit; else
        ``SpendLimitError`` and nothing is recorded.
        """
        if isinstance(settings, Mapping):
            directory = directory or settings.get("directory")
            settings = JobSettings.from_request(settings)
        label = server_label(server)
        with self._write() as db:
            for limit in limits:
                spent = self._spent(db, label, self._clock() - limit.window)
                if spent + CREDITS_PER_GIF > limit.credits:
                    raise SpendLimitError(
                        over_limit(CREDITS_PER_GIF, limit, spent),
                        total=CREDITS_PER_GIF,
                        limit=limit.credits,
                        spent=spent,
                    )
            key = self._insert(
                db,
                label,
                surface,
                settings,
                "creating",
                directory=abspath(directory),
                batch=batch,
                position=position,
                item_key=item_key,
            )
        return key

    def batch_started(
        self,
        batch: str,
        server: str,
        surface: Surface,
        directory: str | os.PathLike[str],
        total: int,
    ) -> None:
        """Record a batch or gallery (its id, its directory, how many items); idempotent."""
        now = self._now()
        with self._write() as db:
            db.execute(
                "INSERT INTO batches (id, server, surface, directory, total, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "directory=excluded.directory, total=excluded.total, "
                "updated_at=excluded.updated_at, dismissed_at=NULL",
                (
                    batch,
                    server_label(server),
                    code(surface) or "python",
                    abspath(directory),
                    int(total),
                    now,
                    now,
                ),
            )

    def item(
        self,
        server: str,
        project_id: str,
        surface: Surface,
        settings: JobSettings,
        *,
        batch: str,
        position: int,
        item_key: str,
        directory: str | os.PathLike[str],
        credits: int | None = None,
    ) -> str:
        """The key of a batch item's entry for ``project_id``, added (or given its batch) if
        the journal did not know it: a ledger's jobs are written through to the journal."""
        with self._write() as db:
            row = newest_for(db, project_id)
            if row is not None:
                db.execute(
                    "UPDATE entries SET batch=COALESCE(batch, ?), position=COALESCE(position, ?), "
                    "item_key=COALESCE(item_key, ?) WHERE key=?",
                    (batch, position, item_key, row["key"]),
                )
                return str(row["key"])
            return self._insert(
                db,
                server,
                surface,
                settings,
                "created",
                project_id=project_id,
                directory=abspath(directory),
                credits_charged=as_int(credits),
                batch=batch,
                position=position,
                item_key=item_key,
            )

    def adopt(
        self,
        server: str,
        project_id: str,
        surface: Surface,
        settings: JobSettings | None = None,
    ) -> str:
        """The key of the entry for a job made earlier (``check_result``), added if missing."""
        with self._write() as db:
            row = newest_for(db, project_id)
            if row is not None:
                return str(row["key"])
            known = settings or JobSettings("")
            return self._insert(db, server, surface, known, "created", project_id=project_id)

    def created(self, key: str, project_id: str, credits: int | None = None) -> bool:
        """Record the create's answer and what it charged (call before anything else awaits).

        Returns False when no entry has ``key``.
        """
        return self._update(
            "project_id=?, credits_charged=COALESCE(?, credits_charged), "
            "status=CASE WHEN status IN ('creating', 'unknown', 'not_created') "
            "THEN 'created' ELSE status END",
            "key=?",
            (project_id, as_int(credits)),
            key,
        )

    def not_created(self, key: str, error_code: str | None = None) -> bool:
        """The API refused the create (4xx, 402…): no job exists and nothing was charged."""
        return self._update(
            "status='not_created', error_code=?",
            "key=? AND project_id IS NULL",
            (code(error_code),),
            key,
        )

    def lost(self, key: str) -> bool:
        """The create was sent and its answer lost (``CreateOutcomeUnknown``): ``unknown``."""
        return self._update("status='unknown'", "key=? AND project_id IS NULL", (), key)

    def seen(
        self,
        project_id: str,
        status: str,
        error_code: str | None = None,
        credits: int | None = None,
        refunded: int | None = None,
    ) -> bool:
        """Record a status read from the API (and credits charged, refunded); False if unknown.

        A final status is never replaced by a running one; a status the API does not
        document is ignored (its credits are still recorded).
        """
        known = status if status in STATUSES else None
        regress = known is not None and known not in FINAL_STATUSES
        return self._update(
            "status=COALESCE(?, status), error_code=COALESCE(?, error_code), "
            "credits_charged=COALESCE(?, credits_charged), "
            "credits_refunded=COALESCE(?, credits_refunded)",
            "project_id=?"
            + (" AND status NOT IN ('complete', 'error', 'canceled')" if regress else ""),
            (known, code(error_code), as_int(credits), as_int(refunded)),
            project_id,
        )

    def collected(self, project_id: str, paths: Sequence[str | os.PathLike[str]]) -> bool:
        """Record where the job's files were written (absolute paths); the job is complete."""
        absolute = [os.path.abspath(os.fspath(p)) for p in paths]
        now = self._now()
        return self._update(
            "paths=?, collected_at=?, status=CASE WHEN status IN ('error', 'canceled') "
            "THEN status ELSE 'complete' END",
            "project_id=?",
            (json.dumps(absolute, ensure_ascii=False), now),
            project_id,
        )

    def retire(self, batch: str, item_keys: Sequence[str]) -> int:
        """Intents of ``batch``'s items that its ledger says were never sent: ``not_created``."""
        if not item_keys:
            return 0
        marks = ",".join("?" * len(item_keys))
        with self._guard() as db:
            return int(
                db.execute(
                    f"UPDATE entries SET status='not_created', updated_at=? WHERE batch=? "
                    f"AND project_id IS NULL AND status IN ('creating', 'unknown') "
                    f"AND item_key IN ({marks})",
                    (self._now(), batch, *item_keys),
                ).rowcount
            )

    def dismiss(self, ref: str) -> bool:
        """The user dismissed the entry (by project id or key), or a whole batch (by its id):
        no longer pending."""
        with self._guard() as db:
            now = self._now()
            batch = db.execute(
                "UPDATE batches SET dismissed_at=?, updated_at=? "
                "WHERE id=? AND dismissed_at IS NULL",
                (now, now, ref),
            ).rowcount
            items = db.execute(
                "UPDATE entries SET dismissed_at=?, updated_at=? WHERE (project_id=? OR key=? "
                "OR batch=?) AND dismissed_at IS NULL",
                (now, now, ref, ref, ref),
            ).rowcount
            return bool(batch or items)

    def prune(self) -> int:
        """Apply the retention rule (see the module); returns how many entries were dropped."""
        with self._write() as db:
            return self._prune(db)


def newest_for(db: sqlite3.Connection, project_id: str) -> sqlite3.Row | None:
    """The key of the newest entry for ``project_id``, if any."""
    row: sqlite3.Row | None = db.execute(
        "SELECT key FROM entries WHERE project_id=? ORDER BY seq DESC LIMIT 1", (project_id,)
    ).fetchone()
    return row
