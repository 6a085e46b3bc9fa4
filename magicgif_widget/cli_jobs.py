"""``magicgif jobs`` and ``magicgif resume``: the user's job journal from the terminal."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from .client.errors import MagicHourError, ValidationError
from .jobstore.journal import JournalEntry, journal_path
from .jobstore.pickup import collect, collectable, jobs

WHAT = {
    "creating": "sending",
    "unknown": "unknown: the create's answer was lost; see your Magic Hour library",
    "not_created": "refused, nothing charged",
    "created": "created",
}


def age(seconds: float) -> str:
    """``42s``, ``7m``, ``3h``, ``2d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(0, int(seconds))}s"


def describe(entry: JournalEntry) -> str:
    """The entry's state in a few words, for a person."""
    if entry.dismissed:
        return "dismissed"
    if entry.status == "complete":
        return "downloaded" if entry.files_exist() else "finished, not downloaded"
    if entry.status == "error":
        refund = "; credits refunded" if entry.credits_refunded else ""
        return f"failed ({entry.error_code or 'no code'}{refund})"
    return WHAT.get(entry.status, entry.status)


def jobs_command(args: argparse.Namespace) -> int:
    entries = jobs(pending_only=args.pending, limit=args.limit)
    out = sys.stdout
    if not entries:
        which = "unfinished jobs" if args.pending else "jobs"
        print(f"magicgif: no {which} in the journal ({journal_path()})", file=sys.stderr)
        return 0
    now = time.time()
    print(f"{'PROJECT':<26} {'AGE':>4}  {'FORMAT':<6} {'STATUS':<28} PROMPT / FILES", file=out)
    for entry in entries:
        prompt = entry.settings.prompt.replace("\n", " ")
        prompt = prompt if len(prompt) <= 40 else prompt[:39] + "…"
        files = ", ".join(entry.paths) if entry.files_exist() else ""
        print(
            f"{entry.project_id or '-':<26} {age(entry.age(now)):>4}  "
            f"{entry.settings.output_format:<6} {describe(entry):<28} {prompt!r}"
            + (f"  {files}" if files else ""),
            file=out,
        )
    waiting = sum(collectable(e) for e in entries)
    if waiting:
        print(
            f"magicgif: {waiting} job(s) can be collected without paying again: "
            "magicgif resume --all",
            file=sys.stderr,
        )
    return 0


def resume_command(args: argparse.Namespace) -> int:
    if bool(args.id) == bool(args.all):
        raise ValidationError("ID", "give one project id, or --all (not both)")
    pending = [e for e in jobs(pending_only=not args.id, limit=None) if collectable(e)]
    if args.id:
        chosen = [e for e in pending if e.project_id == args.id]
        if not chosen:
            raise ValidationError(
                "ID", f"{args.id!r} is not a job in the journal that is waiting to be collected"
            )
    else:
        chosen = pending
        if not chosen:
            print("magicgif: nothing to resume: every journaled job is collected", file=sys.stderr)
            return 0
    failures = 0
    for entry in chosen:
        print(
            f"magicgif: resuming {entry.project_id} ({age(entry.age())} old, "
            f"{entry.settings.prompt[:40]!r})",
            file=sys.stderr,
            flush=True,
        )
        try:
            project = asyncio.run(
                collect(entry, download_directory=args.output_dir, timeout=args.timeout)
            )
        except MagicHourError as exc:
            failures += 1
            print(f"magicgif: {entry.project_id}: {exc}", file=sys.stderr)
            continue
        for path in project.downloaded_paths or []:
            print(os.path.abspath(path), flush=True)
    print(
        f"magicgif: resumed {len(chosen) - failures} of {len(chosen)} job(s); no job was created",
        file=sys.stderr,
    )
    return 1 if failures else 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``jobs`` and ``resume`` to the ``magicgif`` parser."""
    jobs_parser = sub.add_parser(
        "jobs", help="list recent and unfinished jobs from the journal (all surfaces)"
    )
    jobs_parser.add_argument(
        "--pending", action="store_true", help="only jobs still running or not downloaded"
    )
    jobs_parser.add_argument("--limit", type=int, default=30, help="how many (default 30)")
    jobs_parser.set_defaults(run=jobs_command)

    res = sub.add_parser(
        "resume",
        help="wait for journaled jobs and download them, without creating any",
        description="Collect jobs from the journal (a kernel that died mid-render, a Ctrl-C): "
        "wait for each and download it into the directory it was meant for. Never creates a job.",
    )
    res.add_argument("id", nargs="?", metavar="ID", help="a project id from 'magicgif jobs'")
    res.add_argument("--all", action="store_true", help="every job waiting to be collected")
    res.add_argument("-o", "--output-dir", default=None, help="download here instead")
    res.add_argument(
        "--timeout", type=float, default=900.0, help="per-job wait in seconds (default 900)"
    )
    res.set_defaults(run=resume_command)
