"""The package's layers, read from its source: what may import what, and no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

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


def _imports(name: str) -> set[str]:
    """Package modules ``name`` imports at run time (function bodies included,
    ``if TYPE_CHECKING:`` blocks not)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
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

    visit(ast.parse(path.read_text()))
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}


def test_the_reader_sees_every_module_and_its_imports():
    # The reader itself can fail: it must see these edges, which exist on purpose.
    assert "magicgif_widget.contract" in GRAPH["magicgif_widget.client.validation"]
    assert "magicgif_widget.client.transport" in GRAPH["magicgif_widget.client.endpoints"]
    assert "magicgif_widget.emulator.sandbox" in GRAPH["magicgif_widget"]  # the plug, lazily


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


def test_no_two_modules_import_each_other():
    edges = {n: {d for d in deps if d not in _parents(n)} for n, deps in GRAPH.items()}
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
