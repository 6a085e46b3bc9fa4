"""The static text layer over every frame: the prompt, cleaned and wrapped on a dark card,
and the label badge, in the best font this system has (undrawable characters replaced)."""

from __future__ import annotations

import functools
import unicodedata
from typing import Any

from PIL import Image, ImageDraw, ImageFont

MAX_LINES = 3
ELLIPSIS = "\u2026"

Font = Any  # ImageFont.FreeTypeFont or ImageFont.ImageFont
RGB = tuple[int, int, int]

_FONT_FILES = {
    False: ("DejaVuSans.ttf", "LiberationSans-Regular.ttf", "Arial.ttf", "arial.ttf"),
    True: ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf", "Arial Bold.ttf", "arialbd.ttf"),
}


@functools.lru_cache(maxsize=32)
def _font(px: int, bold: bool) -> Font:
    """A `px`-pixel TrueType font: a system sans, else Pillow's built-in one, else its bitmap."""
    for name in _FONT_FILES[bold]:
        try:
            return ImageFont.truetype(name, px)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=px)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


@functools.lru_cache(maxsize=8192)
def _can_draw(font: Font, char: str) -> bool:
    """Whether `font` has a real glyph for `char` (not the .notdef box)."""
    if char == " ":
        return True
    try:
        return bytes(font.getmask(char)) != _notdef(font)
    except (UnicodeError, OSError, ValueError):  # the bitmap fallback font is Latin-1 only
        return False


@functools.lru_cache(maxsize=32)
def _notdef(font: Font) -> bytes:
    """Bitmap of a private-use code point, i.e. what a missing glyph looks like."""
    try:
        return bytes(font.getmask("\U0010fffd"))
    except (UnicodeError, OSError, ValueError):
        return b""


def _clean(text: str, font: Font, limit: int) -> str:
    """Collapse whitespace, drop control/format chars, replace undrawable ones; cap at `limit`."""
    replacement = "\ufffd" if _can_draw(font, "\ufffd") else "?"
    out: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if char.isspace() or category in ("Zl", "Zp"):
            if out and out[-1] != " ":
                out.append(" ")
        elif (category[0] == "C" and category != "Co") or (category == "Mn" and not out):
            continue  # controls, format chars, surrogates, unassigned; a leading combining mark
        else:
            out.append(char if _can_draw(font, char) else replacement)
        if len(out) > limit:
            break
    return "".join(out).strip()


def _metrics(font: Font) -> tuple[int, int]:
    """Ascent and descent in pixels (approximated for the bitmap fallback font)."""
    if hasattr(font, "getmetrics"):
        ascent, descent = font.getmetrics()
        return int(ascent), int(descent)
    return int(font.getbbox("Ag")[3]), 0


def _fit_prefix(text: str, font: Font, width: float) -> int:
    """Length of the longest prefix of `text` (at least one char) that fits in `width`."""
    lo, hi = 1, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if font.getlength(text[:mid]) <= width:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _wrap(text: str, font: Font, width: float, max_lines: int = MAX_LINES) -> list[str]:
    """Greedy word wrap by pixel width, breaking over-long words, ending with an ellipsis if cut."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if font.getlength(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = word
        while len(lines) <= max_lines and font.getlength(line) > width:
            cut = _fit_prefix(line, font, width)
            lines.append(line[:cut])
            line = line[cut:]
        if len(lines) > max_lines:
            break
    if line:
        lines.append(line)
    if len(lines) <= max_lines:
        return lines
    last = lines[max_lines - 1].rstrip()
    while last and font.getlength(last + ELLIPSIS) > width:
        last = last[:-1]
    return [*lines[: max_lines - 1], last.rstrip() + ELLIPSIS]


def overlay(prompt: str, label: str, size: int, accent: RGB) -> Image.Image:
    """The static RGBA layer: a dark translucent card with the prompt, plus the label badge."""
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    _draw_prompt(draw, prompt, size)
    _draw_badge(draw, label, size, accent)
    return layer


def _draw_prompt(draw: ImageDraw.ImageDraw, prompt: str, size: int) -> None:
    """Draw the prompt, centred, on a rounded band near the bottom."""
    font = _font(max(7, round(size * 0.056)), False)
    margin = max(3, round(size * 0.035))
    pad = max(2, round(size * 0.03))
    inner = size - 2 * margin - 2 * pad
    text = _clean(prompt, font, 600) or "(empty prompt)"
    lines = _wrap(text, font, inner)
    ascent, descent = _metrics(font)
    line_h = round((ascent + descent) * 1.12)
    top = size - margin - line_h * len(lines) - 2 * pad
    box = (margin, top, size - margin, size - margin)
    draw.rounded_rectangle(box, radius=pad * 1.5, fill=(12, 10, 24, 150))
    shadow = max(1, size // 256)
    for n, line in enumerate(lines):
        x = size / 2 - font.getlength(line) / 2
        y = top + pad + n * line_h + (line_h - ascent - descent) / 2
        draw.text((x + shadow, y + shadow), line, font=font, fill=(0, 0, 0, 190))
        draw.text((x, y), line, font=font, fill=(255, 255, 255, 255))


def _draw_badge(draw: ImageDraw.ImageDraw, label: str, size: int, accent: RGB) -> None:
    """Draw a small pill with `label` and an accent dot in the top-left corner."""
    font = _font(max(6, round(size * 0.04)), True)
    text = _clean(label, font, 200)
    if not text:
        return
    margin = max(2, round(size * 0.03))
    pad = max(2, round(size * 0.022))
    ascent, descent = _metrics(font)
    dot = max(2, round(ascent * 0.55))
    text = _wrap(text, font, size * 0.6, max_lines=1)[0]
    height = ascent + descent + pad
    width = round(font.getlength(text)) + dot + 3 * pad
    box = (margin, margin, margin + width, margin + height)
    draw.rounded_rectangle(box, radius=height / 2, fill=(12, 10, 24, 165))
    cy = margin + height / 2
    dx = margin + pad
    draw.ellipse((dx, cy - dot / 2, dx + dot, cy + dot / 2), fill=(*accent, 255))
    draw.text((dx + dot + pad * 0.8, margin + pad / 2), text, font=font, fill=(255, 255, 255, 240))
