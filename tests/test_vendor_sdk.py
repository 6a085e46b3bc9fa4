"""The vendor's own SDK works unchanged against the emulator; its docs' examples run on ours."""

from __future__ import annotations

import ast
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest
from magic_hour import AsyncClient as VendorAsync
from magic_hour import Client as VendorClient
from magic_hour.resources.v1.ai_gif_generator.client import (
    AiGifGeneratorClient,
    AsyncAiGifGeneratorClient,
)
from make_api_request import ApiError, type_utils
from PIL import Image

from magicgif_widget.batching.generator import AiGifGenerator, AsyncAiGifGenerator

from .conftest import PROMPT, Server

REPO = Path(__file__).resolve().parents[1]
TOKEN = "mhk_live_dummy"

SYNC_EXAMPLE = """\
from magicgif_widget import Client
from os import getenv

client = Client(token=getenv("API_TOKEN"))
res = client.v1.ai_gif_generator.generate(
    style={"prompt": "Cute dancing cat, pixel art"},
    name="Ai Gif gif",
    output_format="gif",
    wait_for_completion=True,
    download_outputs=True,
    download_directory="."
)
print(res.status, res.downloaded_paths)
"""

ASYNC_EXAMPLE = """\
import asyncio
from magicgif_widget import AsyncClient
from os import getenv


async def main():
    client = AsyncClient(token=getenv("API_TOKEN"))
    res = await client.v1.ai_gif_generator.generate(
        style={"prompt": "Cute dancing cat, pixel art"},
        name="Ai Gif gif",
        output_format="gif",
        wait_for_completion=True,
        download_outputs=True,
        download_directory="."
    )
    print(res.status, res.downloaded_paths)


asyncio.run(main())
"""


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (AiGifGenerator.generate, AiGifGeneratorClient.generate),
        (AsyncAiGifGenerator.generate, AsyncAiGifGeneratorClient.generate),
        (AiGifGenerator.create, AiGifGeneratorClient.create),
        (AsyncAiGifGenerator.create, AsyncAiGifGeneratorClient.create),
    ],
    ids=["generate", "async generate", "create", "async create"],
)
def test_our_signature_takes_every_vendor_parameter(ours: object, theirs: object):
    """What ``inspect.signature`` reports (for ``generate``: the ``**params`` that
    ``client/params.py`` spells out) has each vendor parameter, of the same kind and default.
    The vendor's ``NOT_GIVEN`` (the field is left out of the body) is our ``None``."""
    mine = inspect.signature(ours).parameters  # type: ignore[arg-type]
    for name, vendor in inspect.signature(theirs).parameters.items():  # type: ignore[arg-type]
        if name == "self":
            continue
        default = None if vendor.default is type_utils.NOT_GIVEN else vendor.default
        assert name in mine, name
        assert (mine[name].kind, mine[name].default) == (vendor.kind, default), name


@pytest.fixture
def fast_vendor_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAGIC_HOUR_POLL_INTERVAL", "0.1")


def tiny_png(path: Path) -> bytes:
    Image.new("RGB", (4, 4), (200, 30, 90)).save(path, format="PNG")
    return path.read_bytes()


def assert_animated_gif(path: Path) -> None:
    assert path.is_file()
    with Image.open(path) as im:
        assert im.format == "GIF" and im.is_animated and im.n_frames >= 8


def test_vendor_create_get_delete(server: Server):
    client = VendorClient(base_url=server.url, token=TOKEN)
    created = client.v1.ai_gif_generator.create(
        style=PROMPT, name="Ai Gif gif", output_format="gif"
    )
    assert created.id and created.credits_charged == 50 and created.frame_cost == 50
    got = client.v1.image_projects.get(id=created.id)
    assert got.id == created.id and got.name == "Ai Gif gif"
    assert got.status in ("queued", "rendering") and got.type_ == "AI_GIF"
    assert got.enabled is True and got.downloads == [] and got.error is None
    assert client.v1.image_projects.delete(id=created.id) is None
    assert client.v1.image_projects.get(id=created.id).enabled is False
    with pytest.raises(ApiError) as caught:
        client.v1.image_projects.delete(id=created.id)
    assert caught.value.status_code == 404
    stats = server.stats()
    assert stats["creates"] == 1 and stats["deletes"] == 1


def test_vendor_sends_the_bearer_token(server: Server):
    server.emulator.token = TOKEN
    try:
        good = VendorClient(base_url=server.url, token=TOKEN)
        assert good.v1.ai_gif_generator.create(style=PROMPT).id
        bad = VendorClient(base_url=server.url, token="mhk_live_wrong")
        with pytest.raises(ApiError) as caught:
            bad.v1.ai_gif_generator.create(style=PROMPT)
        assert caught.value.status_code == 401
    finally:
        server.emulator.token = None


