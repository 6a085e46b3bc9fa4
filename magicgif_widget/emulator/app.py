"""The emulator: Magic Hour's contract as an ASGI app, plus ``/emulator/*`` test hooks.

Every refusal is the contract's JSON ``{"code", "message"}``: 400 ``invalid_request`` for a
body that is not JSON, 422 ``unprocessable_entity`` for values that break the contract. The
checks are plain code, not ``assert`` (which ``python -O`` strips).

Test hooks: ``POST /emulator/faults`` adds a fault rule (syntax in ``faults.py``: injected
HTTP errors, message-only or non-JSON error bodies, resets, delays, and jobs planned to fail
with a chosen ``error.code``), ``GET /emulator/faults`` lists the live ones,
``GET /emulator/stats`` counts requests, operations and ``faults_applied`` and shows the
credit balance, ``GET /emulator/jobs`` the jobs' planned times, ``POST /emulator/reset``
forgets everything.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import MutableMapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..contract import (
    CREDITS_PER_GIF,
    DEFAULT_FORMAT,
    MEDIA_TYPES,
    OUTPUT_FORMATS,
    PROMPT_MAX_CHARS,
    UPLOAD_TYPES,
)
from . import render
from .faults import Fault, FaultError, Faults, default_code
from .jobs import JobStore, Plan, iso
from .openapi import OPENAPI
from .timing import Drawn

MAX_UPLOAD_BYTES = 64 * 1024 * 1024
BODY_CHUNK = 64 * 1024
URL_TTL = 7 * 24 * 3600.0
log = logging.getLogger("magicgif_widget.emulator")


class EmulatedReset(ConnectionError):
    """Raised to drop the connection mid-answer (a connection reset, as the client sees it)."""


class Reset(Response):
    """A response that promises a body, then drops the connection: the peer sees a reset."""

    def __init__(self, why: str) -> None:
        super().__init__(status_code=200)
        self.why = why

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"4096")],
            }
        )
        raise EmulatedReset(self.why)


def error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status, headers=headers)


def injected(rule: Fault, route: str) -> Response:
    """The answer of a ``status`` fault rule, in the body shape the rule asks for."""
    status = rule.status or 500
    headers = {"retry-after": f"{rule.retry_after:g}"} if rule.retry_after is not None else None
    message = rule.message or f"fault injected on {route}"
    if rule.body == "html":  # what a proxy in front of the API sends: not JSON at all
        page = f"<html><body><h1>{status}</h1><p>fault injected on {route}</p></body></html>"
        return HTMLResponse(page, status, headers=headers)
    if rule.body == "message":  # the vendor's errors page shows bodies without a code
        return JSONResponse({"message": message}, status, headers=headers)
    return error(status, rule.code or default_code(status), message, headers)


@functools.lru_cache(maxsize=64)
def _rendered(prompt: str, output_format: str) -> bytes:
    return render.render(prompt, output_format)


@functools.lru_cache(maxsize=2)
def _file_bytes(path: Path, mtime_ns: int, size: int) -> bytes:
    """``--output-file`` read once, not per download (re-read if the file changes)."""
    return path.read_bytes()


class Emulator:
    """State and behaviour behind the routes; ``app`` is the ASGI application."""

    def __init__(
        self,
        *,
        render_seconds: float = 2.0,
        token: str | None = None,
        output_file: str | Path | None = None,
        credits: int = 1_000_000,
        url_ttl: float = URL_TTL,
        sandbox: bool = False,
        timing: Drawn | None = None,
    ) -> None:
        self.store = JobStore(render_seconds, credits, timing)
        self.faults = Faults()
        self.token = token
        self.output_file = Path(output_file) if output_file else None
        self.url_ttl = url_ttl
        self.sandbox = sandbox
        self._secret = secrets.token_bytes(16)
        self._starlette = Starlette(
            routes=self._routes(),
            exception_handlers={HTTPException: self._http_error, Exception: self._crash},
        )

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app: the routes, with resets turned into dropped connections."""
        started = False

        async def tracked(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._starlette(scope, receive, tracked)
        except EmulatedReset:
            if not started:  # headers promise a body that never comes: the peer sees a drop
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-length", b"4096")],
                    }
                )
            raise
        except Exception:
            log.exception("emulator crashed on %s %s", scope.get("method"), scope.get("path"))
            if scope["type"] != "http":
                raise
            if not started:
                await self._crash(Request(scope), RuntimeError())(scope, receive, send)

    # -- plumbing ----------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        return [
            Route("/v1/ai-gif-generator", self.create, methods=["POST"]),
            Route("/v1/image-projects/{id}", self.project, methods=["GET", "DELETE"]),
            Route("/v1/files/upload-urls", self.upload_urls, methods=["POST"]),
            Route("/v1/account", self.account, methods=["GET"]),
            Route("/emulator/files/{id}/{filename}", _Raw(self.download), methods=["GET"]),
            Route("/emulator/uploads/{key}/{filename}", self.upload, methods=["PUT"]),
            Route("/emulator/stats", self.stats, methods=["GET"]),
            Route("/emulator/jobs", self.jobs_route, methods=["GET"]),
            Route("/emulator/reset", self.reset, methods=["POST"]),
            Route("/emulator/faults", self.faults_route, methods=["GET", "POST"]),
            Route("/emulator/health", self.health, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
        ]

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        if not isinstance(exc, HTTPException):  # Starlette routes only HTTPException here
            return self._crash(request, exc)
        if exc.status_code == 404:
            return error(404, "not_found", f"no route for {request.method} {request.url.path}")
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            return error(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed on {request.url.path}",
                {"allow": allowed} if allowed else None,
            )
        return error(exc.status_code, "invalid_request", str(exc.detail))

    def _crash(self, request: Request, exc: Exception) -> Response:
        """A JSON 500, as the contract shapes every error; the traceback goes to the log."""
        return error(500, "internal_server_error", "the emulator failed; see its log")

    def _authorized(self, request: Request) -> bool:
        if self.token is None:
            return True
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode())

    async def _enter(self, request: Request, route: str) -> Response | None:
        """Count the request, check auth and apply request faults; a response ends it early."""
        self.store.saw(route)
        if route not in ("download", "upload") and not self._authorized(request):
            return error(401, "unauthorized", "provide a valid API key in the Authorization header")
        rule = self.faults.take(route)
        if rule is None:
            return None
        if rule.status is not None:
            return injected(rule, route)
        if route == "create":  # applied after the job is made: the worst case
            request.state.fault = rule
            return None
        if rule.kind == "delay":
            await asyncio.sleep(rule.seconds)
            return None
        if rule.kind == "reset":
            return Reset(f"{route} answered by a reset")
        request.state.fault = rule
        return None

    def _sign(self, path: str, expires: int) -> str:
        return hmac.new(self._secret, f"{path}|{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    def _signed_url(self, request: Request, path: str) -> tuple[str, str]:
        expires = int(time.time() + self.url_ttl)
        base = str(request.base_url).rstrip("/")
        when = datetime.fromtimestamp(expires, timezone.utc)
        return f"{base}{path}?expires={expires}&sig={self._sign(path, expires)}", iso(when)

    def _signature_ok(self, request: Request) -> bool:
        try:
            expires = int(request.query_params.get("expires", ""))
        except ValueError:
            return False
        sig = request.query_params.get("sig", "")
        good = hmac.compare_digest(sig.encode(), self._sign(request.url.path, expires).encode())
        return good and expires > time.time()

    # -- the contract --------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        early = await self._enter(request, "create")
        if early is not None:
            return early
        rule: Fault | None = getattr(request.state, "fault", None)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return error(400, "invalid_request", "the body is not valid JSON")
        except ClientDisconnect:
            return error(400, "invalid_request", "the client went away before sending the body")
        problem = _check_create(body)
        if problem:
            return error(422, "unprocessable_entity", problem)
        fmt = body.get("output_format") or DEFAULT_FORMAT
        missing = render.cannot_draw(fmt)
        if missing:  # refused before a job exists, so nothing is charged
            return error(422, "unprocessable_entity", missing)
        name = body.get("name") or f"Ai Gif - {iso(datetime.now(timezone.utc))}"
        job = self.store.create(body["style"]["prompt"], name, fmt, self._planned_outcome)
        if job is None:
            return error(
                402,
                "insufficient_credits",
                f"a GIF costs {CREDITS_PER_GIF} credits; the balance is too low",
            )
        if rule is not None and rule.kind == "reset":
            return Reset("create answered by a reset (the job exists)")
        if rule is not None and rule.kind == "delay":  # the job exists; its answer is late
            await asyncio.sleep(rule.seconds)
        return JSONResponse(
            {"id": job.id, "credits_charged": CREDITS_PER_GIF, "frame_cost": CREDITS_PER_GIF}
        )

    def _planned_outcome(self) -> Plan:
        """The next outcome rule's plan (its error code and message too), else completion."""
        planned = self.faults.take("create", outcome=True)
        return planned.plan() if planned is not None else Plan()

    async def project(self, request: Request) -> Response:
        """One route per path, so a 405's ``Allow`` lists every method the path takes."""
        if request.method == "DELETE":
            return await self.delete_project(request)
        return await self.get_project(request)

    async def get_project(self, request: Request) -> Response:
        early = await self._enter(request, "poll")
        if early is not None:
            return early
        job = self.store.get(request.path_params["id"])
        if job is None:
            return error(404, "not_found", "no project with this id")
        self.store.count("polls")
        job.polls += 1
        downloads = []
        now = time.monotonic()
        if job.status(now) == "complete":
            url, expires_at = self._signed_url(
                request, f"/emulator/files/{job.id}/output.{job.output_format}"
            )
            downloads.append({"url": url, "expires_at": expires_at})
        return JSONResponse(job.to_json(now, downloads))

    async def delete_project(self, request: Request) -> Response:
        early = await self._enter(request, "delete")
        if early is not None:
            return early
        job = self.store.get(request.path_params["id"])
        if job is None or not job.enabled:
            return error(404, "not_found", "no project with this id")
        job.enabled = False
        self.store.count("deletes")
        return Response(status_code=204)

    async def upload_urls(self, request: Request) -> Response:
        early = await self._enter(request, "upload-urls")
        if early is not None:
            return early
        try:
            body = json.loads(await request.body())
        except ValueError:
            return error(400, "invalid_request", "the body is not valid JSON")
        except ClientDisconnect:
            return error(400, "invalid_request", "the client went away before sending the body")
        specs = _upload_specs(body)
        if isinstance(specs, str):
            return error(422, "unprocessable_entity", specs)
        out = []
        for ext, _kind in specs:
            key = secrets.token_hex(8)
            url, expires_at = self._signed_url(request, f"/emulator/uploads/{key}/file.{ext}")
            out.append(
                {
                    "upload_url": url,
                    "file_path": f"api-assets/{key}/file.{ext}",
                    "expires_at": expires_at,
                }
            )
        return JSONResponse({"items": out})

    async def upload(self, request: Request) -> Response:
        early = await self._enter(request, "upload")
        if early is not None:
            return early
        if not self._signature_ok(request):
            return error(403, "forbidden", "the signed URL is invalid or expired")
        size = 0
        parts = []
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                return error(413, "payload_too_large", f"uploads are capped at {MAX_UPLOAD_BYTES}")
            parts.append(chunk)
        key = f"api-assets/{request.path_params['key']}/{request.path_params['filename']}"
        with self.store.lock:
            self.store.uploads[key] = b"".join(parts)
        self.store.count("uploads")
        return Response(status_code=200)

    async def account(self, request: Request) -> Response:
        early = await self._enter(request, "account")
        if early is not None:
            return early
        return JSONResponse(
            {
                "id": "sandbox-account" if self.sandbox else "emulator-account",
                "email": None,
                "tier": "free",
                "credits": self.store.credits(time.monotonic()),
                "subscription": None,
            }
        )

    async def download(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        early = await self._enter(request, "download")
        if early is None:
            early = self._check_download(request)
        if early is not None:
            await early(scope, receive, send)
            return
        job = self.store.get(request.path_params["id"])
        if job is None:  # deleted by a reset between the check and here
            await error(404, "not_found", "no such output")(scope, receive, send)
            return
        rule: Fault | None = getattr(request.state, "fault", None)
        data = await self._output(job.prompt, job.output_format)
        headers = [
            (b"content-type", MEDIA_TYPES[job.output_format].encode()),
            (b"content-length", str(len(data)).encode()),
            (b"cache-control", b"private, max-age=3600"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        half = len(data) // 2
        if rule is not None and rule.kind in ("truncate", "stall"):
            await send({"type": "http.response.body", "body": data[:half], "more_body": True})
            if rule.kind == "truncate":
                if self.sandbox:  # in-process: end early; only the client's length check sees it
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                raise EmulatedReset("download truncated")  # over HTTP: close the connection
            await asyncio.sleep(rule.seconds)
            data = data[half:]
        self.store.count("downloads")
        for start in range(0, len(data), BODY_CHUNK):
            await send(
                {
                    "type": "http.response.body",
                    "body": data[start : start + BODY_CHUNK],
                    "more_body": True,
                }
            )
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _check_download(self, request: Request) -> Response | None:
        rule: Fault | None = getattr(request.state, "fault", None)
        if rule is not None and rule.kind == "expire":
            return error(403, "forbidden", "the signed URL has expired")
        if not self._signature_ok(request):
            return error(403, "forbidden", "the signed URL is invalid or expired")
        job = self.store.get(request.path_params["id"])
        if job is None or not job.enabled or job.status(time.monotonic()) != "complete":
            return error(404, "not_found", "no such output")
        return None

    async def _output(self, prompt: str, output_format: str) -> bytes:
        if self.output_file is not None:
            info = self.output_file.stat()
            return await asyncio.to_thread(
                _file_bytes, self.output_file, info.st_mtime_ns, info.st_size
            )
        return await asyncio.to_thread(_rendered, prompt, output_format)

    # -- test hooks ----------------------------------------------------------------------

    def add_fault(self, **rule: Any) -> None:
        """Add a fault rule in-process, as ``POST /emulator/faults`` does (FaultError if bad)."""
        self.faults.add(Fault.parse(rule))

    def clear(self) -> None:
        """Forget jobs, counts and faults, as ``POST /emulator/reset`` does."""
        self.store.reset()
        self.faults.clear()

    async def jobs_route(self, request: Request) -> Response:
        """Every job's planned times and the GETs it received (benchmarks read these)."""
        with self.store.lock:
            jobs = list(self.store.jobs.values())
        return JSONResponse(
            [
                {
                    "id": job.id,
                    "seconds": job.render_seconds,
                    "queued_seconds": job.queued_seconds,
                    "polls": job.polls,
                }
                for job in jobs
            ]
        )

    async def stats(self, request: Request) -> Response:
        data = self.store.stats()
        data["faults_applied"] = self.faults.applied
        data["credits"] = self.store.credits(time.monotonic())
        return JSONResponse(data)

    async def reset(self, request: Request) -> Response:
        self.clear()
        return JSONResponse({"ok": True})

    async def faults_route(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.post_fault(request)
        return await self.list_faults(request)

    async def post_fault(self, request: Request) -> Response:
        try:
            rule = Fault.parse(json.loads(await request.body()))
        except (ValueError, FaultError) as exc:
            return error(400, "invalid_request", f"bad fault rule: {exc}")
        self.faults.add(rule)
        return JSONResponse({"ok": True, "faults": self.faults.list()})

    async def list_faults(self, request: Request) -> Response:
        return JSONResponse({"faults": self.faults.list()})

    async def openapi(self, request: Request) -> Response:
        """The contract's routes as OpenAPI 3.0 (``emulator/openapi.py``)."""
        return JSONResponse(OPENAPI)

    async def health(self, request: Request) -> Response:
        return JSONResponse(
            {
                "ok": True,
                "sandbox": self.sandbox,
                "render_seconds": self.store.render_seconds,
                "timing": (self.store.timing.describe() if self.store.timing else None),
            }
        )


class _Raw:
    """Marks a raw ASGI endpoint for Starlette's Route (it streams its own body)."""

    def __init__(self, endpoint: Any) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.endpoint(scope, receive, send)


def _check_create(body: Any) -> str | None:
    """Why a create body breaks the contract, or None."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    style = body.get("style")
    if not isinstance(style, dict):
        return "style is required and must be an object"
    prompt = style.get("prompt")
    if not isinstance(prompt, str) or not 1 <= len(prompt) <= PROMPT_MAX_CHARS:
        return f"style.prompt must be a string of 1 to {PROMPT_MAX_CHARS} characters"
    if "name" in body and not isinstance(body["name"], str):
        return "name must be a string (omit it for the default name)"
    if "output_format" in body and body["output_format"] not in OUTPUT_FORMATS:
        return f"output_format must be one of {', '.join(OUTPUT_FORMATS)} (or omitted)"
    for field, text in (("style.prompt", prompt), ("name", body.get("name"))):
        if isinstance(text, str) and not _encodable(text):
            return f"{field} must be valid Unicode (it holds a lone surrogate)"
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _upload_specs(body: Any) -> list[tuple[str, str]] | str:
    """An upload-urls body's ``(extension, type)`` pairs (extension lowercased), or why the
    body breaks the contract."""
    shape = "items must be a non-empty list of {extension, type}"
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        return shape
    specs = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or "extension" not in item or "type" not in item:
            return f"{shape}; items[{n}] is not"
        ext, kind = item["extension"], item["type"]
        if not (isinstance(ext, str) and ext.isascii() and ext.isalnum()):
            return f"items[{n}].extension must be letters and digits, like png"
        if kind not in UPLOAD_TYPES:
            return f"items[{n}].type must be one of {', '.join(UPLOAD_TYPES)}"
        specs.append((ext.lower(), kind))
    return specs
