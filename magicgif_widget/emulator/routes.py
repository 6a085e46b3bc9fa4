"""The contract's HTTP handlers: create, project GET and DELETE, upload URLs and uploads,
account and signed downloads, each answering as Magic Hour documents."""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..contract import CREDITS_PER_GIF, DEFAULT_FORMAT, FINAL_STATUSES, MEDIA_TYPES
from . import inject, render
from .core import EmulatorCore
from .errors import error
from .jobs import JobStore, iso
from .validation import check_create, upload_specs

MAX_UPLOAD_BYTES = 64 * 1024 * 1024
BODY_CHUNK = 64 * 1024


@functools.lru_cache(maxsize=64)
def _rendered(prompt: str, output_format: str) -> bytes:
    return render.render(prompt, output_format)


@functools.lru_cache(maxsize=2)
def _file_bytes(path: Path, mtime_ns: int, size: int) -> bytes:
    """``--output-file`` read once, not per download (re-read if the file changes)."""
    return path.read_bytes()


async def _json_body(request: Request) -> Any | Response:
    """The request's JSON body, or the 400 that refuses it."""
    try:
        return json.loads(await request.body())
    except ValueError:
        return error(400, "invalid_request", "the body is not valid JSON")
    except ClientDisconnect:
        return error(400, "invalid_request", "the client went away before sending the body")


class _Raw:
    """Marks a raw ASGI endpoint for Starlette's Route (it streams its own body)."""

    def __init__(self, endpoint: Any) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.endpoint(scope, receive, send)


class ContractRoutes:
    """The ``/v1/*`` routes and the signed file URLs, over one emulator's state."""

    def __init__(self, emu: EmulatorCore) -> None:
        self.emu = emu

    @property
    def store(self) -> JobStore:
        return self.emu.store

    def routes(self) -> list[Route]:
        return [
            Route("/v1/ai-gif-generator", self.create, methods=["POST"]),
            Route("/v1/image-projects/{id}", self.project, methods=["GET", "DELETE"]),
            Route("/v1/files/upload-urls", self.upload_urls, methods=["POST"]),
            Route("/v1/account", self.account, methods=["GET"]),
            Route("/emulator/files/{id}/{filename}", _Raw(self.download), methods=["GET"]),
            Route("/emulator/uploads/{key}/{filename}", self.upload, methods=["PUT"]),
        ]

    async def create(self, request: Request) -> Response:
        early = await self.emu.enter(request, "create")
        if early is not None:
            return early
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        problem = check_create(body)
        if problem:
            return error(422, "unprocessable_entity", problem)
        fmt = body.get("output_format") or DEFAULT_FORMAT
        missing = render.cannot_draw(fmt)
        if missing:  # refused before a job exists, so nothing is charged
            return error(422, "unprocessable_entity", missing)
        now = datetime.fromtimestamp(self.emu.clock.time(), timezone.utc)
        name = body.get("name") or f"Ai Gif - {iso(now)}"
        job = self.store.create(body["style"]["prompt"], name, fmt, self.emu.faults.next_plan)
        if job is None:
            return error(
                402,
                "insufficient_credits",
                f"a GIF costs {CREDITS_PER_GIF} credits; the balance is too low",
            )
        late = await inject.after_create(inject.request_fault(request))
        if late is not None:
            return late
        return JSONResponse(
            {"id": job.id, "credits_charged": CREDITS_PER_GIF, "frame_cost": CREDITS_PER_GIF}
        )

    async def project(self, request: Request) -> Response:
        """One route per path, so a 405's ``Allow`` lists every method the path takes."""
        if request.method == "DELETE":
            return await self.delete_project(request)
        return await self.get_project(request)

    async def get_project(self, request: Request) -> Response:
        early = await self.emu.enter(request, "poll")
        if early is not None:
            return early
        job = self.store.get(request.path_params["id"])
        if job is None:
            return error(404, "not_found", "no project with this id")
        self.store.count("polls")
        job.polls += 1
        self.emu.clock.polled()
        downloads = []
        now = self.emu.clock.monotonic()
        if job.seen_final is None and job.status(now) in FINAL_STATUSES:
            job.seen_final = now - job.started
        if job.status(now) == "complete":
            url, expires_at = self.emu.signed_url(
                request, f"/emulator/files/{job.id}/output.{job.output_format}"
            )
            downloads.append({"url": url, "expires_at": expires_at})
        return JSONResponse(job.to_json(now, downloads))

    async def delete_project(self, request: Request) -> Response:
        early = await self.emu.enter(request, "delete")
        if early is not None:
            return early
        job = self.store.get(request.path_params["id"])
        if job is None or not job.enabled:
            return error(404, "not_found", "no project with this id")
        job.enabled = False
        self.store.count("deletes")
        return Response(status_code=204)

    async def upload_urls(self, request: Request) -> Response:
        early = await self.emu.enter(request, "upload-urls")
        if early is not None:
            return early
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        specs = upload_specs(body)
        if isinstance(specs, str):
            return error(422, "unprocessable_entity", specs)
        out = []
        for ext, _kind in specs:
            key = secrets.token_hex(8)
            url, expires_at = self.emu.signed_url(request, f"/emulator/uploads/{key}/file.{ext}")
            out.append(
                {
                    "upload_url": url,
                    "file_path": f"api-assets/{key}/file.{ext}",
                    "expires_at": expires_at,
                }
            )
        return JSONResponse({"items": out})

    async def upload(self, request: Request) -> Response:
        early = await self.emu.enter(request, "upload")
        if early is not None:
            return early
        if not self.emu.signature_ok(request):
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
        early = await self.emu.enter(request, "account")
        if early is not None:
            return early
        return JSONResponse(
            {
                "id": "sandbox-account" if self.emu.sandbox else "emulator-account",
                "email": None,
                "tier": "free",
                "credits": self.store.credits(self.emu.clock.monotonic()),
                "subscription": None,
            }
        )

    async def download(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        early = await self.emu.enter(request, "download")
        if early is None:
            early = self._check_download(request)
        if early is not None:
            await early(scope, receive, send)
            return
        job = self.store.get(request.path_params["id"])
        if job is None:  # deleted by a reset between the check and here
            await error(404, "not_found", "no such output")(scope, receive, send)
            return
        data = await self._output(job.prompt, job.output_format)
        headers = [
            (b"content-type", MEDIA_TYPES[job.output_format].encode()),
            (b"content-length", str(len(data)).encode()),
            (b"cache-control", b"private, max-age=3600"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        rest = await inject.body_fault(
            inject.request_fault(request), data, send, sandbox=self.emu.sandbox
        )
        if rest is None:
            return
        self.store.count("downloads")
        for start in range(0, len(rest), BODY_CHUNK):
            await send(
                {
                    "type": "http.response.body",
                    "body": rest[start : start + BODY_CHUNK],
                    "more_body": True,
                }
            )
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _check_download(self, request: Request) -> Response | None:
        refused = inject.expired(inject.request_fault(request))
        if refused is not None:
            return refused
        if not self.emu.signature_ok(request):
            return error(403, "forbidden", "the signed URL is invalid or expired")
        if self.store.finished_output(request.path_params["id"]) is None:
            return error(404, "not_found", "no such output")
        return None

    async def _output(self, prompt: str, output_format: str) -> bytes:
        output_file = self.emu.output_file
        if output_file is not None:
            info = output_file.stat()
            return await asyncio.to_thread(_file_bytes, output_file, info.st_mtime_ns, info.st_size)
        return await asyncio.to_thread(_rendered, prompt, output_format)
