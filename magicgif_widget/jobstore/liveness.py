"""Who wrote a journal intent (``writer()``: host hash, pid, run id) and whether that
process still runs (``writer_alive``), so an intent whose writer died reads as ``unknown``.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid

_HOST = hashlib.sha256(socket.gethostname().encode(errors="replace")).hexdigest()[:12]
_RUN = uuid.uuid4().hex[:12]  # this process, told apart from an earlier one with its pid


def new_run() -> None:
    """A new run id for this process (a forked child is not its parent)."""
    global _RUN
    _RUN = uuid.uuid4().hex[:12]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=new_run)


def writer() -> str:
    """This process, as an intent records it: ``<host hash>:<pid>:<run>``."""
    return f"{_HOST}:{os.getpid()}:{_RUN}"


def writer_alive(record: str) -> bool | None:
    """Whether the process that wrote an intent still runs: None when it cannot be told
    (another host, Windows, a malformed record)."""
    host, pid_text, run = [*record.split(":"), "", ""][:3]
    if host != _HOST or os.name == "nt" or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    if pid == os.getpid():
        return run == _RUN  # a kernel restarted under the same pid is not its predecessor
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    except OSError:
        return None
    return True
