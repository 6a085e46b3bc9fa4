"""The notebook widget: ``GifWidget`` and the parts it is made of.

- ``gif_widget``: the widget class, its traits, public methods and front-end messages
- ``jobs``: one job at a time on the kernel's loop; job numbers; events in, traits out
- ``run_state``, ``gallery_state``: pure mappings from what happened to the traits to set
- ``earlier``: jobs from earlier sessions (the user's journal) as cards; the duplicate question
- ``account``: the cost and the balance line, and the shortfall that stops Generate
- ``media``: the bounded store of files the front end may fetch, and their chunked messages
- ``stills``: the static output beside the view, for readers without a kernel
- ``notices``: the sentences the widget shows
"""

from .gallery_state import MAX_GALLERY, gallery_prompts
from .gif_widget import GifWidget
from .gif_widget import _asset as _asset  # the packaging test finds the front end with it
from .media import Result

__all__ = ["MAX_GALLERY", "GifWidget", "Result", "gallery_prompts"]
