"""Property-based tests (Hypothesis) over user inputs: each yields a typed error naming the field,
or a real job; invalid input never sends a request. Runs against the loopback emulator."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from magicgif_widget import GifWidget, ImageProject, ValidationError
from magicgif_widget.widget import earlier

from .conftest import Server

# The contract's limits, written out here so a change in the package cannot move the oracle.
PROMPT_MAX_CHARS = 500
NAME_MAX_CHARS = 1000
OUTPUT_FORMATS = ("gif", "mp4", "webm")

ODD = st.sampled_from(
    [
        "",
        " ",
        "\t\n",
        "\x00",
        "\x1b[31mred",
        "\u200b",
        "\u202e",
        "e\u0301",
        "🐈" * 3,
        "猫",
        "\ud7ff",
    ]
)
TEXT = st.one_of(
    st.text(max_size=40),
    st.text(min_size=495, max_size=505),
    st.text(alphabet="abc ", min_size=499, max_size=502),
    ODD,
    st.builds(lambda a, b: a + b, ODD, st.text(max_size=10)),
)
NOT_TEXT = st.one_of(
    st.none(), st.integers(), st.floats(), st.binary(max_size=8), st.lists(st.text(), max_size=2)
)
FORMATS = st.one_of(
    st.sampled_from([*OUTPUT_FORMATS, "GIF", " webm ", "png", "", "gif\x00"]), NOT_TEXT
)
SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def _one_output(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every job serves one small GIF: these properties are about inputs, and drawing a new
    picture per generated prompt (or encoding video for "mp4") would cost most of the run."""
    gif = tmp_path_factory.mktemp("output") / "output.gif"
    frames = [Image.new("P", (32, 32), i) for i in range(4)]
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    server.emulator.output_file = gif
    yield
    server.emulator.output_file = None


def blank(text: str) -> bool:
    return not any(ch.isprintable() and not ch.isspace() for ch in text)


def prompt_ok(prompt: Any) -> bool:
    return isinstance(prompt, str) and not blank(prompt) and len(prompt) <= PROMPT_MAX_CHARS


def name_ok(name: Any) -> bool:
    return name is None or (
        isinstance(name, str) and not blank(name) and len(name) <= NAME_MAX_CHARS
    )


def format_ok(fmt: Any) -> bool:
    return fmt is None or (isinstance(fmt, str) and fmt.strip().lower() in OUTPUT_FORMATS)


def requests(server: Server) -> int:
    return sum(server.stats()["requests"].values())


@SETTINGS
@given(prompt=st.one_of(TEXT, NOT_TEXT), name=st.one_of(st.none(), TEXT, NOT_TEXT), fmt=FORMATS)
@example(prompt="x" * 500, name="n" * 1000, fmt="GIF")
@example(prompt="x" * 501, name=None, fmt=None)
@example(prompt="x" * 100_000, name="n" * 100_000, fmt="gif" * 1000)
@example(prompt="x", name="n" * 1001, fmt=None)
def test_generate_inputs(server: Server, client, tmp_path: Path, prompt, name, fmt):
    server.emulator.store.render_seconds = 0.0
    valid = prompt_ok(prompt) and name_ok(name) and format_ok(fmt)
    before = requests(server)
    try:
        result = client.v1.ai_gif_generator.generate(
            style={"prompt": prompt}, name=name, output_format=fmt, download_directory=tmp_path
        )
    except ValidationError as exc:
        assert not valid, f"refused valid input: {exc}"
        assert exc.field in {"style.prompt", "name", "output_format"}
        assert requests(server) == before  # nothing was sent
        return
    assert valid, "accepted invalid input"
    assert isinstance(result, ImageProject) and result.status == "complete"
    assert Path(result.downloaded_paths[0]).suffix == f".{(fmt or 'gif').strip().lower()}"
    job = server.emulator.store.get(result.id)
    assert job is not None and job.prompt == prompt  # the prompt reached the API unchanged
    if name is not None:
        assert job.name == name


DIRECTORIES = st.one_of(
    st.sampled_from(
        ["", "   ", "a\x00b", "file.txt", "file.txt/below", "new/deeper/dir", "ü ñ 猫", "-rf"]
    ),
    st.text(
        alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="/.\x00"),
        min_size=1,
        max_size=20,
    ),
    st.builds(lambda s: s.encode(), st.text(min_size=1, max_size=5)),
    st.integers(),
)


