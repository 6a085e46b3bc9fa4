"""Bad arguments raise ValidationError naming the field, and nothing is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from magicgif_widget import Client, ValidationError

from .conftest import PROMPT, Server

BAD_GENERATE = [
    ({"style": {"prompt": ""}}, "style.prompt"),
    ({"style": {"prompt": "   \n\t"}}, "style.prompt"),
    ({"style": {"prompt": "\x00\x07"}}, "style.prompt"),
    ({"style": {"prompt": 42}}, "style.prompt"),
    ({"style": {"prompt": None}}, "style.prompt"),
    ({"style": {"prompt": "x" * 501}}, "style.prompt"),
    ({"style": {}}, "style.prompt"),
    ({"style": "a cat"}, "style"),
    ({"style": None}, "style"),
    ({"style": PROMPT, "output_format": "png"}, "output_format"),
    ({"style": PROMPT, "output_format": 3}, "output_format"),
    ({"style": PROMPT, "name": ""}, "name"),
    ({"style": PROMPT, "name": 5}, "name"),
    ({"style": PROMPT, "name": "n" * 1001}, "name"),
    ({"style": PROMPT, "timeout": 0}, "timeout"),
    ({"style": PROMPT, "timeout": "10"}, "timeout"),
    ({"style": PROMPT, "poll_interval": -1}, "poll_interval"),
    ({"style": PROMPT, "wait_for_completion": "yes"}, "wait_for_completion"),
    ({"style": PROMPT, "download_directory": ""}, "download_directory"),
    ({"style": PROMPT, "download_directory": b"bytes"}, "download_directory"),
    ({"style": PROMPT, "download_directory": 7}, "download_directory"),
    (
        {"style": PROMPT, "request_options": {"additional_headers": {"Authorization": "x"}}},
        "request_options.additional_headers",
    ),
]


@pytest.mark.parametrize("kwargs,field", BAD_GENERATE, ids=lambda v: repr(v)[:40])
def test_bad_generate_arguments_send_nothing(client: Client, server: Server, kwargs, field):
    with pytest.raises(ValidationError) as info:
        client.v1.ai_gif_generator.generate(**kwargs)
    assert info.value.field == field and str(info.value).startswith(field)
    assert isinstance(info.value, ValueError)
    assert server.stats()["requests"] == {}


def test_prompt_at_the_limit_is_accepted(client: Client, tmp_path: Path):
    res = client.v1.ai_gif_generator.generate(
        style={"prompt": "x" * 500}, download_directory=tmp_path
    )
    assert res.status == "complete"


def test_directory_that_is_a_file(client: Client, server: Server, tmp_path: Path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("hi")
    for target in (blocker, blocker / "sub"):
        with pytest.raises(ValidationError, match="download_directory"):
            client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=target)
    assert server.stats()["requests"] == {}


def test_directory_that_cannot_be_created(client: Client, server: Server, tmp_path: Path):
    with pytest.raises(ValidationError, match="cannot create"):
        client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=tmp_path / ("n" * 300))
    assert server.stats()["requests"] == {}


def test_create_checks_too(client: Client, server: Server):
    with pytest.raises(ValidationError, match=r"style\.prompt"):
        client.v1.ai_gif_generator.create(style={"prompt": " "})
    with pytest.raises(ValidationError, match="id"):
        client.v1.image_projects.get(id="")
    with pytest.raises(ValidationError, match=r"items\[0\].type"):
        client.v1.files.upload_urls.create(items=[{"extension": "png", "type": "picture"}])
    with pytest.raises(ValidationError, match="file"):
        client.v1.files.upload_file("/no/such/file.png")
    assert server.stats()["requests"] == {}


def test_format_is_case_insensitive(client: Client, server: Server):
    client.v1.ai_gif_generator.create(style=PROMPT, output_format=" WEBM ")
    job = next(iter(server.emulator.store.jobs.values()))
    assert job.output_format == "webm"


def test_stream_checks_arguments_before_sending(client: Client, server: Server):
    with pytest.raises(ValidationError):
        client.v1.ai_gif_generator.stream(style={"prompt": ""})
    with pytest.raises(TypeError, match="bogus"):
        client.v1.ai_gif_generator.stream(style=PROMPT, bogus=1)
    assert server.stats()["requests"] == {}