def test_vendor_validation_error_is_422(server: Server):
    client = VendorClient(base_url=server.url, token=TOKEN)
    with pytest.raises(ApiError) as caught:
        client.v1.ai_gif_generator.create(style={"prompt": "x" * 501})
    assert caught.value.status_code == 422
    assert caught.value.body["code"] == "unprocessable_entity"


def test_vendor_upload_urls(server: Server):
    client = VendorClient(base_url=server.url, token=TOKEN)
    res = client.v1.files.upload_urls.create(
        items=[{"extension": "mp4", "type_": "video"}, {"extension": "mp3", "type_": "audio"}]
    )
    assert [i.file_path.rsplit(".", 1)[1] for i in res.items] == ["mp4", "mp3"]
    for item in res.items:
        assert item.file_path.startswith("api-assets/")
        assert item.upload_url.startswith(server.url) and item.expires_at.endswith("Z")


def test_vendor_upload_file(server: Server, tmp_path: Path):
    data = tiny_png(tmp_path / "face.png")
    client = VendorClient(base_url=server.url, token=TOKEN)
    file_path = client.v1.files.upload_file(tmp_path / "face.png")
    assert file_path.startswith("api-assets/") and file_path.endswith(".png")
    assert server.emulator.store.uploads[file_path] == data
    stats = server.stats()
    assert stats["uploads"] == 1 and stats["requests"]["upload-urls"] == 1


async def test_vendor_async_upload_file(server: Server, tmp_path: Path):
    data = tiny_png(tmp_path / "face.png")
    client = VendorAsync(base_url=server.url, token=TOKEN)
    file_path = await client.v1.files.upload_file(str(tmp_path / "face.png"))
    assert server.emulator.store.uploads[file_path] == data


def test_vendor_generate_downloads(server: Server, tmp_path: Path, fast_vendor_polls: None):
    client = VendorClient(base_url=server.url, token=TOKEN)
    res = client.v1.ai_gif_generator.generate(
        style=PROMPT,
        name="Ai Gif gif",
        output_format="gif",
        wait_for_completion=True,
        download_outputs=True,
        download_directory=str(tmp_path),
    )
    assert res.status == "complete" and res.error is None and len(res.downloads) == 1
    assert res.downloaded_paths == [str(tmp_path / "output.gif")]
    assert_animated_gif(tmp_path / "output.gif")
    stats = server.stats()
    assert stats["creates"] == 1 and stats["downloads"] == 1 and stats["polls"] >= 2


def test_vendor_generate_returns_failed_jobs(
    server: Server, tmp_path: Path, fast_vendor_polls: None
):
    server.fault(route="create", outcome="error")
    client = VendorClient(base_url=server.url, token=TOKEN)
    res = client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=str(tmp_path))
    assert res.status == "error" and res.downloads == [] and res.credits_charged == 0
    assert res.error is not None and res.error.code and res.error.message
    assert res.downloaded_paths is None and list(tmp_path.iterdir()) == []


async def test_vendor_async_generate(server: Server, tmp_path: Path, fast_vendor_polls: None):
    client = VendorAsync(base_url=server.url, token=TOKEN)
    res = await client.v1.ai_gif_generator.generate(
        style=PROMPT,
        name="Ai Gif gif",
        output_format="webm",
        wait_for_completion=True,
        download_outputs=True,
        download_directory=str(tmp_path),
    )
    assert res.status == "complete"
    assert res.downloaded_paths == [str(tmp_path / "output.webm")]
    assert (tmp_path / "output.webm").read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # EBML
    got = await client.v1.image_projects.get(id=res.id)
    assert got.status == "complete" and got.image_count == 1


# -- the vendor docs' examples, with only the import changed, on our sandbox ---------------


def run_example(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MAGIC_HOUR_API_TOKEN", "MAGIC_HOUR_API_KEY", "API_TOKEN", "PYTHONWARNINGS")
    }
    env["MAGICGIF_SANDBOX_RENDER_SECONDS"] = "0.3"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("script", [SYNC_EXAMPLE, ASYNC_EXAMPLE], ids=["sync", "async"])
def test_vendor_example_runs_on_our_sandbox(script: str, tmp_path: Path):
    proc = run_example(script, tmp_path)
    assert proc.returncode == 0, proc.stderr
    status, _, listed = proc.stdout.strip().partition(" ")
    assert status == "complete", proc.stdout
    paths = ast.literal_eval(listed)
    assert isinstance(paths, list) and len(paths) == 1
    path = tmp_path / paths[0]
    assert path.resolve().parent == tmp_path.resolve()
    assert_animated_gif(path)
    assert "sandbox" in proc.stderr.lower()
