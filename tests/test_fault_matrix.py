"""The fault matrix: every emulator fault on every route it applies to, for the sync client, the
async client and the widget. Each case states its outcome; every case also checks that no
partial or temporary file is left, that no create was added, that every rule fired (each counted
rule exactly once, an always-rule on every request to its route) and that it ends (a per-case
pytest timeout, not a timed assertion).

To add a case, add a ``Case`` to ``CASES``; the modes it runs in follow from its operation.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from magicgif_widget import (
    AsyncClient,
    Client,
    CreateOutcomeUnknown,
    DownloadError,
    GenerationTimeout,
    GifWidget,
    JobCanceledError,
    JobFailedError,
    MagicHourError,
    NetworkError,
    RateLimitError,
    ServerError,
)

from .conftest import FAST_POLL, FAST_RETRY, PROMPT, Server
from .fired import live_rules

BOUND = 60  # seconds: a hang guard (pytest-timeout); the slowest case takes ~3 s


@dataclass(frozen=True)
class Case:
    """One fault scenario: the rules to inject, and what must come of it."""

    name: str
    rules: tuple[dict[str, Any], ...]
    error: type[MagicHourError] | None = None  # None: the operation completes
    creates: int | None = None  # jobs the server made; default: none for an upload, else one
    with_id: bool = True  # the error carries the project id
    operation: str = "generate"  # generate | upload | delete
    timeout: float = 5.0  # the client's per-request timeout
    deadline: float | None = None  # generate's overall timeout
    settle: float = 0.0  # seconds for a delayed server handler to finish before counting
    mentions: str = ""  # text the error message must contain

    @property
    def jobs(self) -> int:
        if self.creates is not None:
            return self.creates
        return 0 if self.operation == "upload" else 1

    @property
    def modes(self) -> tuple[str, ...]:
        return ("sync", "async", "widget") if self.operation == "generate" else ("sync", "async")


def rule(route: str, **kw: Any) -> dict[str, Any]:
    return {"route": route, **kw}


ALWAYS = {"times": None}

CASES = [
    # -- create: the paid step. Retried only when it provably made no job (429). -------------
    Case("create-429-retry-after", (rule("create", status=429, retry_after=0.2),)),
    Case("create-429-no-retry-after", (rule("create", status=429),)),
    Case(
        "create-429-always",
        (rule("create", status=429, **ALWAYS),),
        RateLimitError,
        creates=0,
        with_id=False,
    ),
    *(
        Case(
            f"create-{status}",
            (rule("create", status=status),),
            ServerError,
            creates=0,
            with_id=False,
            mentions="not retried",
        )
        for status in (500, 502, 503)
    ),
    Case(
        "create-reset",
        (rule("create", kind="reset"),),
        CreateOutcomeUnknown,
        with_id=False,
        mentions="not re-sent",
    ),
    Case(
        "create-delay-past-timeout",
        (rule("create", kind="delay", seconds=1.0),),
        CreateOutcomeUnknown,
        with_id=False,
        timeout=0.4,
    ),
    Case("create-outcome-error", (rule("create", outcome="error"),), JobFailedError),
    Case("create-outcome-canceled", (rule("create", outcome="canceled"),), JobCanceledError),
    Case(
        "create-outcome-never",
        (rule("create", outcome="never"),),
        GenerationTimeout,
        deadline=1.0,
        mentions="may still finish",
    ),
    # -- poll: idempotent, so retried; a persistent fault ends typed, with the id. ----------
    Case("poll-429-retry-after", (rule("poll", status=429, retry_after=0.2),)),
    Case("poll-429-no-retry-after", (rule("poll", status=429),)),
    *(Case(f"poll-{status}", (rule("poll", status=status),)) for status in (500, 502, 503)),
    Case("poll-reset", (rule("poll", kind="reset"),)),
    Case("poll-delay-past-timeout", (rule("poll", kind="delay", seconds=1.0),), timeout=0.4),
    Case("poll-429-always", (rule("poll", status=429, **ALWAYS),), RateLimitError),
    Case("poll-503-always", (rule("poll", status=503, **ALWAYS),), ServerError),
    Case("poll-reset-always", (rule("poll", kind="reset", **ALWAYS),), NetworkError),
    # -- download: retried; expired URLs refreshed; never a partial file. -------------------
    Case("download-429-retry-after", (rule("download", status=429, retry_after=0.2),)),
    Case("download-429-no-retry-after", (rule("download", status=429),)),
    *(Case(f"download-{status}", (rule("download", status=status),)) for status in (500, 502, 503)),
    Case("download-reset", (rule("download", kind="reset"),)),
    Case("download-truncate", (rule("download", kind="truncate"),)),
    Case("download-stall", (rule("download", kind="stall", seconds=1.0),), timeout=0.4),
    Case(
        "download-delay-past-timeout", (rule("download", kind="delay", seconds=1.0),), timeout=0.4
    ),
    Case("download-expire", (rule("download", kind="expire"),)),
    Case("download-500-always", (rule("download", status=500, **ALWAYS),), DownloadError),
    Case("download-truncate-always", (rule("download", kind="truncate", **ALWAYS),), DownloadError),
    Case("download-expire-always", (rule("download", kind="expire", **ALWAYS),), DownloadError),
    Case(
        "download-stall-always",
        (rule("download", kind="stall", seconds=1.0, **ALWAYS),),
        DownloadError,
        timeout=0.3,
    ),
    # -- upload (files.upload_file): the URL request and the PUT. -----------------------------
    *(
        Case(f"upload-{status}", (rule("upload", status=status),), operation="upload")
        for status in (429, 500, 503)
    ),
    Case("upload-reset", (rule("upload", kind="reset"),), operation="upload"),
    Case(
        "upload-delay-past-timeout",
        (rule("upload", kind="delay", seconds=1.0),),
        operation="upload",
        timeout=0.4,
    ),
    Case("upload-urls-503", (rule("upload-urls", status=503),), operation="upload"),
    Case(
        "upload-500-always",
        (rule("upload", status=500, **ALWAYS),),
        ServerError,
        operation="upload",
        with_id=False,
    ),
    # -- delete: idempotent; a retry that finds the job gone counts as done. ----------------
    *(
        Case(f"delete-{status}", (rule("delete", status=status),), operation="delete")
        for status in (429, 500, 503)
    ),
    Case("delete-reset", (rule("delete", kind="reset"),), operation="delete"),
    Case(
        "delete-delay-past-timeout",
        (rule("delete", kind="delay", seconds=1.0),),
        operation="delete",
        timeout=0.4,
        settle=1.0,
    ),
    Case(
        "delete-503-always",
        (rule("delete", status=503, **ALWAYS),),
        ServerError,
        operation="delete",
    ),
]

MATRIX = [
    pytest.param(case, mode, id=f"{case.name}-{mode}") for case in CASES for mode in case.modes
]


def client_kwargs(server: Server, case: Case) -> dict[str, Any]:
    return {"base_url": server.url, "poll": FAST_POLL, "retry": FAST_RETRY, "timeout": case.timeout}


async def run_case(case: Case, mode: str, server: Server, out: Path) -> Any:
    """Run the case's operation in ``mode``; returns its result or raises its error."""
    kwargs = client_kwargs(server, case)
    if case.operation == "delete":
        project_id = await _prepared_job(server)
    elif case.operation == "upload":
        source = out.parent / "upload.png"
        source.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 300_000)
    for item in case.rules:
        server.fault(**item)
    generate_args = {
        "style": PROMPT,
        "download_directory": out,
        "timeout": case.deadline or 30.0,
    }
    if mode == "sync":
        with Client(**kwargs) as client:
            if case.operation == "generate":
                return await asyncio.to_thread(client.v1.ai_gif_generator.generate, **generate_args)
            if case.operation == "upload":
                return await asyncio.to_thread(client.v1.files.upload_file, source)
            return await asyncio.to_thread(client.v1.image_projects.delete, id=project_id)
    if mode == "async":
        async with AsyncClient(**kwargs) as client:
            if case.operation == "generate":
                return await client.v1.ai_gif_generator.generate(**generate_args)
            if case.operation == "upload":
                return await client.v1.files.upload_file(source)
            return await client.v1.image_projects.delete(id=project_id)
    widget = GifWidget(
        client=Client(**kwargs),
        prompt=PROMPT["prompt"],
        download_directory=out,
        timeout=case.deadline or 30.0,
    )
    try:
        try:
            result = await widget.generate()
        except MagicHourError as exc:
            assert widget.status == "failed" and not widget.running
            assert widget.error and type(exc).__name__ != "MagicHourError"
            if case.with_id:
                assert widget.project_id == exc.project_id
            raise
        assert widget.status == "complete" and widget.media["filename"] == result.path.name
        return result.project
    finally:
        widget.close()


