"""The error types: what they carry survives pickling (multiprocessing, ipyparallel)."""

from __future__ import annotations

import pickle

from magicgif_widget import (
    GenerationInterrupted,
    ImageProject,
    JobFailedError,
    RateLimitError,
    ValidationError,
)


def test_errors_survive_pickling():
    project = ImageProject(id="cm1", status="error")
    for err in (
        JobFailedError("failed", project=project, code="boom"),
        ValidationError("style.prompt", "empty"),
        RateLimitError("slow down", retry_after=2.0, project_id="cm1"),
        GenerationInterrupted("cm1"),
    ):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err)
        assert getattr(back, "project_id", None) == getattr(err, "project_id", None)
