"""A misbehaving or compromised server, over real HTTP on loopback: every answer it can give
ends in a result inside the download directory or in a typed error, never a stray file, an
untyped exception, a hang (a per-case pytest timeout), or a write outside the directory.

Each row of ``HOSTILE`` scripts one answer; add a row to add a case.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from magicgif_widget import (
    Client,
    CreateOutcomeUnknown,
    DownloadError,
    GenerationTimeout,
    MagicHourError,
    ServerError,
)
from magicgif_widget.client.errors import APIStatusError, InvalidResponseError
from magicgif_widget.emulator import BackgroundServer

from .conftest import FAST_POLL, FAST_RETRY, PROMPT
from .scripted import GIF, PID, Answer, Scripted, endless, project, raw


def gzipped(answer: Answer) -> Answer:
    """``answer`` sent gzip-compressed, as a proxy might."""

    def send(request: Request) -> Response:
        body = bytes(answer(request).body)
        headers = {"content-encoding": "gzip"}
        return Response(gzip.compress(body), media_type="application/json", headers=headers)

    return send


@dataclass(frozen=True)
class Hostile:
    name: str
    route: str  # create | poll | file
    answer: Answer
    error: type[MagicHourError] | None  # None: completes, inside the directory
    mentions: str = ""
    with_id: bool = True


HOSTILE = [
    # -- the create's answer: unreadable means the job may exist, so never re-sent ---------
    Hostile(
        "create-html-200",
        "create",
        raw("<html>hi</html>", media="text/html"),
        CreateOutcomeUnknown,
        "expected JSON",
        False,
    ),
    Hostile(
        "create-invalid-json",
        "create",
        raw("{'id': 1"),
        CreateOutcomeUnknown,
        "expected JSON",
        False,
    ),
    Hostile(
        "create-json-array", "create", raw("[1, 2]"), CreateOutcomeUnknown, "JSON object", False
    ),
    Hostile(
        "create-no-id",
        "create",
        raw('{"credits_charged": 50}'),
        CreateOutcomeUnknown,
        "no project id",
        False,
    ),
    Hostile(
        "create-null-id",
        "create",
        raw('{"id": null}'),
        CreateOutcomeUnknown,
        "no project id",
        False,
    ),
    Hostile(
        "create-numeric-id",
        "create",
        raw('{"id": 42}'),
        CreateOutcomeUnknown,
        "no project id",
        False,
    ),
    Hostile(
        "create-html-502",
        "create",
        raw("<html>" + "x" * 5000, 502, "text/html"),
        ServerError,
        "HTTP 502",
        False,
    ),
    Hostile(
        "create-redirect",
        "create",
        lambda r: RedirectResponse("http://127.0.0.2/steal", 307),
        APIStatusError,
        "HTTP 307",
        False,
    ),
    # -- the project's answer -----------------------------------------------------------
    Hostile(
        "poll-html-200",
        "poll",
        raw("<html>login</html>", media="text/html"),
        InvalidResponseError,
        "expected JSON",
    ),
    Hostile(
        "poll-invalid-json",
        "poll",
        raw('{"status": "complete"'),
        InvalidResponseError,
        "expected JSON",
    ),
    Hostile("poll-json-array", "poll", raw("[]"), InvalidResponseError, "JSON object"),
    Hostile("poll-json-null", "poll", raw("null"), InvalidResponseError, "JSON object"),
    Hostile(
        "poll-html-503-always",
        "poll",
        raw("<h1>down</h1>", 503, "text/html"),
        ServerError,
        "HTTP 503",
    ),
    Hostile(
        "poll-redirect-elsewhere",
        "poll",
        lambda r: RedirectResponse("http://127.0.0.2/x", 302),
        APIStatusError,
        "HTTP 302",
    ),
    Hostile(
        "poll-missing-status",
        "poll",
        raw(f'{{"id": "{PID}"}}'),
        GenerationTimeout,
        "may still finish",
    ),
    Hostile("poll-null-status", "poll", project(status=None), GenerationTimeout),
    Hostile("poll-unknown-status", "poll", project(status="exploded"), GenerationTimeout),
    Hostile("poll-endless-rendering", "poll", project(status="rendering"), GenerationTimeout),
    Hostile(
        "poll-null-fields",
        "poll",
        project(
            name=None,
            error=None,
            created_at=None,
            type=None,
            image_count=None,
            enabled=None,
            credits_charged="fifty",
        ),
        None,
    ),
    Hostile(
        "poll-error-without-detail",
        "poll",
        project(status="error", error=None, downloads=None),
        MagicHourError,
        "no error code",
    ),
    Hostile(
        "poll-downloads-null", "poll", project(downloads=None), DownloadError, "lists no downloads"
    ),
    Hostile(
        "poll-downloads-string",
        "poll",
        project(downloads="BASE/files/out.gif"),
        DownloadError,
        "lists no downloads",
    ),
    Hostile(
        "poll-download-url-null",
        "poll",
        project(downloads=[{"url": None}]),
        DownloadError,
        "lists no downloads",
    ),
    Hostile(
        "url-file-scheme",
        "poll",
        project(downloads=[{"url": "file:///etc/passwd"}]),
        DownloadError,
        "'file'",
    ),
    Hostile(
        "url-ftp-scheme",
        "poll",
        project(downloads=[{"url": "ftp://127.0.0.1/out.gif"}]),
        DownloadError,
        "'ftp'",
    ),
    Hostile(
        "url-javascript",
        "poll",
        project(downloads=[{"url": "javascript:alert(1)"}]),
        DownloadError,
        "'javascript'",
    ),
    Hostile(
        "url-data",
        "poll",
        project(downloads=[{"url": "data:image/gif;base64,R0lG"}]),
        DownloadError,
        "'data'",
    ),
    Hostile(
        "url-no-scheme",
        "poll",
        project(downloads=[{"url": "/etc/passwd"}]),
        DownloadError,
        "no scheme",
    ),
    Hostile(
        "url-dotdot-path",
        "poll",
        project(downloads=[{"url": "BASE/files/../../../../tmp/evil.gif"}]),
        DownloadError,  # the URL's dots are resolved on the server's side: a 404 there
        "HTTP 404",
    ),
    Hostile(
        "url-encoded-dotdot",
        "poll",
        project(downloads=[{"url": "BASE/files/..%2F..%2F..%2Fevil.gif"}]),
        None,
    ),
    Hostile(
        "url-exe-extension", "poll", project(downloads=[{"url": "BASE/files/payload.exe"}]), None
    ),
    Hostile("id-path-traversal", "poll", project(id="../../../etc/cron.d/evil"), None),
    Hostile("id-absolute-path", "poll", project(id="/etc/passwd"), None),
    Hostile(
        "url-redirect-loop",
        "poll",
        project(downloads=[{"url": "BASE/loop"}]),
        DownloadError,
        "TooManyRedirects",
    ),
    Hostile(
        "poll-huge-json",
        "poll",
        raw('{"id": "' + "x" * 6_000_000 + '"}'),
        InvalidResponseError,
        "declares",
    ),
    Hostile("poll-endless-json", "poll", endless, InvalidResponseError, "exceeds"),
    # -- a compressed answer is read decoded, and bounded decoded (a small gzip "bomb") ------
    Hostile("poll-gzip", "poll", gzipped(project("complete")), None),
    Hostile(
        "poll-gzip-bomb",
        "poll",
        raw(gzip.compress(b" " * (5 * 1024 * 1024)), **{"content-encoding": "gzip"}),
        InvalidResponseError,
        "exceeds",
    ),
    Hostile(
        "create-huge-json",
        "create",
        raw('{"id": "' + "x" * 6_000_000 + '"}'),
        CreateOutcomeUnknown,
        "declares",
        False,
    ),
    # -- the file's answer ---------------------------------------------------------------
    Hostile(
        "file-huge-content-length",
        "file",
        raw(b"GIF89a", media="image/gif", **{"content-length": str(10**12)}),
        DownloadError,
        "over the",
    ),
    Hostile("file-endless-body", "file", endless, DownloadError, "exceeds the"),
    Hostile(
        "file-html-error-page",
        "file",
        raw("<html>Access denied</html>", media="text/html"),
        DownloadError,
        "text/html",
    ),
    Hostile("file-json-error", "file", raw('{"error": "nope"}'), DownloadError, "application/json"),
    Hostile(
        "file-redirect-to-file-scheme",
        "file",
        lambda r: RedirectResponse("file:///etc/passwd", 302),
        DownloadError,
        "",
    ),
    Hostile("file-404", "file", raw("gone", 404, "text/plain"), DownloadError, "HTTP 404"),
    Hostile("file-empty-body", "file", raw(b"", media="image/gif"), DownloadError, "empty body"),
]


@pytest.fixture(scope="module")
def hostile() -> Iterator[tuple[Scripted, str]]:
    scripted = Scripted()
    with BackgroundServer(scripted) as srv:  # type: ignore[arg-type]
        yield scripted, srv.url


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", HOSTILE, ids=lambda c: c.name)
def test_hostile_answer(case: Hostile, hostile: tuple[Scripted, str], tmp_path: Path):
    scripted, url = hostile
    scripted.reset()
    setattr(scripted, case.route, case.answer)
    out = tmp_path / "deep" / "out"
    with Client(
        base_url=url, poll=FAST_POLL, retry=FAST_RETRY, timeout=2, max_download_bytes=2_000_000
    ) as client:
        try:
            result = client.v1.ai_gif_generator.generate(
                style=PROMPT, download_directory=out, timeout=1.0
            )
        except MagicHourError as exc:
            error: MagicHourError | None = exc
        else:
            error = None
    everything = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    if case.error is None:
        assert error is None, repr(error)
        (path,) = (Path(p) for p in result.downloaded_paths)
        assert path.parent == out and path.read_bytes() == GIF
        assert path.suffix == ".gif"  # a media extension, whatever the URL said
        assert everything == [Path("deep"), Path("deep/out"), path.relative_to(tmp_path)]
    else:
        assert isinstance(error, case.error), repr(error)
        assert case.mentions in str(error)
        assert error.project_id == (PID if case.with_id else None) or "id-" in case.name
        assert all((tmp_path / p).is_dir() for p in everything), everything
        assert len(str(error)) < 600  # an HTML page is not pasted into the message


# Project ids that, joined to the download directory as they are, would name a file outside
# it: OUT is tmp_path/a/b/out, so "../../../evil" is tmp_path/evil, and ROOT is tmp_path.
ESCAPING_IDS = [
    "../../../evil",
    "..\\..\\..\\evil",
    "ROOT/evil",
    "./../../../evil",
    ".evil",
    "out/../../../../evil",
]


@pytest.mark.parametrize("project_id", ESCAPING_IDS)
def test_nothing_is_written_outside_the_download_directory(
    project_id: str, hostile: tuple[Scripted, str], tmp_path: Path
):
    """The server names the project (and so the file) with a path: the output still lands in
    the download directory, under a plain visible name, and nothing appears anywhere else."""
    scripted, url = hostile
    scripted.reset()
    project_id = project_id.replace("ROOT", str(tmp_path))
    scripted.create = lambda r: JSONResponse({"id": project_id, "credits_charged": 50})
    scripted.poll = project(id=project_id)
    out = tmp_path / "a" / "b" / "out"
    with Client(base_url=url, poll=FAST_POLL, retry=FAST_RETRY, timeout=2) as client:
        result = client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=out)
    assert result.id == project_id
    (placed,) = (Path(p) for p in result.downloaded_paths)
    assert placed.parent == out and placed.read_bytes() == GIF
    assert placed.suffix == ".gif" and not placed.name.startswith(".")
    assert "/" not in placed.name and "\\" not in placed.name and ".." not in placed.name
    files = sorted(p for p in tmp_path.rglob("*") if not p.is_dir())
    assert files == [placed], files
