"""Why a request body breaks the contract (a sentence for the 422), or None: plain code,
not ``assert``, which ``python -O`` strips."""

from __future__ import annotations

from typing import Any

from ..contract import OUTPUT_FORMATS, PROMPT_MAX_CHARS, UPLOAD_TYPES


def check_create(body: Any) -> str | None:
    """Why a create body breaks the contract, or None."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    style = body.get("style")
    if not isinstance(style, dict):
        return "style is required and must be an object"
    prompt = style.get("prompt")
    if not isinstance(prompt, str) or not 1 <= len(prompt) <= PROMPT_MAX_CHARS:
        return f"style.prompt must be a string of 1 to {PROMPT_MAX_CHARS} characters"
    if "name" in body and not isinstance(body["name"], str):
        return "name must be a string (omit it for the default name)"
    if "output_format" in body and body["output_format"] not in OUTPUT_FORMATS:
        return f"output_format must be one of {', '.join(OUTPUT_FORMATS)} (or omitted)"
    for field, text in (("style.prompt", prompt), ("name", body.get("name"))):
        if isinstance(text, str) and not _encodable(text):
            return f"{field} must be valid Unicode (it holds a lone surrogate)"
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def upload_specs(body: Any) -> list[tuple[str, str]] | str:
    """An upload-urls body's ``(extension, type)`` pairs (extension lowercased), or why the
    body breaks the contract."""
    shape = "items must be a non-empty list of {extension, type}"
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        return shape
    specs = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or "extension" not in item or "type" not in item:
            return f"{shape}; items[{n}] is not"
        ext, kind = item["extension"], item["type"]
        if not (isinstance(ext, str) and ext.isascii() and ext.isalnum()):
            return f"items[{n}].extension must be letters and digits, like png"
        if kind not in UPLOAD_TYPES:
            return f"items[{n}].type must be one of {', '.join(UPLOAD_TYPES)}"
        specs.append((ext.lower(), kind))
    return specs
