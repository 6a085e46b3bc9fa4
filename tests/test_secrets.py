"""The token stays in the kernel: never in a repr, a log line, an exception or a traceback."""

from __future__ import annotations

import logging
import pickle
import traceback
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from magicgif_widget import (
    AsyncClient,
    AuthenticationError,
    Client,
    MagicHourError,
    SandboxWarning,
    ValidationError,
)
from magicgif_widget.client import settings as settings_module
from magicgif_widget.emulator import BackgroundServer

from .conftest import FAST_POLL, FAST_RETRY, PROMPT

CANARY = "mhk_live_CANARY_5f2b9c0e1d"


class EchoServer:
    """A hostile server that echoes the Authorization header back in its error message."""

    def __init__(self) -> None:
        async def echo(request: Request) -> JSONResponse:
            leaked = request.headers.get("authorization", "")
            return JSONResponse({"code": "unauthorized", "message": f"bad key {leaked}"}, 401)

        self.app = Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST"])])


def test_reprs_hide_the_token(server):
    with Client(token=CANARY, base_url=server.url) as client:
        text = " ".join(map(repr, [client, client.settings, client.settings.token]))
        assert CANARY not in text and "token set" in repr(client)
        with pytest.raises(TypeError):
            pickle.dumps(client.settings.token)
    assert CANARY not in repr(AsyncClient(token=CANARY, base_url=server.url))


def test_echoed_token_is_redacted_from_errors_logs_and_tracebacks(tmp_path: Path, caplog):
    caplog.set_level(logging.DEBUG)
    with BackgroundServer(EchoServer()) as echo:  # type: ignore[arg-type]
        with Client(token=CANARY, base_url=echo.url, retry=FAST_RETRY, poll=FAST_POLL) as c:
            with pytest.raises(AuthenticationError) as info:
                c.v1.ai_gif_generator.generate(style=PROMPT, download_directory=tmp_path)
    err = info.value
    assert "bad key Bearer ***" in str(err)
    rendered = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    assert CANARY not in rendered and CANARY not in repr(err)
    assert caplog.records, "expected DEBUG records from httpx/httpcore"
    for record in caplog.records:
        assert CANARY not in record.getMessage()
        assert CANARY not in str(record.args)


def test_token_sources_in_order(monkeypatch, server):
    for name in ("MAGIC_HOUR_API_TOKEN", "MAGIC_HOUR_API_KEY", "API_TOKEN"):
        monkeypatch.setenv(name, f"from-{name}")
    assert Client(base_url=server.url).settings.token.reveal() == "from-MAGIC_HOUR_API_TOKEN"
    assert Client(token="arg", base_url=server.url).settings.token.reveal() == "arg"
    monkeypatch.delenv("MAGIC_HOUR_API_TOKEN")
    assert Client(base_url=server.url).settings.token.reveal() == "from-MAGIC_HOUR_API_KEY"
    monkeypatch.delenv("MAGIC_HOUR_API_KEY")
    client = Client()
    assert client.settings.token.reveal() == "from-API_TOKEN" and not client.sandbox
    assert client.base_url == "https://api.magichour.ai"


def test_no_token_means_sandbox_and_one_warning(monkeypatch):
    monkeypatch.setattr(settings_module, "_warned", False)
    with pytest.warns(SandboxWarning, match="MAGIC_HOUR_API_TOKEN"):
        first = Client()
    assert first.sandbox and "sandbox=True" in repr(first)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = Client(token="")  # an empty token is no token
    assert second.sandbox
    assert Client(sandbox=True, token=CANARY).settings.token is None


def test_plain_http_refused_off_loopback():
    with pytest.raises(ValidationError, match="unencrypted"):
        Client(token=CANARY, base_url="http://api.example.com")
    Client(token=CANARY, base_url="http://api.example.com", allow_insecure_http=True).close()
    Client(token=CANARY, base_url="http://127.0.0.1:9").close()
    with pytest.raises(ValidationError, match="base_url"):
        Client(token=CANARY, base_url="ftp://x")


def test_validation_errors_never_include_the_token(server):
    with Client(token=CANARY, base_url=server.url) as client:
        with pytest.raises(MagicHourError) as info:
            client.v1.ai_gif_generator.create(style={"prompt": CANARY * 20})
    assert CANARY not in str(info.value)


def test_tokens_a_header_cannot_carry_are_refused_without_echo(monkeypatch):
    with pytest.raises(ValidationError) as info:
        Client(token="mhk_live_abc\ndef", base_url="http://127.0.0.1:9")
    assert "abc" not in str(info.value) and info.value.field == "token"
    monkeypatch.setenv("MAGIC_HOUR_API_TOKEN", "mhk live")
    with pytest.raises(ValidationError, match=r"MAGIC_HOUR_API_TOKEN") as info:
        Client()
    assert "mhk live" not in str(info.value)