@SETTINGS
@given(directory=DIRECTORIES)
def test_download_directory_inputs(server: Server, client, tmp_path: Path, directory):
    server.emulator.store.render_seconds = 0.0
    (tmp_path / "file.txt").write_text("not a directory")
    target = tmp_path / directory if isinstance(directory, str) and directory.strip() else directory
    before = requests(server)
    try:
        result = client.v1.ai_gif_generator.generate(
            style={"prompt": "a kite"}, download_directory=target
        )
    except ValidationError as exc:
        assert exc.field == "download_directory"
        assert requests(server) == before
        valid_text = isinstance(directory, str) and directory.strip() and "\x00" not in directory
        assert not valid_text or "file.txt" in directory, f"refused {directory!r}: {exc}"
        return
    path = Path(result.downloaded_paths[0])
    assert path.is_file() and path.parent == Path(target)
    assert os.path.commonpath([tmp_path, path.resolve()]) == str(tmp_path.resolve())


@SETTINGS
@given(
    items=st.lists(
        st.one_of(
            TEXT,
            NOT_TEXT,
            st.dictionaries(
                st.sampled_from(["prompt", "name", "output_format", "colour"]),
                st.one_of(TEXT, FORMATS),
                max_size=3,
            ),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_batch_items(server: Server, client, tmp_path_factory, items):
    server.emulator.store.render_seconds = 0.0
    out = tmp_path_factory.mktemp("batch")
    creates = server.stats()["creates"]
    results = client.v1.ai_gif_generator.generate_many(
        items, download_directory=out, concurrency=3, progress=False
    )
    assert len(results) == len(items)
    valid = 0
    for item, result in zip(items, results, strict=True):
        fields = {"prompt": item} if isinstance(item, str) else item
        ok = (
            isinstance(fields, dict)
            and set(fields) <= {"prompt", "name", "output_format"}
            and prompt_ok(fields.get("prompt"))
            and name_ok(fields.get("name"))
            and format_ok(fields.get("output_format"))
        )
        if ok:
            valid += 1
            assert isinstance(result, ImageProject), result
        else:
            assert isinstance(result, ValidationError), result
            assert result.field.startswith("items[")
    assert server.stats()["creates"] - creates == valid


@SETTINGS
@given(
    prompt=st.one_of(TEXT, st.builds(lambda a, b: f"{a}\n{b}", TEXT, TEXT)), gallery=st.booleans()
)
async def test_widget_prompts(server: Server, client, tmp_path: Path, prompt, gallery):
    server.emulator.store.render_seconds = 0.0
    widget = GifWidget(
        client=client, prompt=prompt, download_directory=tmp_path, gallery_mode=gallery
    )
    before = requests(server)
    before_creates = server.stats()["creates"]
    lines = [line.strip() for line in prompt.splitlines() if line.strip()]
    valid = bool(lines) and all(prompt_ok(line) for line in lines) if gallery else prompt_ok(prompt)
    try:
        try:
            done = await widget.generate()
        except ValidationError as exc:
            assert not valid, exc
            assert widget.error.startswith("Check your input") and not widget.running
            assert requests(server) == before
            return
        assert valid
        if done is None:  # a gallery of more than ASK_ABOVE lines asks before it pays
            assert gallery and len(lines) > earlier.ASK_ABOVE and widget.confirm["kind"] == "cost"
            assert server.stats()["creates"] == before_creates
            await widget.generate(confirmed=True)
        assert widget.status == "complete", widget.error
    finally:
        widget.close()


def test_unwritable_directories_are_refused_before_any_request(server: Server, client, tmp_path):
    """Kernel filesystems refuse even root (who ignores permission bits), so this holds in CI."""
    for directory in ("/proc/magicgif-out", "/sys/magicgif-out", "/proc/self/status/out"):
        before = requests(server)
        try:
            client.v1.ai_gif_generator.generate(
                style={"prompt": "a kite"}, download_directory=directory
            )
        except ValidationError as exc:
            assert exc.field == "download_directory" and directory[:10] in str(exc)
        else:
            raise AssertionError(f"{directory} was accepted")
        assert requests(server) == before
        try:
            client.v1.ai_gif_generator.generate_many(
                ["a kite"], download_directory=directory, progress=False
            )
        except ValidationError as exc:
            assert exc.field == "download_directory"
        else:
            raise AssertionError(f"{directory} was accepted for a batch")
        assert requests(server) == before
