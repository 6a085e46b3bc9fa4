"""One generate call's arguments, checked once: what to create, how to wait and download.

``generate``, ``stream``, ``check_result``, the sync client and batches all build a
``GenerateOptions`` here and hand it to the workflow; nothing else re-checks them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import validation as check
from .download import Adopt
from .errors import ValidationError
from .settings import PollPolicy

DEFAULT_GENERATE_TIMEOUT = 900.0  # seconds: create to downloaded file
RequestOptions = Mapping[str, Any]


@dataclass(frozen=True)
class GenerateOptions:
    """Checked arguments of one ``generate`` (``body``) or ``check_result`` (no body) call.

    ``poll`` None means the client's policy; ``request`` holds the vendor's
    ``request_options`` (a timeout and extra headers) for the create.
    """

    body: dict[str, Any] = field(default_factory=dict)
    wait: bool = True
    download: bool = True
    directory: Path | None = None
    timeout: float | None = DEFAULT_GENERATE_TIMEOUT
    poll: PollPolicy | None = None
    request: dict[str, Any] = field(default_factory=dict)
    adopt: Adopt | None = None  # batch reruns: which already-placed outputs are this job's

    @classmethod
    def check(
        cls,
        *,
        style: Mapping[str, Any],
        name: str | None = None,
        output_format: str | None = None,
        wait_for_completion: bool = True,
        download_outputs: bool = True,
        download_directory: str | os.PathLike[str] | None = None,
        timeout: float | None = DEFAULT_GENERATE_TIMEOUT,
        poll_interval: float | PollPolicy | None = None,
        request_options: RequestOptions | None = None,
    ) -> GenerateOptions:
        """``generate``'s arguments, checked (a ``ValidationError`` names the field at fault)."""
        body = create_body(style, name, output_format)
        request = check_request_options(request_options)
        waiting = cls.waiting(
            wait_for_completion=wait_for_completion,
            download_outputs=download_outputs,
            download_directory=download_directory,
            timeout=timeout,
            poll_interval=poll_interval,
        )
        return cls(
            body=body,
            wait=waiting.wait,
            download=waiting.download,
            directory=waiting.directory,
            timeout=waiting.timeout,
            poll=waiting.poll,
            request=request,
        )

    @classmethod
    def waiting(
        cls,
        *,
        wait_for_completion: bool = True,
        download_outputs: bool = True,
        download_directory: str | os.PathLike[str] | None = None,
        timeout: float | None = DEFAULT_GENERATE_TIMEOUT,
        poll_interval: float | PollPolicy | None = None,
    ) -> GenerateOptions:
        """How to wait and download, for a job that exists already (no create body).

        The download directory is created when it will be used.
        """
        for name, value in (
            ("wait_for_completion", wait_for_completion),
            ("download_outputs", download_outputs),
        ):
            if not isinstance(value, bool):
                raise ValidationError(name, f"must be True or False, got {value!r:.40}")
        will_download = wait_for_completion and download_outputs
        return cls(
            wait=wait_for_completion,
            download=download_outputs,
            directory=check.check_directory(download_directory, create=True)
            if will_download
            else None,
            timeout=check.check_positive("timeout", timeout),
            poll=_poll(poll_interval),
        )

    @property
    def output_format(self) -> str:
        return str(self.body.get("output_format") or "gif")

    def policy(self, default: PollPolicy) -> PollPolicy:
        """The poll policy to use: this call's, else the client's ``default``."""
        return self.poll if self.poll is not None else default


def create_body(style: Any, name: Any, output_format: Any) -> dict[str, Any]:
    """The create's JSON body (unset optional keys omitted), each field checked."""
    body: dict[str, Any] = {"style": check.check_style(style)}
    name = check.check_name(name)
    fmt = check.check_output_format(output_format)
    if name is not None:
        body["name"] = name
    if fmt is not None:
        body["output_format"] = fmt
    return body


def check_request_options(request_options: RequestOptions | None) -> dict[str, Any]:
    """The vendor's ``request_options``: ``timeout`` and ``additional_headers`` are honoured."""
    if not request_options:
        return {}
    if not isinstance(request_options, Mapping):
        raise ValidationError("request_options", "must be a dict")
    out: dict[str, Any] = {}
    if request_options.get("timeout") is not None:
        out["timeout"] = check.check_positive("request_options.timeout", request_options["timeout"])
    headers = request_options.get("additional_headers")
    if headers:
        if not isinstance(headers, Mapping):
            raise ValidationError("request_options.additional_headers", "must be a dict")
        if any(str(k).lower() == "authorization" for k in headers):
            raise ValidationError(
                "request_options.additional_headers",
                "must not set Authorization; pass token= to the client",
            )
        out["headers"] = {str(k): str(v) for k, v in headers.items()}
    return out


def _poll(poll_interval: Any) -> PollPolicy | None:
    if poll_interval is None or isinstance(poll_interval, PollPolicy):
        return poll_interval
    return PollPolicy(interval=check.check_positive("poll_interval", poll_interval) or 0.5)
