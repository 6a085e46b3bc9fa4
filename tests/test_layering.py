"""The package's layers, read from its source: what may import what, and no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import magicgif_widget

ROOT = Path(magicgif_widget.__file__).parent


def _module_name(path: Path) -> str:
    parts = ["magicgif_widget", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, *, typing: bool = False) -> set[str]:
    """Package modules ``name`` imports at run time (function bodies included), and with
    ``typing`` those its ``if TYPE_CHECKING:`` blocks import too."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = _imported(path.read_text(), package, typing=typing)
    return {m for m in found if m in MODULES and m != name}


def _imported(source: str, package: str, *, typing: bool) -> set[str]:
    """Every module name ``source`` (a module of ``package``) imports."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node) and not typing:
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # "from . import x"
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


GRAPH = {name: _imports(name) for name in MODULES}
TYPED_GRAPH = {name: _imports(name, typing=True) for name in MODULES}

# What each layer may import besides itself (docs/architecture.md draws it). Above them sit
# ``clients`` (the public Client: client + jobstore + batching), ``pickup``, the widget, the CLI.
LAYERS = {
    "magicgif_widget.contract": set(),
    "magicgif_widget.client": {"magicgif_widget._version", "magicgif_widget.contract"},
    "magicgif_widget.emulator": {"magicgif_widget.contract"},
    "magicgif_widget.jobstore": {"magicgif_widget.contract", "magicgif_widget.client"},
    "magicgif_widget.batching": {
        "magicgif_widget.contract",
        "magicgif_widget.client",
        "magicgif_widget.jobstore",
    },
}
# A cycle through type hints only, left for the widget runner's split (see the closing note).


def _layer(name: str) -> str | None:
    return next((layer for layer in LAYERS if name == layer or name.startswith(layer + ".")), None)


def test_the_reader_sees_every_module_and_its_imports():
    # The reader itself can fail: it must see these edges, which exist on purpose.
    assert "magicgif_widget.contract" in GRAPH["magicgif_widget.client.validation"]
    assert "magicgif_widget.client.transport" in GRAPH["magicgif_widget.client.endpoints"]
    assert "magicgif_widget.emulator.sandbox" in GRAPH["magicgif_widget"]  # the plug, lazily
    # A type-hint-only import is seen by the typed graph alone.
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .gif_widget import W\n"
    package = "magicgif_widget.widget"
    assert f"{package}.gif_widget" in _imported(source, package, typing=True)
    assert f"{package}.gif_widget" not in _imported(source, package, typing=False)
    assert "magicgif_widget.jobstore.journaling" in GRAPH["magicgif_widget.clients"]


def test_each_layer_imports_only_the_layers_below_it():
    seen = set()
    for name, deps in TYPED_GRAPH.items():
        layer = _layer(name)
        if layer is None:
            continue
        seen.add(layer)
        allowed = LAYERS[layer] | {layer}
        bad = {d for d in deps if _layer(d) not in allowed and d not in allowed}
        assert not bad, f"{name} ({layer}) imports {sorted(bad)}"
    assert seen == set(LAYERS)


def test_the_api_client_knows_nothing_of_the_job_store_batches_or_the_widget():
    # The rule the layers above enforce, said for the layer users read most: the files that
    # mirror the vendor SDK.
    client = {n: deps for n, deps in TYPED_GRAPH.items() if _layer(n) == "magicgif_widget.client"}
    assert len(client) > 12
    for name, deps in client.items():
        above = {d for d in deps if d.split(".")[1] in ("jobstore", "batching", "clients")}
        assert not above, f"{name} imports {sorted(above)}"


def test_the_client_never_imports_the_emulator_or_the_widget():
    client = {n: deps for n, deps in GRAPH.items() if n.startswith("magicgif_widget.client")}
    assert len(client) > 10
    for name, deps in client.items():
        bad = {
            d for d in deps if d.startswith(("magicgif_widget.emulator", "magicgif_widget.widget"))
        }
        assert not bad, f"{name} imports {sorted(bad)}"


def test_the_emulator_knows_the_contract_not_the_client():
    for name, deps in GRAPH.items():
        if name.startswith("magicgif_widget.emulator"):
            bad = {
                d
                for d in deps
                if d.startswith(("magicgif_widget.client", "magicgif_widget.widget"))
            }
            assert not bad, f"{name} imports {sorted(bad)}"


def test_the_contract_imports_nothing_of_ours():
    assert GRAPH["magicgif_widget.contract"] == set()


def _parents(name: str) -> set[str]:
    """Importing a submodule runs its packages' ``__init__`` first: not a cycle of ours."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


@pytest.mark.parametrize("graph", [GRAPH, TYPED_GRAPH], ids=["run-time", "with-type-hints"])
def test_no_two_modules_import_each_other(graph: dict[str, set[str]]):
    edges = {n: {d for d in deps if d not in _parents(n)} for n, deps in graph.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def walk(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dep in sorted(edges[node]):
            if state.get(dep) == 1:
                cycles.append([*trail[trail.index(dep) :], dep] if dep in trail else [node, dep])
            elif dep not in state:
                walk(dep, [*trail, dep])
        state[node] = 2

    for name in sorted(edges):
        if name not in state:
            walk(name, [name])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)
