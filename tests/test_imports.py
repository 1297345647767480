"""The import graph of fintrade/ and plugins/: no cycles, and built-ins import only the public API.

Every module is parsed, never imported, and every import counts, also those inside functions
(a function-level import hides a cycle from Python until the function runs, not from a reader).
Imports under ``if TYPE_CHECKING:`` never run, so they count for the plugin rules but not for
cycles.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fintrade.api import PUBLIC_MODULES

ROOT = Path(__file__).resolve().parents[1]
BUILTINS = frozenset(path.name for path in (ROOT / "plugins").glob("fintrade_*") if (path / "__init__.py").is_file())


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module, as written (``from a.b import c`` -> ``a.b`` or ``a.b.c``)
    line: int
    runtime: bool  # False under ``if TYPE_CHECKING:``

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


def _module_files() -> dict[str, Path]:
    """Module name -> file, for fintrade/ and every plugins/fintrade_<x>/."""
    files = {}
    roots = [(ROOT, ROOT / "fintrade")] + [(ROOT / "plugins", ROOT / "plugins" / name) for name in sorted(BUILTINS)]
    for base, folder in roots:
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


MODULES = _module_files()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path) -> Iterator[Import]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST, runtime: bool) -> Iterator[Import]:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from visit(child, False)
            for child in node.orelse:
                yield from visit(child, runtime)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno, runtime)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield Import(module, submodule if submodule in MODULES else base, node.lineno, runtime)
        for child in ast.iter_child_nodes(node):
            yield from visit(child, runtime)

    yield from visit(ast.parse(path.read_text(), str(path)), True)


IMPORTS = [item for module, path in MODULES.items() for item in _imports(module, path)]


def _known(target: str) -> str | None:
    """The module of ours that ``target`` names (its longest known prefix), or None for a library."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in MODULES:
            return ".".join(parts[:end])
    return None


def _graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports when it runs."""
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for item in IMPORTS:
        target = _known(item.target)
        if item.runtime and target and target != item.source:
            graph[item.source].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a path back to its start) per strongly connected component larger than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan; the graph is small enough for recursion
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_in(component, graph) for component in components]


def _cycle_in(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """The shortest path from the component's first module back to itself (breadth first)."""
    start, members = component[0], set(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for other in sorted(graph[node] & members):
                if other == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if other not in previous:
                    previous[other] = node
                    following.append(other)
        frontier = following
    return component  # not reached: a strongly connected component always has a cycle


def _plugin_violations(imports: list[Import] = IMPORTS) -> list[str]:
    """Imports from a built-in plugin into another built-in, or into fintrade outside the public API."""
    violations = []
    for item in imports:
        plugin = item.source.split(".")[0]
        if plugin not in BUILTINS:
            continue
        top = item.target.split(".")[0]
        if top in BUILTINS and top != plugin:
            violations.append(f"{item.where} imports {item.target} (another built-in plugin)")
        elif top == "fintrade" and item.target not in PUBLIC_MODULES:
            violations.append(f"{item.where} imports {item.target} (not in fintrade.api.PUBLIC_MODULES)")
    return violations


def test_the_graph_sees_function_level_imports() -> None:
    # fintrade_adapters.cli imports its commands' machinery inside the command bodies.
    assert "fintrade_adapters.config" in _graph()["fintrade_adapters.cli"]


def test_the_cycle_finder_finds_a_hidden_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    cycles = [" -> ".join(cycle) for cycle in _cycles(_graph())]
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


def test_builtins_import_only_the_public_api_and_themselves() -> None:
    violations = _plugin_violations()
    assert violations == [], "built-in plugins reaching past the public API:\n" + "\n".join(violations)


def test_the_plugin_rule_names_each_import_it_refuses() -> None:
    planted = [
        Import("fintrade_sentiment.classifier", "fintrade_adapters.models", 28, False),  # even for type hints
        Import("fintrade_sentiment.classifier", "fintrade.evaluation", 30, True),
        Import("fintrade_sentiment.classifier", "fintrade.models.artifacts", 31, True),
        Import("fintrade_sentiment.classifier", "fintrade_sentiment.errors", 32, True),
        Import("fintrade_sentiment.classifier", "torch", 33, True),
    ]
    assert _plugin_violations(imports=planted) == [
        "fintrade_sentiment.classifier:28 imports fintrade_adapters.models (another built-in plugin)",
        "fintrade_sentiment.classifier:30 imports fintrade.evaluation (not in fintrade.api.PUBLIC_MODULES)",
    ]


def test_the_core_never_imports_a_builtin() -> None:
    offenders = [
        f"{item.where} imports {item.target}"
        for item in IMPORTS
        if item.source.split(".")[0] == "fintrade" and item.target.split(".")[0] in BUILTINS
    ]
    assert offenders == []


def test_every_public_module_exists() -> None:
    assert [name for name in PUBLIC_MODULES if name not in MODULES] == []
