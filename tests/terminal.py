"""Run a command with its stderr on a pseudo-terminal of a given size (POSIX)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


def run_on_a_terminal(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str], rows: int = 40, cols: int = 100
) -> tuple[int, str, str]:
    """Run ``command`` with stderr on a ``rows`` x ``cols`` pseudo-terminal: its exit code,
    what the terminal received, and its stdout."""
    import fcntl
    import pty
    import struct
    import termios

    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=secondary,
        text=True,
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    stdout, _ = proc.communicate(timeout=60)
    os.close(primary)
    return proc.returncode, b"".join(chunks).decode(errors="replace"), stdout
