"""Argument checks that run before any request, each naming the field at fault."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..contract import NAME_MAX_CHARS, OUTPUT_FORMATS, PROMPT_MAX_CHARS, UPLOAD_TYPES
from .errors import ValidationError


def _is_blank(text: str) -> bool:
    return not any(ch.isprintable() and not ch.isspace() for ch in text)


def _check_unicode(field: str, text: str) -> None:
    """Text JSON can carry as UTF-8: no lone surrogates (as from a bad decode)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            field, f"holds a lone surrogate at position {exc.start}, which is not valid Unicode"
        ) from None


def check_style(style: Any) -> dict[str, Any]:
    """``style`` as a JSON-ready dict with a valid ``prompt`` (1-500 characters, not blank)."""
    if not isinstance(style, Mapping):
        raise ValidationError(
            "style", f'expected a dict like {{"prompt": "..."}}, got {_kind(style)}'
        )
    if "prompt" not in style:
        raise ValidationError("style.prompt", "is required")
    prompt = style["prompt"]
    if not isinstance(prompt, str):
        raise ValidationError("style.prompt", f"must be a string, got {_kind(prompt)}")
    if _is_blank(prompt):
        raise ValidationError("style.prompt", "must not be empty or only whitespace")
    _check_unicode("style.prompt", prompt)
    if len(prompt) > PROMPT_MAX_CHARS:
        raise ValidationError(
            "style.prompt",
            f"is {len(prompt)} characters; the API accepts at most {PROMPT_MAX_CHARS}",
        )
    for key in style:
        if not isinstance(key, str):
            raise ValidationError("style", f"keys must be strings, got {_kind(key)}")
    return dict(style)


def check_name(name: Any) -> str | None:
    """``name`` as a non-blank string of at most 1000 characters, or None."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise ValidationError("name", f"must be a string or None, got {_kind(name)}")
    if _is_blank(name):
        raise ValidationError("name", "must not be empty or only whitespace (pass None to omit)")
    _check_unicode("name", name)
    if len(name) > NAME_MAX_CHARS:
        raise ValidationError("name", f"is {len(name)} characters; at most {NAME_MAX_CHARS}")
    return name


def check_output_format(output_format: Any) -> str | None:
    """``output_format`` lower-cased and checked against gif, mp4, webm, or None."""
    if output_format is None:
        return None
    if not isinstance(output_format, str):
        raise ValidationError("output_format", f"must be a string, got {_kind(output_format)}")
    value = output_format.strip().lower()
    if value not in OUTPUT_FORMATS:
        raise ValidationError(
            "output_format", f"{output_format!r} is not one of {', '.join(OUTPUT_FORMATS)}"
        )
    return value


def check_directory(directory: Any, *, create: bool) -> Path:
    """A usable download directory (the current one for None), created when ``create``."""
    if directory is None:
        directory = "."
    if isinstance(directory, bytes) or not isinstance(directory, (str, os.PathLike)):
        raise ValidationError(
            "download_directory", f"must be a path string or PathLike, got {_kind(directory)}"
        )
    text = os.fspath(directory)
    if not text or not text.strip():
        raise ValidationError("download_directory", "must not be empty (use '.' for here)")
    if "\x00" in text:
        raise ValidationError("download_directory", "contains a NUL character")
    path = Path(text).expanduser()
    try:
        _check_writable(path, text)
        if create:
            path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(
            "download_directory", f"cannot create {text!r}: {exc.strerror or exc}"
        ) from None
    return path


def _check_writable(path: Path, text: str) -> None:
    if path.exists() and not path.is_dir():
        raise ValidationError("download_directory", f"{text!r} exists and is not a directory")
    ancestor = path
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValidationError("download_directory", f"{str(ancestor)!r} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValidationError("download_directory", f"{str(ancestor)!r} is not writable")


def check_positive(field: str, value: Any, *, allow_none: bool = True) -> float | None:
    """A positive finite number of seconds, or None when allowed."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(field, f"must be a number of seconds, got {_kind(value)}")
    if not value > 0 or value == float("inf"):
        raise ValidationError(field, f"must be a positive finite number, got {value!r}")
    return float(value)


def check_upload_items(items: Any) -> list[dict[str, str]]:
    """Upload-url items as ``{"extension": ..., "type": ...}`` (the vendor's ``type_`` accepted)."""
    if isinstance(items, (str, bytes)) or not isinstance(items, (list, tuple)) or not items:
        raise ValidationError("items", "must be a non-empty list of {extension, type} dicts")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ValidationError(f"items[{i}]", f"must be a dict, got {_kind(item)}")
        ext = item.get("extension")
        kind = item.get("type", item.get("type_"))
        if not isinstance(ext, str) or not ext.strip(".").isalnum():
            raise ValidationError(f"items[{i}].extension", f"must be like 'png', got {ext!r}")
        if kind not in UPLOAD_TYPES:
            raise ValidationError(f"items[{i}].type", f"must be one of {', '.join(UPLOAD_TYPES)}")
        out.append({"extension": ext.strip(".").lower(), "type": kind})
    return out


def _kind(value: Any) -> str:
    return type(value).__name__
