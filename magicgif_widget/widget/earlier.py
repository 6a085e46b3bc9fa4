"""Jobs from earlier sessions as cards, and the question asked before a duplicate job.

Pure functions of journal entries (``client/journal.py``) and the moment: nothing here reads
the journal, the network or a clock, so every card and every sentence is tested without a
kernel. The widget reads the journal off the event loop and sets what these return.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from ..contract import CREDITS_PER_GIF
from ..jobstore.journal import BatchRecord, JournalEntry
from ..pickup import collectable

MAX_CARDS = 12  # earlier jobs shown at once, newest first
UNKNOWN_TEXT = (
    "The create was sent but its answer was lost: a job may exist and be charged; "
    "check your Magic Hour library."
)
SOURCES = {"widget": "a widget", "python": "Python", "cli": "the command line"}
_LAST_SEEN = {
    "creating": "Sent to Magic Hour; not seen since",
    "created": "Created at Magic Hour; not seen since",
    "draft": "A draft when last seen",
    "queued": "Queued when last seen",
    "rendering": "Rendering when last seen",
    "complete": "Finished, never downloaded",
}

Card = dict[str, Any]


def age_text(seconds: float) -> str:
    """How long ago a job started: "started 40 s ago", "started 2 min ago", "started 3 h ago"."""
    s = max(0, int(seconds))
    if s < 5:
        return "started just now"
    if s < 60:
        return f"started {s} s ago"
    if s < 3600:
        return f"started {s // 60} min ago"
    if s < 2 * 86400:
        return f"started {s // 3600} h ago"
    return f"started {s // 86400} days ago"


def status_text(entry: JournalEntry) -> str:
    """What the journal last heard of the job, in a few words."""
    if entry.project_id is None:
        return UNKNOWN_TEXT
    return _LAST_SEEN.get(entry.status, f"{entry.status.capitalize()} when last seen")


def offered(
    entry: JournalEntry, *, before: float | None = None, exclude: Collection[str] = ()
) -> bool:
    """Whether ``entry`` gets a card: pending, and either collectable (an id, not failed, not
    on disk) or unknown (the create's answer was lost); made before ``before`` (the widget's
    birth, seconds since the epoch) and not one of ``exclude`` (the widget's own jobs)."""
    if not entry.pending or not (collectable(entry) or entry.unknown):
        return False
    if entry.project_id in exclude or entry.key in exclude:
        return False
    return before is None or entry.age(before) >= 0


def card(entry: JournalEntry, now: float) -> Card:
    """One earlier job: what it was, when and where it started, and what can be done."""
    fmt = entry.settings.output_format
    age = age_text(entry.age(now))
    meta = [fmt.upper(), age, f"from {SOURCES.get(entry.surface, entry.surface)}"]
    if entry.credits_charged:
        meta.append(f"{entry.credits_charged} credits spent")
    return {
        "id": entry.project_id or entry.key,  # what collect() and dismiss() take
        "project_id": entry.project_id or "",
        "prompt": entry.settings.prompt,
        "name": entry.settings.name or "",
        "format": fmt,
        "age": age,
        "meta": " · ".join(meta),
        "status": status_text(entry),
        "kind": "collect" if entry.project_id else "unknown",
    }


def gallery_card(record: BatchRecord, now: float) -> Card:
    """A batch or gallery as one card: Collect takes every job it made; Resume gallery also
    creates the items never sent (after asking)."""
    made = [e for e in record.items if e.project_id]
    waiting = [e for e in made if collectable(e)]
    never = record.never_sent
    first = min(record.items, key=lambda e: e.position or 0) if record.items else None
    fmt = first.settings.output_format if first else "gif"
    age = age_text(record.age(now))
    spent = sum(e.credits_charged or 0 for e in made if not e.credits_refunded)
    meta = [fmt.upper(), age, f"from {SOURCES.get(record.surface, record.surface)}"]
    if spent:
        meta.append(f"{spent} credits spent")
    status = [f"{len(made)} made", f"{len(waiting)} to collect"]
    if never:
        status.append(f"{never} never sent")
    what = "Gallery" if record.kind == "gallery" else "Batch"
    return {
        "id": record.id,
        "project_id": "",
        "prompt": f"{what} of {record.total}: {first.settings.prompt if first else ''}",
        "name": "",
        "format": fmt,
        "age": age,
        "meta": " · ".join(meta),
        "status": ", ".join(status),
        "kind": "gallery",
        "count": len(waiting),
        "never_sent": never,
    }


def gallery_offered(record: BatchRecord, exclude: Collection[str] = ()) -> bool:
    """Whether a batch gets a card: not dismissed, a job still to collect, not running here."""
    if record.id in exclude or record.dismissed_at is not None:
        return False
    return any(collectable(e) for e in record.items)


def cards(
    entries: Iterable[JournalEntry],
    *,
    now: float,
    before: float | None = None,
    exclude: Collection[str] = (),
    limit: int = MAX_CARDS,
    batches: Iterable[BatchRecord] = (),
) -> list[Card]:
    """The cards for ``batches`` (one each) and ``entries`` not in a batch (newest first, as
    the journal lists them), at most ``limit``."""
    groups = [gallery_card(r, now) for r in batches if gallery_offered(r, exclude)]
    chosen = [e for e in entries if e.batch is None and offered(e, before=before, exclude=exclude)]
    return (groups + [card(e, now) for e in chosen])[:limit]


def without(items: Iterable[Card], ref: str) -> list[Card]:
    """``items`` less the card for ``ref`` (a project id or a journal key)."""
    return [c for c in items if ref not in (c.get("id"), c.get("project_id"))]


ASK_ABOVE = 4  # a gallery of more GIFs than this asks before it pays


def confirm_cost(count: int, credits: int | None) -> Card:
    """The question before a gallery of more than ``ASK_ABOVE`` GIFs is paid for."""
    total = count * CREDITS_PER_GIF
    left = f" ({credits:,} credits left)" if credits is not None else ""
    return {
        "kind": "cost",
        "id": "",
        "text": f"This gallery makes {count} GIFs for {total:,} credits{left}. Make them?",
        "yes": f"Generate {count} GIFs",
        "no": "Not now",
    }


def confirm_resume(ref: str, made: int, never: int) -> Card:
    """The question before Resume gallery creates (and pays for) items never sent."""
    total = never * CREDITS_PER_GIF
    return {
        "kind": "resume",
        "id": ref,
        "text": (
            f"Resume the gallery: collect the {made} made (already paid for), and create the "
            f"{never} never sent for {total:,} credits?"
        ),
        "yes": f"Create {never} and collect",
        "no": "Collect only",
    }


def same_gallery(record: BatchRecord, prompts: Sequence[str], output_format: str) -> bool:
    """Whether ``record`` is a gallery of exactly these lines and format with jobs still to
    collect (what a second Generate of them would pay for again)."""
    if record.total != len(prompts) or not gallery_offered(record):
        return False
    return all(
        e.position is not None
        and e.position < len(prompts)
        and e.settings.prompt == prompts[e.position]
        and e.settings.output_format == output_format
        for e in record.items
    )


def confirm_gallery(record: BatchRecord, now: float) -> Card:
    """The question before a gallery that repeats one whose jobs Magic Hour still holds."""
    made = len([e for e in record.items if e.project_id])
    total = record.total * CREDITS_PER_GIF
    return {
        "kind": "duplicate",
        "id": record.id,
        "project_id": "",
        "text": (
            f"A gallery with these lines already has {made} job(s) at Magic Hour "
            f"({age_text(record.age(now))}). Generate again and pay {total:,} credits?"
        ),
        "yes": "Generate anyway",
        "no": "Collect that one",
    }


def confirm(entry: JournalEntry, now: float, cost: int = CREDITS_PER_GIF) -> Card:
    """The question before a Generate that would repeat a job still running at Magic Hour."""
    settings = entry.settings
    return {
        "kind": "duplicate",
        "id": entry.project_id or entry.key,
        "project_id": entry.project_id or "",
        "prompt": settings.prompt,
        "name": settings.name or "",
        "output_format": settings.output_format,
        "text": (
            f"A job with these settings is still running ({age_text(entry.age(now))}). "
            f"Generate again and pay {cost} credits?"
        ),
    }


def same_settings(question: Card, prompt: str, name: str, output_format: str) -> bool:
    """Whether the form still holds the settings ``question`` asked about."""
    return (
        question.get("prompt") == prompt
        and question.get("name", "") == name.strip()
        and question.get("output_format") == output_format
    )
