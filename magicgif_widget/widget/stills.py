"""The widget's static output: the last result as a plain image, for readers without a kernel.

A widget's own output is a widget view, which exported HTML, nbviewer, jupyter-book and
Quarto draw only with the widget manager loaded from a CDN (and nbconvert then drops every
other type in that output). So the result travels in an output of its own, beside the widget:
``text/html`` with an ``<img>`` (the animated GIF itself when it is small, else its first
frame) and ``image/png``. The live front end hides that output while a view of the same widget
is on the page (``[data-magicgif-still=ID]``), so nobody sees the result twice. Before any
result it says why the controls may be missing and what to do (``not_loaded``).

Each displayed copy names its display id (``data-magicgif-display``): a host that redraws
its outputs from JSON (classic Notebook does, once its widget manager loads) forgets which
output an update goes to, and the front end tells it again from that mark.
"""

from __future__ import annotations

import base64
import html
import logging
import uuid
from pathlib import Path
from typing import Any

from ..thumbnails import contact_sheet_png, first_frame_png, thumbnail
from . import not_loaded

log = logging.getLogger("magicgif_widget")

WIDTH = 256  # pixels: the still's size in the page
ANIMATION_MAX_BYTES = 300_000  # an animated GIF still (at WIDTH, half the frames) up to this
# size travels in the notebook file; a larger one becomes its first frame
KEEP_DISPLAYS = 8  # outputs kept up to date; older ones (re-run cells) keep what they show


class StillOutput:
    """One widget's static output: its bundle, and every displayed copy to update in place."""

    def __init__(self, still_id: str) -> None:
        self.still_id = still_id
        self.bundle: dict[str, str] | None = None
        self._handles: dict[str, Any] = {}

    def display(self) -> None:
        """Show the output (an empty slot before any result) and keep its handle."""
        from IPython.display import display

        display_id = uuid.uuid4().hex
        bundle = self.bundle or placeholder(self.still_id)
        handle = display(stamp(bundle, display_id), raw=True, display_id=display_id)
        if handle is not None:
            self._handles[display_id] = handle
            while len(self._handles) > KEEP_DISPLAYS:
                self._handles.pop(next(iter(self._handles)))

    def show(self, bundle: dict[str, str] | None) -> None:
        """Put ``bundle`` in every kept output; None keeps what they show."""
        if bundle is None:
            return
        self.bundle = bundle
        for display_id, handle in list(self._handles.items()):
            try:
                handle.update(stamp(bundle, display_id), raw=True)
            except Exception:
                log.debug("display update failed", exc_info=True)

    def close(self) -> None:
        self._handles.clear()


DISPLAY_MARK = 'data-magicgif-display=""'


def placeholder(still_id: str) -> dict[str, str]:
    """The output slot before any result: why the controls may be missing, and what to do."""
    return {"text/html": not_loaded.box(still_id), "text/plain": not_loaded.text()}


def stamp(bundle: dict[str, str], display_id: str) -> dict[str, str]:
    """``bundle`` with its HTML marked as the output of ``display_id``."""
    marked = bundle["text/html"].replace(DISPLAY_MARK, f'data-magicgif-display="{display_id}"', 1)
    return {**bundle, "text/html": marked}


def result_bundle(still_id: str, path: Path, prompt: str) -> dict[str, str]:
    """One result: the GIF animated (at WIDTH, half its frames) when that stays small, else
    its first frame; and a caption."""
    try:
        png: bytes | None = first_frame_png(path, WIDTH)
    except Exception:  # a video without PyAV, or an unreadable file: a caption only
        log.debug("no still image for %s", path, exc_info=True)
        png = None
    shown: tuple[str, bytes] | None = ("image/png", png) if png is not None else None
    if path.suffix.lower() == ".gif" and png is not None:
        animated = thumbnail(path, WIDTH)
        if len(animated[1]) <= ANIMATION_MAX_BYTES:
            shown = animated
    return _bundle(still_id, shown, png, f"Generated animation: {prompt}", path.name)


def sheet_bundle(still_id: str, paths: list[Path]) -> dict[str, str] | None:
    """A gallery: the first frames in a grid, or None when there is nothing to draw."""
    try:
        png = contact_sheet_png(paths)
    except Exception:
        log.debug("no contact sheet for the gallery", exc_info=True)
        return None
    caption = f"{len(paths)} animations"
    return _bundle(still_id, ("image/png", png), png, f"Gallery: {caption}", caption)


def _bundle(
    still_id: str, shown: tuple[str, bytes] | None, png: bytes | None, alt: str, caption: str
) -> dict[str, str]:
    image = ""
    if shown is not None:
        mime, data = shown
        src = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        image = (
            f'<img src="{src}" alt="{html.escape(alt)}" width="{WIDTH}" '
            'style="display:block;max-width:100%;height:auto;border-radius:6px">'
        )
    bundle = {
        "text/html": (
            f'<figure data-magicgif-still="{still_id}" {DISPLAY_MARK} style="margin:0">{image}'
            f'<figcaption style="font-size:12px;opacity:.8">{html.escape(caption)}'
            "</figcaption></figure>"
        ),
        "text/plain": "",  # the widget's own output already says what it is
    }
    if png is not None:
        bundle["image/png"] = base64.b64encode(png).decode("ascii")
    return bundle
