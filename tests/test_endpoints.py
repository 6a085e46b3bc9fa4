"""The raw create call: an answer it cannot read means the job may exist, never a re-send."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magicgif_widget import Client, CreateOutcomeUnknown
from magicgif_widget.emulator import BackgroundServer

from .conftest import FAST_RETRY, PROMPT


def test_unreadable_create_answer_is_an_unknown_outcome():
    creates: list[int] = []

    async def create(request: Request) -> Response:
        creates.append(1)
        return Response("<html>oops</html>", media_type="text/html")

    class App:
        app = Starlette(routes=[Route("/v1/ai-gif-generator", create, methods=["POST"])])

    with BackgroundServer(App()) as srv:  # type: ignore[arg-type]
        with Client(base_url=srv.url, retry=FAST_RETRY) as client:
            with pytest.raises(CreateOutcomeUnknown, match="probably exists"):
                client.v1.ai_gif_generator.create(style=PROMPT)
    assert creates == [1]  # sent once, never again
