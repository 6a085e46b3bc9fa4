"""``magicgif jobs``, ``magicgif resume`` and ``magicgif account``: the user's job journal
from the terminal. Batches and galleries are listed and collected as one, through their
folders' ledgers; nothing here creates a job."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from .client.errors import MagicHourError, ValidationError
from .client.params import DEFAULT_GENERATE_TIMEOUT
from .jobstore.advice import RESUME_ALL
from .jobstore.journal import BatchRecord, JournalEntry, journal_path
from .pickup import batch_collectable, batches, collect, collect_batch, collectable, jobs

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


def _row(entry: JournalEntry, now: float, indent: str = "") -> str:
    prompt = entry.settings.prompt.replace("\n", " ")
    prompt = prompt if len(prompt) <= 40 else prompt[:39] + "…"
    files = ", ".join(entry.paths) if entry.files_exist() else ""
    return (
        f"{indent}{entry.project_id or '-':<{26 - len(indent)}} {age(entry.age(now)):>4}  "
        f"{entry.settings.output_format:<6} {describe(entry):<28} {prompt!r}"
        + (f"  {files}" if files else "")
    )


def _batch_head(record: BatchRecord, now: float) -> str:
    made = len({e.position for e in record.items if e.project_id})
    never = record.never_sent
    parts = [f"{record.total} items", f"{made} created"]
    if never:
        parts.append(f"{never} never sent")
    return (
        f"{record.kind} {record.id[:8]} ({', '.join(parts)}; {age(record.age(now))} ago) "
        f"in {record.directory}"
    )


def jobs_command(args: argparse.Namespace) -> int:
    entries = jobs(pending_only=args.pending, limit=args.limit)
    groups = batches(pending_only=args.pending)
    out = sys.stdout
    singles = [e for e in entries if e.batch is None]
    if not singles and not groups:
        which = "unfinished jobs" if args.pending else "jobs"
        print(f"magicgif: no {which} in the journal ({journal_path()})", file=sys.stderr)
        return 0
    now = time.time()
    print(f"{'PROJECT':<26} {'AGE':>4}  {'FORMAT':<6} {'STATUS':<28} PROMPT / FILES", file=out)
    for entry in singles:
        print(_row(entry, now), file=out)
    for record in groups[: args.limit]:
        print(_batch_head(record, now), file=out)
        for entry in record.items:
            if not args.pending or entry.pending:
                print(_row(entry, now, indent="  "), file=out)
    waiting = sum(collectable(e) for e in singles) + sum(
        sum(collectable(e) for e in r.items) for r in groups if r.dismissed_at is None
    )
    if waiting:
        print(
            f"magicgif: {waiting} job(s) can be collected without paying again: {RESUME_ALL}",
            file=sys.stderr,
        )
    return 0


def resume_command(args: argparse.Namespace) -> int:
    if bool(args.id) == bool(args.all):
        raise ValidationError("ID", "give one project id, or --all (not both)")
    pending = [e for e in jobs(pending_only=not args.id, limit=None) if collectable(e)]
    groups: list[BatchRecord] = []
    if args.id:
        chosen = [e for e in pending if e.project_id == args.id]
        if not chosen:
            raise ValidationError(
                "ID", f"{args.id!r} is not a job in the journal that is waiting to be collected"
            )
    else:
        groups = [r for r in batches(pending_only=True) if batch_collectable(r)]
        members = {e.key for r in groups for e in r.items}
        chosen = [e for e in pending if e.key not in members]
        if not chosen and not groups:
            print("magicgif: nothing to resume: every journaled job is collected", file=sys.stderr)
            return 0
    failures = done = 0
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
        done += 1
        for path in project.downloaded_paths or []:
            print(os.path.abspath(path), flush=True)
    for record in groups:
        print(
            f"magicgif: resuming {record.kind} {record.id[:8]} in {record.directory}",
            file=sys.stderr,
            flush=True,
        )
        try:
            results = asyncio.run(collect_batch(record, timeout=args.timeout))
        except MagicHourError as exc:
            failures += 1
            print(f"magicgif: {record.kind} {record.id[:8]}: {exc}", file=sys.stderr)
            continue
        done += results.counts.complete
        failures += results.counts.failed + results.counts.unknown
        for path in results.paths:
            print(os.path.abspath(path), flush=True)
        print(f"magicgif: {record.kind}: {results.counts.describe()}", file=sys.stderr)
    print(f"magicgif: resumed {done} job(s); no job was created", file=sys.stderr)
    return 1 if failures else 0


def account_command(args: argparse.Namespace) -> int:
    import warnings
    from dataclasses import replace

    from .client.settings import SandboxWarning, resolve
    from .clients import Client
    from .jobstore.journal import server_for, shared_journal

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SandboxWarning)
        settings = resolve(base_url=args.base_url, spend_limit=args.spend_limit)
    out = sys.stdout
    if settings.sandbox:
        print(
            "magicgif: the SANDBOX (no API token set): no account, no credits, no limits. "
            "Set MAGIC_HOUR_API_TOKEN to use Magic Hour.",
            file=out,
        )
        return 0
    server = server_for(settings)
    print(f"server:   {server}", file=out)
    status = 0
    with Client.from_settings(replace(settings, surface="cli")) as client:
        try:
            found = client.v1.account.get()
            tier = f", {found.tier} tier" if found.tier else ""
            print(f"balance:  {found.credits} credits{tier}", file=out)
        except MagicHourError as exc:
            status = 1
            print(f"balance:  could not be read: {exc}", file=out)
    journal = shared_journal()
    local = time.localtime()
    midnight = time.mktime((*local[:3], 0, 0, 0, 0, 0, -1))
    print(
        f"spent:    {journal.spent(server, time.time() - midnight)} credits today, "
        f"{journal.spent(server, 7 * 86400)} in the last 7 days (from the job journal)",
        file=out,
    )
    for limit in settings.spend_limits:
        used = journal.spent(server, limit.window)
        print(
            f"limit:    {limit.describe()}: {used} spent in the last {limit.per}, "
            f"{max(0, limit.credits - used)} left",
            file=out,
        )
    if not settings.spend_limits:
        print("limit:    none (set MAGICGIF_SPEND_LIMIT, or --spend-limit)", file=out)
    waiting = [e for e in jobs(pending_only=True, limit=None) if collectable(e)]
    mine = [e for e in waiting if e.server == server]
    line = f"waiting:  {len(mine)} job(s) to collect, already paid for"
    print(line + (f": {RESUME_ALL}" if mine else ""), file=out)
    return status


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``jobs`` and ``resume`` to the ``magicgif`` parser."""
    jobs_parser = sub.add_parser(
        "jobs", help="list recent and unfinished jobs from the journal (all surfaces)"
    )
    jobs_parser.add_argument(
        "--pending", action="store_true", help="only jobs still running or not downloaded"
    )
    jobs_parser.add_argument(
        "--limit", type=int, default=30, metavar="N", help="how many (default 30)"
    )
    jobs_parser.set_defaults(run=jobs_command)

    res = sub.add_parser(
        "resume",
        help="wait for journaled jobs and download them, without creating any",
        description="Collect jobs from the journal (a kernel that died mid-render, a Ctrl-C): "
        "wait for each and download it into the directory it was meant for. Never creates a job.",
    )
    res.add_argument("id", nargs="?", metavar="ID", help="a project id from 'magicgif jobs'")
    res.add_argument("--all", action="store_true", help="every job waiting to be collected")
    res.add_argument(
        "-o", "--output-dir", default=None, metavar="DIR", help="download here instead"
    )
    res.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_GENERATE_TIMEOUT,
        metavar="S",
        help=f"per-job wait in seconds (default {DEFAULT_GENERATE_TIMEOUT:g})",
    )
    res.set_defaults(run=resume_command)

    acc = sub.add_parser(
        "account",
        help="the balance, the spend the journal recorded, the limits, and jobs to collect",
    )
    acc.add_argument("--spend-limit", metavar="CREDITS", default=None, help="show this limit too")
    acc.add_argument("--base-url", default=None, help=argparse.SUPPRESS)
    acc.set_defaults(run=account_command)
