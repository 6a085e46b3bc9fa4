"""Procedural, deterministic stand-in for AI GIF generation.

Turns a prompt into a seamlessly looping animation (GIF, MP4 or WebM) seeded from its SHA-256:
colours, moving scene and encoders here, the text layer from ``overlay.py``.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import io
import math
import random
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw

from ..contract import OUTPUT_FORMATS
from .overlay import RGB, overlay

if TYPE_CHECKING:
    from collections.abc import Sequence


FPS = 12
FRAME_MS = 80
TAU = 2 * math.pi


# Hues that stay rich when dark (HSV over-represents green and muddy olive/mustard).
_BASE_HUES = (0.02, 0.38, 0.47, 0.53, 0.58, 0.62, 0.66, 0.7, 0.75, 0.8, 0.86, 0.92, 0.97)
# Accent hue offsets: triadic, split-complementary, complementary, tetradic, wide analogous.
_SCHEMES = ((1 / 3, 2 / 3), (5 / 12, 7 / 12), (1 / 2, 1 / 12), (1 / 4, 1 / 2), (1 / 6, -1 / 6))
_CODEC_OPTIONS = {
    "mp4": {"preset": "veryfast", "tune": "animation", "crf": "23", "threads": "1"},
    "webm": {"deadline": "realtime", "cpu-used": "8", "crf": "32", "b": "0", "threads": "1"},
}
_BT709 = {
    "colorspace": "bt709",
    "color_primaries": "bt709",
    "color_trc": "bt709",
    "color_range": "tv",
}


VIDEO_EXTRA = "pip install 'magicgif-widget[video]'"


@functools.cache
def cannot_draw(output_format: str) -> str | None:
    """Why this install cannot draw ``output_format`` (video needs PyAV, an extra), or None."""
    if output_format == "gif":
        return None
    try:
        import av  # noqa: F401
    except ImportError:
        return f"the sandbox draws {output_format.upper()} with PyAV, not installed: {VIDEO_EXTRA}"
    return None


def render(
    prompt: str,
    output_format: str = "gif",
    *,
    size: int = 256,
    frames: int = 16,
    label: str = "SANDBOX",
) -> bytes:
    """Render a looping animation for `prompt` in `output_format`; same prompt, same bytes.

    Video (also byte-identical for one FFmpeg build) is rounded up to an even size for yuv420p.
    Raises ValueError naming the offending argument, RuntimeError when video needs PyAV.
    """
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(
            f"output_format must be one of {', '.join(OUTPUT_FORMATS)}: {output_format!r}"
        )
    missing = cannot_draw(output_format)
    if missing:
        raise RuntimeError(missing)
    if output_format == "gif":
        return _encode_gif(render_frames(prompt, size=size, frames=frames, label=label))
    _check_args(prompt, size, frames, label)
    even = size + size % 2
    video_frames = render_frames(prompt, size=even, frames=frames, label=label)
    return _encode_video(video_frames, output_format)


def render_frames(
    prompt: str, *, size: int = 256, frames: int = 16, label: str = "SANDBOX"
) -> list[Image.Image]:
    """The RGB frames `render` encodes: gradient, orbiting glows, waves, sparkles, prompt, badge."""
    _check_args(prompt, size, frames, label)
    rng = random.Random(int.from_bytes(_digest(prompt)[:16], "big"))
    bg, accents = _palette(rng)
    scene = _scene(rng, size, accents)
    layer = overlay(prompt, label, size, accents[0])
    vignette = _vignette(size)
    return [_frame(scene, bg, layer, vignette, size, TAU * i / frames) for i in range(frames)]


def _check_args(prompt: str, size: int, frames: int, label: str) -> None:
    """Raise ValueError naming the first invalid argument."""
    if not isinstance(prompt, str):
        raise ValueError("prompt must be a string")
    if not isinstance(label, str):
        raise ValueError("label must be a string")
    if isinstance(size, bool) or not isinstance(size, int) or not 16 <= size <= 2048:
        raise ValueError(f"size must be an integer between 16 and 2048, got {size!r}")
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
        raise ValueError(f"frames must be a positive integer, got {frames!r}")


def _digest(prompt: str) -> bytes:
    """Stable SHA-256 of the prompt (lone surrogates allowed)."""
    return hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).digest()


# --- colours -----------------------------------------------------------------------------------


def _hsv(h: float, s: float, v: float) -> RGB:
    """HSV (hue wraps) to an 8-bit RGB tuple."""
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return round(r * 255), round(g * 255), round(b * 255)


def _mix(a: Sequence[int], b: Sequence[int], t: float) -> RGB:
    """Linear blend of two colours, t in [0, 1]."""
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _palette(rng: random.Random) -> tuple[list[RGB], list[RGB]]:
    """Pick a harmonious scheme: three deep background colours and three bright accents."""
    hue = rng.choice(_BASE_HUES) + rng.uniform(-0.02, 0.02)
    offsets = rng.choice(_SCHEMES)
    drift = rng.choice((-1, 1)) * rng.uniform(0.05, 0.1)
    bg = [
        _hsv(hue, rng.uniform(0.7, 0.85), rng.uniform(0.4, 0.5)),
        _hsv(hue + drift, rng.uniform(0.65, 0.8), rng.uniform(0.55, 0.68)),
        _hsv(hue - drift, rng.uniform(0.75, 0.9), rng.uniform(0.18, 0.26)),
    ]
    accents = [
        _hsv(hue + offsets[0], rng.uniform(0.55, 0.75), 1.0),
        _hsv(hue + offsets[1], rng.uniform(0.5, 0.7), 1.0),
        _hsv(hue + drift * 2, rng.uniform(0.35, 0.5), 1.0),
    ]
    if rng.random() < 0.5:
        accents[0], accents[1] = accents[1], accents[0]
    return bg, accents


# --- scene -------------------------------------------------------------------------------------


def _scene(rng: random.Random, size: int, accents: list[RGB]) -> dict[str, list[tuple[Any, ...]]]:
    """Random but loop-safe parameters (integer frequencies) for blobs, waves and sparkles."""
    blobs = [
        (
            accents[k % len(accents)],
            size * rng.uniform(0.3, 0.7),  # centre x
            size * rng.uniform(0.25, 0.55),  # centre y
            size * rng.uniform(0.12, 0.3),  # orbit radius x
            size * rng.uniform(0.08, 0.2),  # orbit radius y
            rng.choice((-1, 1)),  # orbit direction / frequency
            rng.choice((1, 2)),
            rng.uniform(0, TAU),  # phase offset
            size * rng.uniform(0.1, 0.2),  # radius
            rng.randint(110, 160),  # peak alpha
        )
        for k in range(4)
    ]
    waves = [
        (
            accents[k],
            size * (0.6 + 0.09 * k),  # baseline
            size * rng.uniform(0.03, 0.06),  # amplitude
            rng.choice((1, 2)),  # wavelengths across the frame
            (-1, 1)[k],  # travel direction
            80 + 35 * k,  # alpha
        )
        for k in range(2)
    ]
    sparkles = [
        (
            size * rng.uniform(0.06, 0.94),
            size * rng.uniform(0.17, 0.6),  # below the badge, above the text
            rng.choice((1, 2, 3)),  # twinkles per loop
            rng.uniform(0, TAU),
        )
        for _ in range(7)
    ]
    return {"blobs": blobs, "waves": waves, "sparkles": sparkles}


def _frame(
    scene: dict[str, list[tuple[Any, ...]]],
    bg: list[RGB],
    layer: Image.Image,
    vignette: Image.Image,
    size: int,
    phase: float,
) -> Image.Image:
    """Compose one RGB frame at loop position `phase` (radians)."""
    im = _background(bg, size, phase)
    for blob in scene["blobs"]:
        _draw_blob(im, blob, phase)
    for wave in scene["waves"]:
        _draw_wave(im, wave, size, phase)
    for sparkle in scene["sparkles"]:
        _draw_sparkle(im, sparkle, size, phase)
    im.paste((0, 0, 0), (0, 0), vignette)
    im.paste(layer, (0, 0), layer)
    return im


def _background(bg: list[RGB], size: int, phase: float) -> Image.Image:
    """A four-corner gradient whose colours rotate once per loop, darker towards the bottom."""
    tl, tr, br, bl = (
        _mix(bg[0], bg[1], 0.5 + 0.5 * math.cos(phase + k * TAU / 4)) for k in range(4)
    )
    small = Image.new("RGB", (2, 2))
    small.putdata([tl, tr, _mix(bl, bg[2], 0.45), _mix(br, bg[2], 0.45)])
    return small.resize((size, size), Image.Resampling.BILINEAR, box=(0.5, 0.5, 1.5, 1.5))


@functools.lru_cache(maxsize=64)
def _radial(alpha: int) -> Image.Image:
    """A 256px soft round glow mask peaking at `alpha` in the centre."""
    curve = [round(alpha * min(1.0, max(0.0, (180 - v) / 22))) for v in range(256)]
    return Image.radial_gradient("L").point(curve)


@functools.lru_cache(maxsize=128)
def _glow(diameter: int, alpha: int) -> Image.Image:
    """The glow mask scaled to `diameter` pixels."""
    return _radial(alpha).resize((diameter, diameter), Image.Resampling.BILINEAR)


def _draw_blob(im: Image.Image, blob: tuple[Any, ...], phase: float) -> None:
    """Paste one orbiting glow; its path and pulse close exactly after one loop."""
    color, cx, cy, rx, ry, fx, fy, offset, radius, alpha = blob
    x = cx + rx * math.cos(fx * phase + offset)
    y = cy + ry * math.sin(fy * phase + offset)
    diameter = max(2, round(2 * radius * (1 + 0.12 * math.sin(phase + offset))))
    im.paste(color, (round(x - diameter / 2), round(y - diameter / 2)), _glow(diameter, alpha))


def _draw_wave(im: Image.Image, wave: tuple[Any, ...], size: int, phase: float) -> None:
    """Fill a translucent, anti-aliased sine hill that travels one wavelength per loop."""
    color, base, amp, k, direction, alpha = wave
    scale = 2
    steps = 48
    points = [
        (
            size * scale * j / steps,
            scale
            * (
                base
                + amp * math.sin(TAU * k * j / steps + direction * phase)
                + amp * 0.4 * math.sin(TAU * (k + 1) * j / steps - 2 * direction * phase)
            ),
        )
        for j in range(steps + 1)
    ]
    side = size * scale
    mask = Image.new("L", (side, side))
    ImageDraw.Draw(mask).polygon([*points, (side, side), (0, side)], fill=alpha)
    im.paste(color, (0, 0), mask.reduce(scale))


@functools.lru_cache(maxsize=256)
def _star(diameter: int) -> Image.Image:
    """A four-pointed sparkle mask with a soft core, `diameter` pixels wide."""
    big = diameter * 4
    c = big / 2
    w = big * 0.09
    mask = Image.new("L", (big, big))
    draw = ImageDraw.Draw(mask)
    points = [(c, 0), (c + w, c - w), (big, c), (c + w, c + w)]
    points += [(c, big), (c - w, c + w), (0, c), (c - w, c - w)]
    draw.polygon(points, fill=255)
    draw.ellipse((c - 2.2 * w, c - 2.2 * w, c + 2.2 * w, c + 2.2 * w), fill=255)
    return mask.resize((diameter, diameter), Image.Resampling.LANCZOS)


def _draw_sparkle(im: Image.Image, sparkle: tuple[Any, ...], size: int, phase: float) -> None:
    """Twinkle a sparkle: it grows and shrinks an integer number of times per loop."""
    x, y, freq, offset = sparkle
    level = math.sin(freq * phase + offset)
    diameter = round(size * 0.075 * level)
    if diameter >= 3:
        corner = (round(x - diameter / 2), round(y - diameter / 2))
        im.paste((255, 255, 245), corner, _star(diameter))


@functools.lru_cache(maxsize=4)
def _vignette(size: int) -> Image.Image:
    """A mask that darkens the corners a little."""
    curve = [round(110 * max(0.0, (v - 120) / 135) ** 1.5) for v in range(256)]
    return Image.radial_gradient("L").point(curve).resize((size, size), Image.Resampling.BILINEAR)


# --- encoders ----------------------------------------------------------------------------------


def _encode_gif(frames: list[Image.Image]) -> bytes:
    """Encode frames as a looping GIF sharing one adaptive 256-colour palette."""
    width, height = frames[0].size
    sheet = Image.new("RGB", (width, height * len(frames)))
    for n, frame in enumerate(frames):
        sheet.paste(frame, (0, n * height))
    sample = sheet.reduce(max(1, width // 256))  # ~256px frames give the same palette, faster
    palette = sample.quantize(256, method=Image.Quantize.FASTOCTREE)
    indexed = sheet.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)
    highest = indexed.getextrema()[1]  # a paletted ("P") image has one band: its top index
    table = indexed.getpalette()
    if not isinstance(highest, (int, float)) or table is None:
        raise RuntimeError("quantize() produced no single-band paletted image")
    colors = int(highest) + 1  # unused trailing entries make Pillow's remap slow
    paletted = [indexed.crop((0, n * height, width, (n + 1) * height)) for n in range(len(frames))]
    buf = io.BytesIO()
    paletted[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=paletted[1:],
        duration=FRAME_MS,
        loop=0,
        disposal=1,
        optimize=False,
        palette=table[: 3 * colors],  # one global table, not one per frame
    )
    return buf.getvalue()


def _encode_video(frames: list[Image.Image], output_format: str) -> bytes:
    """Encode frames as H.264 MP4 (moov first) or VP9 WebM, single-threaded and bit-exact."""
    import av  # heavy, and only needed for video

    codec = "libx264" if output_format == "mp4" else "libvpx-vp9"
    codec_options = {**_BT709, **_CODEC_OPTIONS[output_format]}
    container_options = {"fflags": "+bitexact"}  # no random segment UID, encoder tags, dates
    if output_format == "mp4":
        container_options["movflags"] = "+faststart"
    with tempfile.TemporaryDirectory(prefix="magicgif-") as tmp:
        # +faststart re-reads the file to move the index up front, so it needs a path, not BytesIO.
        path = Path(tmp) / f"out.{output_format}"
        with av.open(
            str(path), mode="w", format=output_format, options=container_options
        ) as container:
            stream = container.add_stream(codec, rate=FPS, options=codec_options)
            stream.width, stream.height = frames[0].size
            stream.pix_fmt = "yuv420p"
            stream.thread_count = 1
            stream.codec_context.flags |= av.codec.context.Flags.bitexact
            for n, frame in enumerate(frames):
                video_frame = av.VideoFrame.from_image(frame).reformat(
                    format="yuv420p", dst_colorspace="itu709"
                )
                video_frame.pts = n
                container.mux(stream.encode(video_frame))
            container.mux(stream.encode(None))
        return path.read_bytes()
