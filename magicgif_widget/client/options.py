"""One generate call's arguments, checked once: what to create, how to wait and download.

``generate``, ``stream``, ``check_result``, the sync client and batches all build a
``GenerateOptions`` here and hand it to the workflow; nothing else re-checks them. The
keywords themselves and their defaults are said once, in ``params``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import validation as check
from .download import Adopt
from .errors import ValidationError
from .params import DEFAULT_GENERATE_TIMEOUT as DEFAULT_GENERATE_TIMEOUT
from .params import GenerateParams, WaitParams, with_defaults
from .settings import PollPolicy

if TYPE_CHECKING:
    from typing_extensions import Unpack

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
        request_options: RequestOptions | None = None,
        **params: Unpack[GenerateParams],
    ) -> GenerateOptions:
        """``generate``'s arguments, checked (a ``ValidationError`` names the field at fault;
        an unknown keyword is a ``TypeError``)."""
        given = with_defaults(params)
        body = create_body(style, given["name"], given["output_format"])
        request = check_request_options(request_options)
        waiting = cls.waiting(
            wait_for_completion=given["wait_for_completion"],
            download_outputs=given["download_outputs"],
            download_directory=given["download_directory"],
            timeout=given["timeout"],
            poll_interval=given["poll_interval"],
        )
        return replace(waiting, body=body, request=request)

    @classmethod
    def waiting(cls, **params: Unpack[WaitParams]) -> GenerateOptions:
        """How to wait and download, for a job that exists already (no create body).

        A left-out keyword takes its value in ``GENERATE_DEFAULTS``; the download directory
        is created when it will be used.
        """
        given = with_defaults(params)
        wait_for_completion = given["wait_for_completion"]
        download_outputs = given["download_outputs"]
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
            directory=check.check_directory(given["download_directory"], create=True)
            if will_download
            else None,
            timeout=check.check_positive("timeout", given["timeout"]),
            poll=_poll(given["poll_interval"]),
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
