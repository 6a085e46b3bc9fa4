"""Read by mypy (``[tool.mypy] files`` in pyproject.toml), never run: a misspelled or mistyped
keyword to ``generate``, ``stream`` or ``generate_many`` is a type error. Each ignore below is
needed: mypy --strict reports an unused ``# type: ignore``, so this file fails the check the
day a typo stops being caught."""

from __future__ import annotations

from magicgif_widget import AsyncClient, Client

PROMPT = {"prompt": "Cute dancing cat, pixel art"}


def sync_calls(client: Client) -> None:
    gen = client.v1.ai_gif_generator
    gen.generate(
        style=PROMPT,
        name="Ai Gif gif",
        output_format="gif",
        wait_for_completion=True,
        download_outputs=True,
        download_directory=".",
    )
    gen.generate(style=PROMPT, nmae="cat")  # type: ignore[call-arg]
    gen.generate(style=PROMPT, timeout="soon")  # type: ignore[arg-type]
    gen.generate({"prompt": "x"})  # type: ignore[call-arg]  # keyword-only, as the vendor's
    for _event in gen.stream(style=PROMPT, output_fromat="gif"):  # type: ignore[call-arg]
        pass
    gen.generate_many(["a cat"], download_directory=".", concurrency=2)
    gen.generate_many(["a cat"], download_directroy=".")  # type: ignore[call-arg]


async def async_calls(client: AsyncClient) -> None:
    gen = client.v1.ai_gif_generator
    await gen.generate(style=PROMPT, poll_interval=0.5, request_options={"timeout": 5})
    await gen.generate(style=PROMPT, download_outputs="yes")  # type: ignore[arg-type]
    async for _event in gen.stream(style=PROMPT, wait_for_complete=False):  # type: ignore[call-arg]
        pass
