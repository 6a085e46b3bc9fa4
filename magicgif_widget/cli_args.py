"""The ``magicgif`` command's arguments: every command, its flags and their checks."""

from __future__ import annotations

import argparse

from ._version import __version__
from .batching.results import MAX_CONCURRENCY, check_concurrency
from .cli_commands import STATED_LIMIT, batch_command, emulator_command, generate_command
from .cli_jobs import add_commands
from .client.errors import ValidationError
from .client.params import DEFAULT_GENERATE_TIMEOUT
from .contract import DEFAULT_FORMAT, OUTPUT_FORMATS


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
    """The ``magicgif`` parser; each command's ``run`` is its function."""
    top = argparse.ArgumentParser(
        prog="magicgif",
        description="Magic Hour's AI GIF generator from the command line (offline sandbox "
        "when no MAGIC_HOUR_API_TOKEN is set).",
        epilog="'magicgif COMMAND --help' lists a command's options.",
    )
    top.add_argument("--version", action="version", version=f"magicgif {__version__}")
    sub = top.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")

    gen = sub.add_parser("generate", help="generate one animation and download it")
    gen.add_argument("prompt", help="what to animate (1 to 500 characters)")
    gen.add_argument(
        "--format",
        choices=OUTPUT_FORMATS,
        default=DEFAULT_FORMAT,
        help=f"output format (default {DEFAULT_FORMAT})",
    )
    gen.add_argument("--name", help="a name for the project")
    gen.add_argument(
        "-o",
        "--output-dir",
        metavar="DIR",
        default=".",
        help="download directory, created if missing (default: the current one)",
    )
    gen.add_argument(
        "--timeout",
        metavar="S",
        type=_seconds,
        default=DEFAULT_GENERATE_TIMEOUT,
        help=f"give up waiting after this many seconds (default {DEFAULT_GENERATE_TIMEOUT:g})",
    )
    _spend_limit_flag(gen)
    gen.add_argument("--base-url", default=None, help=argparse.SUPPRESS)
    gen.set_defaults(run=generate_command)

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
    bat.add_argument(
        "-o", "--output-dir", metavar="DIR", help="download directory (and ledger) of a new batch"
    )
    bat.add_argument(
        "--resume", metavar="DIR", help="continue the batch or gallery recorded in DIR"
    )
    bat.add_argument(
        "--collect-only",
        action="store_true",
        help="with --resume: only collect jobs that exist; create nothing",
    )
    bat.add_argument(
        "--concurrency",
        metavar="N",
        type=_concurrency,
        default=4,
        help=f"jobs at once (default 4, max {MAX_CONCURRENCY})",
    )
    bat.add_argument(
        "--format",
        choices=OUTPUT_FORMATS,
        default=None,
        help=f"format of the items that name none (default {DEFAULT_FORMAT})",
    )
    bat.add_argument(
        "--retry-failed", action="store_true", help="create failed items again (costs credits)"
    )
    bat.add_argument(
        "--retry-unknown",
        action="store_true",
        help="create items whose earlier create went unanswered again (may charge twice)",
    )
    bat.add_argument(
        "--timeout",
        metavar="S",
        type=_seconds,
        default=DEFAULT_GENERATE_TIMEOUT,
        help=f"per-job limit in seconds (default {DEFAULT_GENERATE_TIMEOUT:g})",
    )
    _spend_limit_flag(bat)
    bat.add_argument("--base-url", default=None, help=argparse.SUPPRESS)
    bat.set_defaults(run=batch_command)

    add_commands(sub)  # jobs, resume, account
    emu = sub.add_parser("emulator", help="serve the API emulator over HTTP (tests, benchmarks)")
    emu.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    emu.add_argument("--port", metavar="N", type=int, default=8000, help="port (default 8000)")
    emu.add_argument(
        "--render-seconds",
        metavar="S",
        type=_seconds,
        default=2.0,
        help="every job's exact time (default 2)",
    )
    emu.add_argument(
        "--profile",
        choices=["realistic"],
        help="draw each job's queue wait and render time like Magic Hour's (26 s median)",
    )
    emu.add_argument(
        "--median", metavar="S", type=_seconds, help="drawn jobs' median seconds, queue included"
    )
    emu.add_argument(
        "--spread", metavar="SIGMA", type=_seconds, help="drawn render times' lognormal sigma"
    )
    emu.add_argument(
        "--seed", metavar="N", type=int, default=0, help="seed of the drawn times (default 0)"
    )
    emu.add_argument("--output-file", metavar="FILE", help="serve this file as every job's output")
    emu.add_argument(
        "--token", metavar="T", help="demand this Bearer token (or MAGICGIF_EMULATOR_TOKEN)"
    )
    emu.add_argument(
        "--credits",
        metavar="N",
        type=int,
        default=1_000_000,
        help="starting credit balance (default 1000000)",
    )
    emu.add_argument(
        "--rate-limit",
        metavar="N",
        type=_seconds,
        nargs="?",
        const=STATED_LIMIT,
        help="refuse with 429 past N requests/s per API key, bursts of 2N; bare, the "
        "emulator's stated default (emulator/rate_limit.py); off unless given",
    )
    emu.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn's log level (default warning)",
    )
    emu.set_defaults(run=emulator_command)
    return top


def _spend_limit_flag(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--spend-limit",
        metavar="CREDITS",
        default=None,
        help="refuse jobs that would pass this many credits per day (or '500/week'; "
        "MAGICGIF_SPEND_LIMIT sets one too, and both hold)",
    )
