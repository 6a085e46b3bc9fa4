"""The root's public names are what docs/api.md lists, each importable and documented."""

from __future__ import annotations

import importlib
import inspect
import re
import warnings
from pathlib import Path

import pytest

import magicgif_widget

API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def documented() -> list[str]:
    """The names docs/api.md lists, one ``- `Name` — description`` line each."""
    return re.findall(r"^- `(\w+)` — \S", API_PAGE.read_text(), re.M)


def test_the_page_lists_all_and_nothing_else():
    names = documented()
    assert len(names) == len(set(names)), "a name is listed twice"
    assert sorted(names) == sorted(magicgif_widget.__all__)


def test_the_page_fits_one_screen():
    assert len(API_PAGE.read_text().splitlines()) <= 60


@pytest.mark.parametrize("name", magicgif_widget.__all__)
def test_each_public_name_imports_and_has_a_docstring(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        value = getattr(importlib.import_module("magicgif_widget"), name)
    doc = inspect.getdoc(value) or ""
    assert doc.strip(), f"{name} has no docstring"
    assert not doc.startswith(f"{name}("), f"{name} has only the dataclass's generated docstring"


@pytest.mark.parametrize("name", sorted(magicgif_widget._MOVED))
def test_a_moved_name_still_imports_with_a_warning(name: str):
    module = magicgif_widget._MOVED[name]
    with pytest.warns(DeprecationWarning, match=re.escape(module)):
        value = getattr(magicgif_widget, name)
    assert value is getattr(importlib.import_module(module), name)
    assert name not in magicgif_widget.__all__


def test_star_import_gives_the_public_names():
    scope: dict[str, object] = {}
    exec("from magicgif_widget import *", scope)
    assert sorted(k for k in scope if k != "__builtins__") == sorted(magicgif_widget.__all__)
