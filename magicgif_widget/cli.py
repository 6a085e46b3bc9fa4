"""The ``magicgif`` command: ``generate`` a GIF, or serve an ``emulator`` on loopback."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from .batching.results import (
    MAX_CONCURRENCY,
    BatchInterrupted,
    BatchProgress,
    check_concurrency,
    normalize,
)
from .cli_jobs import add_commands
from .client.errors import GenerationInterrupted, MagicHourError, ValidationError
from .client.models import Completed, Created, DownloadProgress, Event, Retrying, StatusChanged
from .client.settings import SANDBOX_BASE_URL, SandboxWarning, resolve
from .contract import OUTPUT_FORMATS
from .jobstore.advice import batch_resume, job_resume
from .progress import DEFAULT_ESTIMATE, fraction

SANDBOX_NOTE = (
    "magicgif: running on the offline SANDBOX (no API token set): the animation is drawn "
    "locally, no AI, no credits. Set MAGIC_HOUR_API_TOKEN to use Magic Hour."
)


class Progress:
    """A one-line progress display on a terminal; plain status lines otherwise. The bar fills
    as the widget's does (progress.py): by status, by time while rendering, by bytes."""

    WIDTH = 24

    def __init__(self, stream: TextIO, estimate: float = DEFAULT_ESTIMATE) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.estimate = estimate  # expected seconds of rendering
        self.started = time.monotonic()
        self.status = "creating"
        self.fraction = fraction("creating")
        self._last_line = ""
        self._since = self.started
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def __enter__(self) -> Progress:
        if self.tty:
            threading.Thread(target=self._tick, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def _tick(self) -> None:
        """Keep the bar alive while the API reports nothing: rendering moves on time."""
        while not self._stop.wait(0.2):
            with self._lock:
                if self.status == "rendering":
                    elapsed = time.monotonic() - self._since
                    now = fraction("rendering", elapsed=elapsed, estimate=self.estimate)
                    self.fraction = max(self.fraction, now)
                self._draw()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._handle(event)

    def _handle(self, event: Event) -> None:
        if isinstance(event, Created):
            self._set("queued", f"job {event.project_id} created")
        elif isinstance(event, StatusChanged):
            self._set("downloading" if event.status == "complete" else event.status)
        elif isinstance(event, Retrying):
            self._note(f"{event.operation}: {event.reason}; retrying in {event.delay:.1f}s")
        elif isinstance(event, DownloadProgress):
            self._set("downloading", received=event.received, total=event.total)
        elif isinstance(event, Completed):
            self._set("complete")
            if self.tty:
                self.stream.write("\n")

    def _set(
        self, status: str, note: str | None = None, *, received: int = 0, total: int | None = None
    ) -> None:
        changed = status != self.status
        if changed:
            self._since = time.monotonic()
        now = fraction(status, estimate=self.estimate, received=received, total=total)
        self.status, self.fraction = status, max(self.fraction, now)
        if note:
            self._note(note)
        if self.tty:
            self._draw()
        elif changed:
            self.stream.write(f"magicgif: {status} ({time.monotonic() - self.started:.1f}s)\n")

    def _draw(self) -> None:
        if self._stop.is_set() or not self.tty:
            return
        filled = int(self.WIDTH * self.fraction)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        line = f"\r[{bar}] {self.status:<11} {time.monotonic() - self.started:5.1f}s"
        if line != self._last_line:
            self.stream.write(line)
            self.stream.flush()
            self._last_line = line

    def _note(self, text: str) -> None:
        prefix = "\n" if self.tty and self._last_line else ""
        self.stream.write(f"{prefix}magicgif: {text}\n")
        self._last_line = ""


def _generate(args: argparse.Namespace) -> int:
    from .clients import Client

    err = sys.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SandboxWarning)
        settings = resolve(base_url=args.base_url, spend_limit=args.spend_limit)
    client = Client.from_settings(replace(settings, surface="cli"))
    with client:
        if client.sandbox:
            print(SANDBOX_NOTE, file=err)
        with Progress(err) as progress:
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


class BatchLines:
    """Batch progress on a terminal (one bar), or one line per finished item otherwise; the
    cost of the creates is said once, before any is sent."""

    def __init__(self, stream: TextIO, lines: list[int] | None) -> None:
        from .batching import BatchBar

        self.stream = stream
        self.lines = lines
        self.bar = BatchBar(file=stream) if stream.isatty() else None
        self._told = False

    def __call__(self, progress: BatchProgress) -> None:
        if not self._told:
            self._told = True
            counts = progress.counts
            self._write(f"magicgif: batch of {counts.total}: {counts.planned_cost}")
        if self.bar is not None:
            self.bar(progress)
        if progress.result is None or progress.index is None:
            return
        where = self._where(progress.index)
        result = progress.result
        if isinstance(result, MagicHourError):
            self._write(f"magicgif: {where}: {type(result).__name__}: {result}")
        elif self.bar is None:
            counts = progress.counts
            paths = ", ".join(result.downloaded_paths or [])
            self._write(f"magicgif: [{counts.finished}/{counts.total}] {where}: {paths}")

    def _where(self, index: int) -> str:
        if self.lines is not None and index < len(self.lines):
            return f"line {self.lines[index]}"
        return f"item {index + 1}"

    def _write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


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


