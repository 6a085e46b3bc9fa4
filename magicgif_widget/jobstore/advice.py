"""The commands the package tells people to run, spelled in one place so that every notice,
error and printed line says the same thing, and the tests run exactly these strings."""

from __future__ import annotations

import os
import shlex


def batch_resume(directory: str | os.PathLike[str], *flags: str) -> str:
    """``magicgif batch --resume DIR [flags]``: continue a batch or gallery from its folder."""
    return shlex.join(["magicgif", "batch", "--resume", os.path.abspath(directory), *flags])


def collect_gallery(directory: str | os.PathLike[str]) -> str:
    """Collect a batch's or gallery's jobs that exist, creating none."""
    return batch_resume(directory, "--collect-only")


def job_resume(project_id: str) -> str:
    """``magicgif resume ID``: wait for one journaled job and download it, creating none."""
    return shlex.join(["magicgif", "resume", project_id])


RESUME_ALL = "magicgif resume --all"