async def _prepared_job(server: Server) -> str:
    """A finished job to delete (made before the faults are armed)."""
    async with AsyncClient(base_url=server.url, poll=FAST_POLL, retry=FAST_RETRY) as client:
        created = await client.v1.ai_gif_generator.create(style=PROMPT)
    return created.id


@pytest.mark.timeout(BOUND)
@pytest.mark.parametrize("case,mode", MATRIX)
async def test_fault(case: Case, mode: str, server: Server, tmp_path: Path):
    server.reset(render_seconds=0.1)
    out = tmp_path / "out"
    try:
        result = await run_case(case, mode, server, out)
    except MagicHourError as exc:
        error: MagicHourError | None = exc
        result = None
    else:
        error = None
    if case.settle:
        await asyncio.sleep(case.settle)
    jobs = list(server.emulator.store.jobs.values())

    if case.error is None:
        assert error is None, f"expected success, got {error!r}"
        _check_success(case, result, out, jobs)
    else:
        assert isinstance(error, case.error), f"expected {case.error.__name__}, got {error!r}"
        assert case.mentions in str(error)
        if case.with_id:
            assert error.project_id and error.project_id == jobs[0].id
        else:
            assert error.project_id is None
        assert _files(out) == []
    _check_fired(case, server)
    assert server.stats()["creates"] == case.jobs  # never an extra (paid) job
    assert _stray(out) == [] and _stray(tmp_path) == []