def _batch(args: argparse.Namespace) -> int:
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
            print(
                f"{_fresh_line()}magicgif: interrupted; "
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


def _emulator(args: argparse.Namespace) -> int:
    from .emulator import Emulator
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
    emulator = Emulator(
        timing=timing,
        render_seconds=args.render_seconds,
        token=token,
        output_file=args.output_file,
        credits=args.credits,
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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def _concurrency(text: str) -> int:
    try:
        return check_concurrency(int(text))
    except (ValueError, ValidationError):
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 1 to {MAX_CONCURRENCY}, got {text!r}"
        ) from None


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="magicgif",
        description="Magic Hour's AI GIF generator from the command line (offline sandbox "
        "when no MAGIC_HOUR_API_TOKEN is set).",
    )
    sub = top.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="generate one animation and download it")
    gen.add_argument("prompt", help="what to animate (1 to 500 characters)")
    gen.add_argument("--format", choices=OUTPUT_FORMATS, default="gif", help="output format")
    gen.add_argument("--name", help="a name for the project")
    gen.add_argument("-o", "--output-dir", default=".", help="download directory (created)")
    gen.add_argument(
        "--timeout",
        type=_seconds,
        default=900.0,
        help="give up waiting after this many seconds (default 900)",
    )
    _spend_limit_flag(gen)
    gen.add_argument("--base-url", default=None, help=argparse.SUPPRESS)
    gen.set_defaults(run=_generate)

    bat = sub.add_parser(
        "batch",
        help="generate one animation per line of FILE, resumably",
        description="Generate one animation per line of FILE (a prompt, or a JSON object of "
        "generate arguments: prompt or style, name, output_format). A ledger in the output "
        "directory records every item; --resume DIR continues from it (items, names, formats, "
        "job ids, server) without creating any job twice.",
    )
    bat.add_argument(
        "file", nargs="?", metavar="FILE", help="prompts, one per line ('-' for stdin)"
    )
    bat.add_argument("-o", "--output-dir", help="download directory (and ledger) of a new batch")
    bat.add_argument(
        "--resume", metavar="DIR", help="continue the batch or gallery recorded in DIR"
    )
    bat.add_argument(
        "--collect-only",
        action="store_true",
        help="with --resume: only collect jobs that exist; create nothing",
    )
    bat.add_argument(
        "--concurrency", type=_concurrency, default=4, help="jobs at once (default 4, max 64)"
    )
    bat.add_argument("--format", choices=OUTPUT_FORMATS, default=None, help="default format")
    bat.add_argument(
        "--retry-failed", action="store_true", help="create failed items again (costs credits)"
    )
    bat.add_argument(
        "--retry-unknown",
        action="store_true",
        help="create items whose earlier create went unanswered again (may charge twice)",
    )
    bat.add_argument(
        "--timeout", type=_seconds, default=900.0, help="per-job limit in seconds (default 900)"
    )
    _spend_limit_flag(bat)
    bat.add_argument("--base-url", default=None, help=argparse.SUPPRESS)
    bat.set_defaults(run=_batch)

    emu = sub.add_parser("emulator", help="serve the API emulator over HTTP (tests, benchmarks)")
    emu.add_argument("--host", default="127.0.0.1")
    emu.add_argument("--port", type=int, default=8000)
    emu.add_argument(
        "--render-seconds", type=_seconds, default=2.0, help="every job's exact time (default 2)"
    )
    emu.add_argument(
        "--profile",
        choices=["realistic"],
        help="draw each job's queue wait and render time like Magic Hour's (26 s median)",
    )
    emu.add_argument("--median", type=_seconds, help="drawn jobs' median seconds, queue included")
    emu.add_argument("--spread", type=_seconds, help="drawn render times' lognormal sigma")
    emu.add_argument("--seed", type=int, default=0, help="seed of the drawn times (default 0)")
    emu.add_argument("--output-file", help="serve this file as every job's output")
    emu.add_argument("--token", help="demand this Bearer token (or MAGICGIF_EMULATOR_TOKEN)")
    emu.add_argument("--credits", type=int, default=1_000_000, help="starting credit balance")
    emu.add_argument(
        "--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"]
    )
    emu.set_defaults(run=_emulator)
    add_commands(sub)
    return top


def _spend_limit_flag(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--spend-limit",
        metavar="CREDITS",
        default=None,
        help="refuse jobs that would pass this many credits per day (or '500/week'; "
        "MAGICGIF_SPEND_LIMIT sets one too, and both hold)",
    )


def _fresh_line() -> str:
    return "\n" if sys.stderr.isatty() else ""


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up as Ctrl-C does: no partial file, the job named


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    args.argv = argv
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        return int(args.run(args))
    except ValidationError as exc:
        print(f"magicgif: error: {exc}", file=sys.stderr)
        return 2
    except MagicHourError as exc:
        print(f"{_fresh_line()}magicgif: error: {exc}", file=sys.stderr)
        return 1
    except GenerationInterrupted as exc:
        print(f"{_fresh_line()}magicgif: {exc}", file=sys.stderr)
        if exc.project_id:
            print(
                f"magicgif: collect it later, without paying again: {job_resume(exc.project_id)}",
                file=sys.stderr,
            )
        return 130
    except KeyboardInterrupt:
        print(f"{_fresh_line()}magicgif: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
