"""The ``magicgif`` command: ``generate`` a GIF, or serve an ``emulator`` on loopback."""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .client.errors import GenerationInterrupted, MagicHourError, ValidationError
from .client.models import Completed, Created, DownloadProgress, Event, Retrying, StatusChanged
from .client.settings import SandboxWarning
from .client.validation import OUTPUT_FORMATS

SANDBOX_NOTE = (
    "magicgif: running on the offline SANDBOX (no API token set): the animation is drawn "
    "locally, no AI, no credits. Set MAGIC_HOUR_API_TOKEN to use Magic Hour."
)


class Progress:
    """A one-line progress display on a terminal; plain status lines otherwise."""

    WIDTH = 24

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.status = "creating"
        self.fraction = 0.0
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
        """Keep the bar alive while the API reports nothing: creep toward 90% while rendering."""
        while not self._stop.wait(0.2):
            with self._lock:
                if self.status == "rendering":
                    creep = 0.3 + 0.55 * (1 - math.exp(-(time.monotonic() - self._since) / 20))
                    self.fraction = max(self.fraction, creep)
                self._draw()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._handle(event)

    def _handle(self, event: Event) -> None:
        if isinstance(event, Created):
            self._set("queued", 0.05, f"job {event.project_id} created")
        elif isinstance(event, StatusChanged):
            status = "downloading" if event.status == "complete" else event.status
            self._set(status, {"queued": 0.1, "rendering": 0.3}.get(event.status, 0.9))
        elif isinstance(event, Retrying):
            self._note(f"{event.operation}: {event.reason}; retrying in {event.delay:.1f}s")
        elif isinstance(event, DownloadProgress):
            share = event.received / event.total if event.total else 0.5
            self._set("downloading", 0.9 + 0.1 * share)
        elif isinstance(event, Completed):
            self._set("complete", 1.0)
            if self.tty:
                self.stream.write("\n")

    def _set(self, status: str, fraction: float, note: str | None = None) -> None:
        changed = status != self.status
        if changed:
            self._since = time.monotonic()
        self.status, self.fraction = status, max(self.fraction, fraction)
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
    from .client import Client

    err = sys.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SandboxWarning)
        client = Client(base_url=args.base_url)
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


def _emulator(args: argparse.Namespace) -> int:
    from .emulator import Emulator
    from .emulator.server import serve

    if args.output_file and not Path(args.output_file).is_file():
        raise ValidationError("--output-file", f"{args.output_file!r} is not a file")
    token = args.token or os.environ.get("MAGICGIF_EMULATOR_TOKEN")
    emulator = Emulator(
        render_seconds=args.render_seconds,
        token=token,
        output_file=args.output_file,
        credits=args.credits,
    )
    auth = "Bearer token required" if token else "no auth"
    print(
        f"magicgif emulator on http://{args.host}:{args.port} "
        f"(render {args.render_seconds:g}s, {auth}); Ctrl-C stops it",
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
    gen.add_argument("--base-url", default=None, help=argparse.SUPPRESS)
    gen.set_defaults(run=_generate)

    emu = sub.add_parser("emulator", help="serve the API emulator over HTTP (tests, benchmarks)")
    emu.add_argument("--host", default="127.0.0.1")
    emu.add_argument("--port", type=int, default=8000)
    emu.add_argument("--render-seconds", type=_seconds, default=2.0)
    emu.add_argument("--output-file", help="serve this file as every job's output")
    emu.add_argument("--token", help="demand this Bearer token (or MAGICGIF_EMULATOR_TOKEN)")
    emu.add_argument("--credits", type=int, default=1_000_000, help="starting credit balance")
    emu.add_argument(
        "--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"]
    )
    emu.set_defaults(run=_emulator)
    return top


def _fresh_line() -> str:
    return "\n" if sys.stderr.isatty() else ""


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up as Ctrl-C does: no partial file, the job named


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
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
        return 130
    except KeyboardInterrupt:
        print(f"{_fresh_line()}magicgif: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
