"""What the widget's non-live outputs say while its controls are not on the page.

A host draws the widget's text/plain and its static output when it cannot run the live view:
a JupyterLab page opened before ``%pip install`` (its front ends load with the page), classic
Notebook without the anywidget extension, VS Code offline, an export or a viewer without
JavaScript. Both say what happened and what to do; the live view hides the static one.
"""

from __future__ import annotations

import html

HELP_URL = "https://pypi.org/project/magicgif-widget/"
HELP_SECTION = "If the widget does not show"  # the README's section (one per host)

HEADLINE = "The widget's controls did not load in this page."
ADVICE = (
    "If you just installed magicgif-widget, reload the browser page (the kernel keeps "
    "running; your variables stay), then run this cell again."
)
OTHERWISE = "Otherwise see"
UNANSWERED = (
    "This widget gets no answer from Python. If the kernel is not busy, run this cell again: "
    "a widget drawn before a page reload that installed it, or before a kernel restart, "
    "cannot be used."
)
UNANSWERED_AFTER_MS = 5000
"""How long a view waits for the kernel's reply to its hello before it says so."""


def text() -> str:
    """The plain-text lines (for text/plain): what happened, what to do, where to read more."""
    return f"{HEADLINE}\n{ADVICE}\n{OTHERWISE} {HELP_SECTION!r} at {HELP_URL}"


def box(still_id: str) -> str:
    """The static output's HTML before any result: the same words, with the link."""
    link = f'<a href="{HELP_URL}" target="_blank" rel="noopener">{html.escape(HELP_SECTION)}</a>'
    return (
        f'<div data-magicgif-still="{still_id}" data-magicgif-display="" '
        'role="note" style="border:1px solid #c9a227;border-left-width:4px;'
        "border-radius:4px;padding:8px 12px;margin:4px 0;max-width:640px;"
        'font-size:13px;line-height:1.45">'
        f"<strong>{html.escape(HEADLINE)}</strong><br>{html.escape(ADVICE)}<br>"
        f"{html.escape(OTHERWISE)} {link}.</div>"
    )
