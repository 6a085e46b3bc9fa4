"""The ``magicgif`` command: ``generate`` a GIF, run a ``batch``, list and collect ``jobs``,
or serve an ``emulator`` on loopback. Errors end as one line and an exit code."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence

from .cli_args import parser
from .cli_commands import read_batch_file
from .cli_output import SANDBOX_NOTE, BatchLines, Progress
from .client.errors import GenerationInterrupted, MagicHourError, ValidationError
from .jobstore.advice import job_resume

__all__ = ["SANDBOX_NOTE", "BatchLines", "Progress", "main", "parser", "read_batch_file"]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up as Ctrl-C does: no partial file, the job named


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``magicgif`` with ``argv``: 0 done, 1 an API or job error, 2 bad input, 130 stopped.
    Every display is closed before an error is printed, so it starts on a fresh line."""
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
        print(f"magicgif: error: {exc}", file=sys.stderr)
        return 1
    except GenerationInterrupted as exc:
        print(f"magicgif: {exc}", file=sys.stderr)
        if exc.project_id:
            print(
                f"magicgif: collect it later, without paying again: {job_resume(exc.project_id)}",
                file=sys.stderr,
            )
        return 130
    except KeyboardInterrupt:
        print("magicgif: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
