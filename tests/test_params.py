"""``client/params.py``: generate's keywords said once, and the layers that forward them."""

from __future__ import annotations

import inspect

import pytest

from magicgif_widget import AsyncClient, Client
from magicgif_widget.batching.generator import AiGifGenerator, AsyncAiGifGenerator, BatchParams
from magicgif_widget.client.clients import STREAM_ARGUMENTS
from magicgif_widget.client.options import GenerateOptions
from magicgif_widget.client.params import GENERATE_DEFAULTS, GenerateParams, with_defaults

PROMPT = {"prompt": "Cute dancing cat, pixel art"}


def keyword_defaults(function: object) -> dict[str, object]:
    parameters = inspect.signature(function).parameters  # type: ignore[arg-type]
    return {n: p.default for n, p in parameters.items() if p.kind is p.KEYWORD_ONLY}


def test_every_keyword_has_one_default():
    assert list(GENERATE_DEFAULTS) == [
        "name",
        "output_format",
        "wait_for_completion",
        "download_outputs",
        "download_directory",
        "timeout",
        "poll_interval",
    ]
    assert set(GENERATE_DEFAULTS) == set(GenerateParams.__annotations__)
    assert GenerateParams.__required_keys__ == frozenset()


@pytest.mark.parametrize(
    "method",
    [
        AsyncAiGifGenerator.generate,
        AiGifGenerator.generate,
        AsyncAiGifGenerator.stream,
        AiGifGenerator.stream,
    ],
    ids=["async generate", "generate", "async stream", "stream"],
)
def test_signatures_spell_the_keywords_out(method: object):
    """``help()`` and a notebook's tooltip show each keyword and its default, not ``**params``."""
    shown = keyword_defaults(method)
    assert shown["style"] is inspect.Parameter.empty
    assert {k: shown[k] for k in GENERATE_DEFAULTS} == GENERATE_DEFAULTS
    kinds = {p.kind for p in inspect.signature(method).parameters.values()}  # type: ignore[arg-type]
    assert inspect.Parameter.VAR_KEYWORD not in kinds


def test_stream_arguments_are_style_and_the_shared_keywords():
    assert frozenset({"style", *GENERATE_DEFAULTS}) == STREAM_ARGUMENTS


def test_a_left_out_keyword_takes_its_default():
    assert with_defaults({"timeout": 5.0}) == {**GENERATE_DEFAULTS, "timeout": 5.0}
    options = GenerateOptions.check(style=PROMPT, wait_for_completion=False)
    assert (options.wait, options.download, options.timeout) == (False, True, 900.0)
    assert options.body == {"style": PROMPT}


def test_an_unknown_keyword_is_a_type_error(client: Client):
    with pytest.raises(TypeError, match="'nmae'"):
        client.v1.ai_gif_generator.generate(style=PROMPT, nmae="cat")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="stream\\(\\) got unexpected arguments: nmae"):
        client.v1.ai_gif_generator.stream(style=PROMPT, nmae="cat")  # type: ignore[call-arg]


async def test_an_unknown_keyword_is_a_type_error_async(aclient: AsyncClient):
    with pytest.raises(TypeError, match="'nmae'"):
        await aclient.v1.ai_gif_generator.generate(style=PROMPT, nmae="cat")  # type: ignore[call-arg]


def test_batch_params_are_the_async_generate_manys_keywords():
    """The sync ``generate_many`` forwards ``BatchParams``: exactly what the async one takes."""
    forwarded = set(keyword_defaults(AsyncAiGifGenerator.generate_many)) - {"progress", "on_event"}
    assert set(BatchParams.__annotations__) == forwarded
    shared = set(BatchParams.__annotations__) & set(GenerateParams.__annotations__)
    assert shared == {"download_directory", "output_format", "timeout", "poll_interval"}
    for name in shared:
        batch, one = BatchParams.__annotations__[name], GenerateParams.__annotations__[name]
        assert batch.__forward_arg__ == one.__forward_arg__, name  # as written
