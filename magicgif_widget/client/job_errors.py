"""The errors of a job that ended without output; each carries the project's last state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..contract import JOB_ERRORS, job_error_line
from .errors import MagicHourError, _one_line
from .models import ImageProject


class JobError(MagicHourError):
    """A job ended without output; ``project`` is its last state."""

    def __init__(self, message: str, *, project: ImageProject, **kw: Any) -> None:
        kw.setdefault("project_id", project.id)
        super().__init__(message, **kw)
        self.project = project


class JobFailedError(JobError):
    """The job ended with status ``error``.

    ``code`` is the API's ``error.code`` (None when the project carries no error), ``line``
    the sentence a person is told for it (``contract.job_error_line``: a safe general one for
    codes this package does not know), ``detail`` the API's own ``error.message``, and
    ``refunded`` whether the project shows its credits given back (``credits_charged == 0``).
    ``from_project`` builds one with the message in those words.
    """

    def __init__(
        self,
        message: str,
        *,
        project: ImageProject,
        line: str | None = None,
        detail: str | None = None,
        refunded: bool | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, project=project, **kw)
        self.line = line if line is not None else job_error_line(self.code)
        api_message = project.error.message if project.error else None
        self.detail = detail if detail is not None else api_message
        self.refunded = refunded if refunded is not None else project.credits_charged == 0

    @classmethod
    def from_project(
        cls, project: ImageProject, *, redact: Callable[[str], str] | None = None
    ) -> JobFailedError:
        """The error for a project that ended ``error``, e.g. ``job cm… failed: the prompt
        breaks Magic Hour's content rules; reword it and try again (content_policy_violation;
        credits refunded)``. For a code this package does not know, the API's own message
        follows the general sentence. ``redact`` scrubs the server's text (the token)."""
        scrub = redact or (lambda text: text)
        code = project.error.code if project.error else None
        line = job_error_line(code)
        detail = _one_line(scrub(project.error.message)) if project.error else ""
        refunded = project.credits_charged == 0
        text = f"job {project.id} failed: {line}"
        if code not in JOB_ERRORS and detail:
            text += f": {detail}"
        money = "credits refunded" if refunded else f"{project.credits_charged} credits charged"
        text += f" ({_one_line(scrub(code), 80) if code else 'no error code'}; {money})"
        return cls(
            text, project=project, code=code, line=line, detail=detail or None, refunded=refunded
        )


class JobCanceledError(JobError):
    """The job ended with status ``canceled`` (canceled by hand, e.g. in the web app)."""
