"""A scripted server for hostile-answer tests: each route answers whatever a test sets."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from magicgif_widget.emulator.render import render

PID = "cmhostile0000000000000000"
GIF = render("hostile", "gif")
Answer = Callable[[Request], Response]


def project(status: str = "complete", **fields: Any) -> Answer:
    """A project answer; ``downloads`` may contain BASE, replaced by the server's address."""

    def answer(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        body = {"id": PID, "status": status, "enabled": True, "credits_charged": 50}
        body.setdefault("downloads", [{"url": f"{base}/files/out.gif"}])
        body.update(fields)
        text = JSONResponse(body).body.decode().replace("BASE", base)
        return Response(text, media_type="application/json")

    return answer


def raw(body: bytes | str, status: int = 200, media: str = "application/json", **headers: str):
    return lambda request: Response(body, status_code=status, media_type=media, headers=headers)


def endless(request: Request) -> Response:
    async def forever() -> Any:
        chunk = b"G" * 65536
        while True:
            yield chunk
            await asyncio.sleep(0)

    return StreamingResponse(forever(), media_type="image/gif")


class Scripted:
    """Answers the API's routes with whatever the current test scripted."""

    def __init__(self) -> None:
        self.reset()

        async def create(request: Request) -> Response:
            return self.create(request)

        async def poll(request: Request) -> Response:
            return self.poll(request)

        async def files(request: Request) -> Response:
            return self.file(request)

        async def loop(request: Request) -> Response:
            return RedirectResponse(str(request.url), status_code=302)

        self.app = Starlette(
            routes=[
                Route("/v1/ai-gif-generator", create, methods=["POST"]),
                Route("/v1/image-projects/{id:path}", poll),
                Route("/files/{name:path}", files),
                Route("/loop", loop),
            ]
        )

    def reset(self) -> None:
        self.create: Answer = lambda r: JSONResponse({"id": PID, "credits_charged": 50})
        self.poll: Answer = project()
        self.file: Answer = lambda r: Response(GIF, media_type="image/gif")