def _check_fired(case: Case, server: Server) -> None:
    """The faults really fired: a case that never met its fault passes for the wrong reason.

    A counted rule is used exactly ``times`` times and then leaves ``GET /emulator/faults``;
    an always-rule stays listed and meets every request to its route (the matrix arms its
    rules after any set-up request, so each request to that route counts).
    """
    always = [item["route"] for item in case.rules if item.get("times", 1) is None]
    counted = sum(item.get("times", 1) or 0 for item in case.rules)
    uses = counted + sum(server.requests(route) for route in always)
    assert server.stats()["faults_applied"] == uses, server.stats()
    left = live_rules(server)
    assert sorted(rule["route"] for rule in left) == sorted(always), left
    assert all(rule.get("times") is None for rule in left), left
    for route in always:
        assert server.requests(route) >= 1, f"no request reached {route}"


def _check_success(case: Case, result: Any, out: Path, jobs: list[Any]) -> None:
    if case.operation == "generate":
        assert result.status == "complete" and result.id == jobs[0].id
        (path,) = _files(out)
        assert Path(result.downloaded_paths[0]) == path and path.name == f"{result.id}.gif"
        with Image.open(path) as im:
            im.seek(im.n_frames - 1)  # the whole file decodes
    elif case.operation == "upload":
        assert isinstance(result, str) and result.startswith("api-assets/")
    else:
        assert result is None and not jobs[0].enabled


def _files(directory: Path) -> list[Path]:
    return sorted(directory.iterdir()) if directory.is_dir() else []


def _stray(directory: Path) -> list[str]:
    """Hidden or temporary files: what an interrupted download would leave."""
    if not directory.is_dir():
        return []
    return sorted(
        p.name
        for p in directory.iterdir()
        if p.name.startswith(".") or p.suffix in (".part", ".tmp")
    )
