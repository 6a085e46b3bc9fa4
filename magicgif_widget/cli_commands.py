"""``magicgif generate``, ``magicgif batch`` and ``magicgif emulator``: the commands that
create jobs, and the one that serves the emulator for them."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from .batching.results import BatchInterrupted, normalize
from .cli_output import SANDBOX_NOTE, BatchLines, Progress
from .client.errors import ValidationError
from .client.settings import SANDBOX_BASE_URL, SandboxWarning, Settings, resolve
from .client.timing import expected_render
from .jobstore.advice import batch_resume

STATED_LIMIT = -1.0  # a bare ``--rate-limit``: RateLimit()'s own default, read where it is used


def generate_command(args: argparse.Namespace) -> int:
    """Generate one animation, print its path on stdout and the job's progress on stderr."""
    from .clients import Client

    err = sys.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SandboxWarning)
        settings = resolve(base_url=args.base_url, spend_limit=args.spend_limit)
    client = Client.from_settings(replace(settings, surface="cli"))
    with client:
        if client.sandbox:
            print(SANDBOX_NOTE, file=err)
        with Progress(err, render_estimate(settings, args.format)) as progress:
            result = client.v1.ai_gif_generator.generate(
                style={"prompt": args.prompt},
                name=args.name,
                output_format=args.format,
                download_directory=args.output_dir,
                timeout=args.timeout,
                on_event=progress,
            )
    for path in result.downloaded_paths or []:
        print(os.path.abspath(path))
    where = "sandbox" if client.sandbox else f"{result.credits_charged} credits"
    print(f"magicgif: done: project {result.id} ({where})", file=err)
    return 0


def render_estimate(settings: Settings, output_format: str) -> float:
    """Expected seconds of rendering for the bar: what earlier jobs of this backend and format
    took (client/timing.py), else the published median (the sandbox's own, on the sandbox)."""
    return expected_render(settings.base_url, settings.sandbox, output_format)


def read_batch_file(path: str) -> tuple[list[dict[str, Any]], list[int]]:
    """Items from a file of prompts, one per line, or JSON lines of ``generate`` arguments.

    Blank lines are skipped. Returns the items and their line numbers; every bad line is
    reported at once (``ValidationError``) so nothing is sent for a file with mistakes.
    """
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ValidationError("FILE", f"cannot read {path!r}: {reason}") from None
    items: list[dict[str, Any]] = []
    lines: list[int] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        raw: Any = line.strip()
        if raw.startswith("{"):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                problems.append(f"line {number}: invalid JSON ({exc.msg})")
                continue
        try:
            items.append(normalize(raw, len(items), None))
            lines.append(number)
        except ValidationError as exc:
            problems.append(f"line {number}: {exc.message.split(': ', 1)[-1]}")
    if problems:
        shown = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ValidationError("FILE", f"{path}: {shown}{more}; nothing was sent")
    if not items:
        raise ValidationError("FILE", f"{path} holds no prompts")
    return items, lines


def _batch_plan(args: argparse.Namespace) -> tuple[list[dict[str, Any]] | None, list[int] | None]:
    """The items of a new batch (from FILE), or None to resume the one in ``--resume``."""
    if bool(args.file) == bool(args.resume):
        raise ValidationError("FILE", "give a FILE of prompts, or --resume DIR (not both)")
    if args.resume:
        if args.output_dir and Path(args.output_dir).resolve() != Path(args.resume).resolve():
            raise ValidationError("--output-dir", "a resumed batch downloads to its own folder")
        return None, None
    if args.collect_only:
        raise ValidationError("--collect-only", "goes with --resume DIR")
    if not args.output_dir:
        raise ValidationError("--output-dir", "is required for a new batch (its ledger goes there)")
    return read_batch_file(args.file)


