"""Thumbnails of results: ``gallery`` lays them side by side, light enough to save."""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .client.errors import ValidationError


def gallery(items: Iterable[Any], size: int = 160, captions: Iterable[str] | None = None) -> Any:
    """An IPython HTML grid of ``items`` (widget results, ImageProjects or file paths).

    GIFs are scaled to ``size`` pixels and stay animated; videos show their first frame.
    """
    from IPython.display import HTML

    if isinstance(size, bool) or not isinstance(size, int) or not 32 <= size <= 1024:
        raise ValidationError("size", "must be an int from 32 to 1024")
    entries = [_entry(item) for item in items]
    labels = list(captions) if captions is not None else [label for _, label in entries]
    if len(labels) != len(entries):
        raise ValidationError("captions", f"needs {len(entries)} captions, got {len(labels)}")
    cells = []
    for (path, _), label in zip(entries, labels, strict=True):
        mime, data = thumbnail(path, size)
        src = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        cells.append(
            f'<figure style="margin:0;width:{size}px">'
            f'<img src="{src}" width="{size}" alt="{html.escape(label)}" '
            f'style="border-radius:6px;display:block">'
            f'<figcaption style="font-size:12px;overflow-wrap:anywhere">{html.escape(label)}'
            "</figcaption></figure>"
        )
    return HTML(f'<div style="display:flex;flex-wrap:wrap;gap:12px">{"".join(cells)}</div>')


def _entry(item: Any) -> tuple[Path, str]:
    """(file, caption) for a widget Result, an ImageProject with downloads, or a path."""
    if isinstance(item, (str, os.PathLike)):
        path = Path(item)
        label = path.name
    elif hasattr(item, "path") and hasattr(item, "project"):  # a widget Result
        path, label = Path(item.path), getattr(item, "prompt", "") or item.path.name
    elif getattr(item, "downloaded_paths", None):
        path = Path(item.downloaded_paths[0])
        label = item.name or path.name
    else:
        raise ValidationError("items", f"cannot show {type(item).__name__}: pass results or paths")
    if not path.is_file():
        raise ValidationError("items", f"{str(path)!r} is not a file")
    return path, label


def thumbnail(path: Path, size: int) -> tuple[str, bytes]:
    """A GIF scaled to ``size`` and still animated (half the frames), or a video's first frame."""
    from PIL import Image, ImageSequence

    if path.suffix.lower() != ".gif":
        return "image/png", first_frame_png(path, size)
    with Image.open(path) as im:
        step = 2 if im.n_frames > 12 else 1  # half the frames at twice the duration
        durations = []
        frames = []
        for index, frame in enumerate(ImageSequence.Iterator(im)):
            if index % step:
                continue
            durations.append(frame.info.get("duration", 80) * step)
            small = frame.convert("RGB")
            small.thumbnail((size, size))
            frames.append(small.quantize(colors=64))
    buf = io.BytesIO()
    frames[0].save(
        buf,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=0,
        optimize=False,
    )
    return "image/gif", buf.getvalue()


def first_frame_png(path: Path, size: int = 320) -> bytes:
    """The first frame of an animation as a small PNG (video needs PyAV, the ``video`` extra)."""
    from PIL import Image

    if path.suffix.lower() == ".gif":
        with Image.open(path) as im:
            frame = im.convert("RGB")
    else:
        try:
            import av
        except ImportError as exc:
            raise RuntimeError(
                f"a still of {path.name} needs PyAV: pip install 'magicgif-widget[video]'"
            ) from exc

        with av.open(str(path)) as container:
            frame = next(container.decode(video=0)).to_image()
    frame.thumbnail((size, size))
    buf = io.BytesIO()
    frame.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def contact_sheet_png(paths: Iterable[Path], size: int = 128, columns: int = 4) -> bytes:
    """First frames of ``paths`` in a grid, as one PNG (a gallery's still for saved notebooks)."""
    from PIL import Image

    tiles = []
    for path in paths:
        try:
            still = first_frame_png(Path(path), size)
        except RuntimeError:  # a video without PyAV: the sheet shows the others
            continue
        with Image.open(io.BytesIO(still)) as tile:
            tiles.append(tile.convert("RGB"))
    if not tiles:
        raise ValidationError("paths", "no files to lay out")
    gap = 6
    cols = min(columns, len(tiles))
    rows = -(-len(tiles) // cols)
    sheet = Image.new("RGB", (cols * (size + gap) - gap, rows * (size + gap) - gap), "white")
    for index, tile in enumerate(tiles):
        x, y = (index % cols) * (size + gap), (index // cols) * (size + gap)
        sheet.paste(tile, (x + (size - tile.width) // 2, y + (size - tile.height) // 2))
    buf = io.BytesIO()
    sheet.save(buf, "PNG", optimize=True)
    return buf.getvalue()
