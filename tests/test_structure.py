"""The package's shape: no import cycles, counting imports inside functions and ``TYPE_CHECKING`` blocks too.

An import tucked into a function still couples two modules; it only hides the cycle until someone hoists it.
So every ``import app…``/``from app… import`` anywhere in a module is an edge, and the graph must be acyclic.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def app_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / "app").rglob("*.py"))}


def imported(path: Path, modules: dict[str, Path]) -> set[str]:
    """The app modules ``path`` imports anywhere in its body (``from app.x import y`` names app.x.y if a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            candidates = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        for name in candidates:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = app_modules()
    # A package's own __init__ importing its submodules is how a package exposes them, not a cycle.
    return {
        name: {t for t in imported(path, modules) if t != name and not t.startswith(name + ".")}
        for name, path in modules.items()
    }


def test_the_app_package_has_no_import_cycles():
    assert cycles(import_graph()) == []


def test_the_checker_finds_a_cycle_hidden_in_a_function():
    graph = import_graph()
    graph["app.engine.models"] = graph["app.engine.models"] | {
        "app.studio"
    }  # as if models imported the studio inside a function
    assert any({"app.engine.models", "app.studio"} <= set(c) for c in cycles(graph))


def test_the_core_never_imports_gradio():
    for name, path in app_modules().items():
        if not name.startswith("app.ui"):
            tree = ast.parse(path.read_text())
            names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
            names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
            assert not [n for n in names if n.split(".")[0] == "gradio"], name


# The layers, bottom first: a module imports from its own layer and the ones below, never from one above. Data that
# every part reads (control types, families, samplers, settings) sits at the bottom; the parts that run models
# (detectors, fit scorers, the engine) above it; the validated requests and their results above those; the studio,
# which runs requests on the engine, above them; recipes and evaluation, which drive the studio from files, above
# it; the UI on top. Within a layer, only the no-cycle rule holds.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "data",
        (
            "app.errors",
            "app.discovery",
            "app.images",
            "app.grid",
            "app.controls",
            "app.samplers",
            "app.engine.families",
            "app.engine.models",
            "app.engine.placement",
            "app.settings",
            "app.calibration",
        ),
    ),
    ("models", ("app.preprocess", "app.fit", "app.engine")),
    ("requests", ("app.request",)),
    ("studio", ("app.studio", "app.comparing", "app.tiny")),
    ("edges", ("app.recipes", "app.eval", "app.serving", "app.outputs")),
    ("ui", ("app.ui",)),
)


def layer_of(module: str) -> int:
    """The index of the layer of ``module``: its longest listed prefix decides (the root package: the bottom)."""
    if module == "app":
        return 0
    best, found = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), index
    return found


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{source} ({LAYERS[layer_of(source)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for source, targets in graph.items()
        for target in targets
        if layer_of(target) > layer_of(source)
    )


def test_every_module_has_a_layer():
    assert [name for name in app_modules() if layer_of(name) < 0] == []


def test_no_module_imports_from_a_layer_above_it():
    assert upward_imports(import_graph()) == []


def test_the_layer_check_finds_an_upward_import():
    graph = import_graph()
    graph["app.fit.base"] = graph["app.fit.base"] | {"app.request.compare"}  # as if a scorer read a request
    assert upward_imports(graph) == ["app.fit.base (models) imports app.request.compare (requests)"]
