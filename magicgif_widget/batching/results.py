"""What a batch returns and reports: counts, progress events, results, and its items' checks."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..client.errors import GenerationInterrupted, MagicHourError, ValidationError
from ..client.models import Event, ImageProject
from ..client.options import create_body
from ..contract import CREDITS_PER_GIF

ITEM_KEYS = frozenset({"style", "prompt", "name", "output_format"})
MAX_CONCURRENCY = 64
Result = ImageProject | MagicHourError


@dataclass(frozen=True)
class BatchCounts:
    """Where the batch stands; ``credits`` is what its items' jobs cost, earlier runs included."""

    total: int
    complete: int = 0
    failed: int = 0
    unknown: int = 0
    running: int = 0
    reused: int = 0  # complete from an earlier run, files checked, no request sent
    skipped: int = 0  # never sent, and not created now (``collect_only``)
    to_create: int = 0  # creates this run sends, known before it sends any
    credits: int = 0
    sandbox: bool = False  # the sandbox charges nothing, whatever it reports

    @property
    def cost(self) -> str:
        return "sandbox, no credits" if self.sandbox else f"{self.credits} credits"

    @property
    def planned_cost(self) -> str:
        """What this run's creates cost, said before they are sent."""
        if self.sandbox:
            return f"{self.to_create} to create (sandbox, no credits)"
        return (
            f"{self.to_create} to create, {self.to_create * CREDITS_PER_GIF} credits "
            f"({CREDITS_PER_GIF} each)"
        )

    @property
    def finished(self) -> int:
        return self.complete + self.failed + self.unknown + self.skipped

    def describe(self) -> str:
        parts = [f"{self.complete} of {self.total} complete"]
        if self.reused:
            parts[0] += f" ({self.reused} from earlier runs)"
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.unknown:
            parts.append(f"{self.unknown} unknown")
        if self.skipped:
            parts.append(f"{self.skipped} never sent")
        if self.running:
            parts.append(f"{self.running} running")
        parts.append(self.cost)
        return ", ".join(parts)


@dataclass(frozen=True)
class BatchProgress:
    """A change in the batch: item ``index``'s workflow ``event``, or its final ``result``."""

    counts: BatchCounts
    ledger_path: str
    index: int | None = None
    event: Event | None = None
    result: Result | None = field(default=None, repr=False)
    kind: Literal["batch"] = "batch"


class BatchResults(list[Result]):
    """One entry per item in input order: the ``ImageProject`` or the item's typed error."""

    def __init__(self, results: Iterable[Result], counts: BatchCounts, ledger_path: Path) -> None:
        super().__init__(results)
        self.counts = counts
        self.ledger_path = ledger_path

    @property
    def completed(self) -> list[ImageProject]:
        return [r for r in self if isinstance(r, ImageProject)]

    @property
    def errors(self) -> dict[int, MagicHourError]:
        """The failed items by input index."""
        return {i: r for i, r in enumerate(self) if isinstance(r, MagicHourError)}

    @property
    def paths(self) -> list[str]:
        """Every downloaded file, in input order."""
        return [p for r in self.completed for p in r.downloaded_paths or []]

    def __repr__(self) -> str:
        return f"<BatchResults {self.counts.describe()}; ledger {self.ledger_path}>"


class BatchInterrupted(GenerationInterrupted):
    """Ctrl-C stopped a batch; running jobs go on on the server and a rerun picks them up."""

    def __init__(self, counts: BatchCounts | None, ledger_path: str) -> None:
        directory = str(Path(ledger_path).parent)
        KeyboardInterrupt.__init__(
            self,
            f"interrupted; {counts.describe() if counts else 'nothing finished'}. Jobs already "
            f"created go on on the server and are paid for; continue without paying again: "
            f"generate_many(resume={directory!r})",
        )
        self.directory = directory
        self.project_id = None
        self.counts = counts
        self.ledger_path = ledger_path


def normalize(item: Any, index: int, output_format: str | None) -> dict[str, Any]:
    """One item (a prompt, or a dict of ``generate`` arguments) as a checked create body."""
    where = f"items[{index}]"
    if isinstance(item, str):
        item = {"prompt": item}
    if not isinstance(item, Mapping):
        kind = type(item).__name__
        raise ValidationError(where, f"must be a prompt string or a dict, got {kind}")
    unknown = set(item) - ITEM_KEYS
    if unknown:
        names = ", ".join(sorted(map(str, unknown)))
        raise ValidationError(where, f"unknown keys {names}; use {', '.join(sorted(ITEM_KEYS))}")
    if "prompt" in item and "style" in item:
        raise ValidationError(where, "give prompt or style, not both")
    style = item["style"] if "style" in item else {"prompt": item.get("prompt")}
    try:
        return create_body(style, item.get("name"), item.get("output_format", output_format))
    except ValidationError as exc:
        raise ValidationError(f"{where}.{exc.field}", exc.message.split(": ", 1)[-1]) from None


def item_keys(bodies: list[dict[str, Any] | None]) -> list[str | None]:
    """Stable ledger keys: a hash of the request plus its occurrence (repeats are distinct)."""
    seen: Counter[str] = Counter()
    keys: list[str | None] = []
    for body in bodies:
        if body is None:
            keys.append(None)
            continue
        digest = hashlib.sha256(
            json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()[:24]
        seen[digest] += 1
        keys.append(f"{digest}/{seen[digest]}")
    return keys


def check_concurrency(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONCURRENCY:
        raise ValidationError(
            "concurrency", f"must be a whole number from 1 to {MAX_CONCURRENCY}, got {value!r:.40}"
        )
    return value