def batch_command(args: argparse.Namespace) -> int:
    """Run (or resume) a batch through its ledger; exit 0 only when every item is complete."""
    from .clients import Client
    from .jobstore.ledger import read_info

    items, lines = _batch_plan(args)
    directory = args.resume or args.output_dir
    base_url = args.base_url
    if args.resume:
        info = read_info(args.resume)  # the server it ran against, from its own record
        if base_url is None and info.server != SANDBOX_BASE_URL:
            base_url = info.server
    err = sys.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SandboxWarning)
        settings = resolve(base_url=base_url, spend_limit=args.spend_limit)
    client = Client.from_settings(replace(settings, surface="cli"))
    with client:
        if client.sandbox:
            print(SANDBOX_NOTE, file=err)
        display = BatchLines(err, lines)
        try:
            results = client.v1.ai_gif_generator.generate_many(
                items,
                download_directory=None if args.resume else directory,
                resume=args.resume,
                collect_only=args.collect_only,
                concurrency=args.concurrency,
                output_format=args.format,
                retry_failed=args.retry_failed,
                retry_unknown=args.retry_unknown,
                timeout=args.timeout,
                progress=False,
                on_event=display,
            )
        except BatchInterrupted as exc:
            display.close()  # the bar's last state stays above the message
            print(
                "magicgif: interrupted; "
                f"{exc.counts.describe() if exc.counts else 'nothing finished'}. Jobs already "
                "created go on at Magic Hour and are paid for.\n"
                f"magicgif: continue without paying again: {batch_resume(directory)}",
                file=err,
            )
            return 130
        finally:
            display.close()
    for path in results.paths:
        print(os.path.abspath(path))
    counts = results.counts
    print(f"magicgif: batch: {counts.describe()}; ledger {results.ledger_path}", file=err)
    if counts.unknown:
        print(
            f"magicgif: {counts.unknown} item(s) are unknown: their create was sent but the "
            "answer was lost, so a job may exist and be charged. Check your Magic Hour "
            "library; to create them again anyway (this may pay twice): "
            f"{batch_resume(directory, '--retry-unknown')}",
            file=err,
        )
    if counts.failed:
        print(
            f"magicgif: {counts.failed} item(s) failed (their credits are refunded); jobs still "
            f"running are collected by {batch_resume(directory)}, and failed ones created "
            f"again (paying again) by {batch_resume(directory, '--retry-failed')}",
            file=err,
        )
    if counts.skipped:
        print(
            f"magicgif: {counts.skipped} item(s) were never sent; to create them: "
            f"{batch_resume(directory)}",
            file=err,
        )
    return 0 if counts.complete + counts.skipped == counts.total else 1


def emulator_command(args: argparse.Namespace) -> int:
    """Serve the emulator over HTTP until Ctrl-C (exit 2 when uvicorn is not installed)."""
    from .emulator import Emulator
    from .emulator.rate_limit import RateLimit
    from .emulator.timing import Drawn, Fixed

    try:
        from .emulator.server import serve
    except ImportError as exc:  # uvicorn is an extra: the in-process sandbox needs no server
        print(
            f"magicgif: error: serving the emulator over HTTP needs uvicorn ({exc.name} is "
            "not installed): pip install 'magicgif-widget[emulator]'",
            file=sys.stderr,
        )
        return 2
    if args.output_file and not Path(args.output_file).is_file():
        raise ValidationError("--output-file", f"{args.output_file!r} is not a file")
    token = args.token or os.environ.get("MAGICGIF_EMULATOR_TOKEN")
    timing = None
    if args.profile or args.median is not None or args.spread is not None:
        given = {"median": args.median, "spread": args.spread}
        timing = replace(
            Drawn.realistic(args.seed), **{k: v for k, v in given.items() if v is not None}
        )
    limit = None
    if args.rate_limit == STATED_LIMIT:
        limit = RateLimit()
    elif args.rate_limit is not None:
        if not args.rate_limit > 0:
            raise ValidationError("--rate-limit", "must be more than 0 requests a second")
        limit = RateLimit(args.rate_limit, max(1, round(2 * args.rate_limit)))
    emulator = Emulator(
        timing=timing,
        render_seconds=args.render_seconds,
        token=token,
        output_file=args.output_file,
        credits=args.credits,
        rate_limit=limit,
    )
    auth = "Bearer token required" if token else "no auth"
    print(
        f"magicgif emulator on http://{args.host}:{args.port} "
        f"({(timing or Fixed(args.render_seconds)).describe()}, {auth}); Ctrl-C stops it",
        file=sys.stderr,
        flush=True,
    )
    serve(emulator, args.host, args.port, log_level=args.log_level)
    return 0
