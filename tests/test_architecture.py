"""The package's layers: every import points inward (book -> experiments -> training and benchmarks ->
core), and no module imports itself through a cycle, even through an import inside a function. Read
from the source files, so a new module is checked too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import autoscale

PACKAGE = Path(autoscale.__file__).resolve().parent
# Layer of each top-level subpackage; the core is everything at the top of the package. A benchmark's
# declaration builds with the training layer and is what the training layer builds from: one layer.
LAYERS = {"training": 1, "benchmarks": 1, "experiments": 2, "book": 3, "bench": 3, "commands": 4}
# The public aliases at the top re-export deeper layers on purpose (``autoscale.data`` ->
# ``autoscale.training.datasets``; ``python -m autoscale`` -> ``autoscale.commands``); the package
# root's own re-exports are loaded lazily and are not imports.
ALIASES = {"autoscale.data", "autoscale.__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], 0) if len(parts) > 1 else 0


def imports(path: Path) -> set[str]:
    """Modules of this package imported anywhere in ``path`` (module level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "autoscale":
                found |= {f"autoscale.{a.name}" for a in node.names}
            elif node.module.startswith("autoscale."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("autoscale.")}
    return found


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_inward(module: str) -> None:
    if module in ALIASES or module == "autoscale":
        return
    outward = sorted(m for m in imports(MODULES[module]) if layer(m) > layer(module))
    assert not outward, f"{module} (layer {layer(module)}) imports outer layers: {outward}"


def test_book_and_bench_do_not_import_each_other() -> None:
    for module, path in MODULES.items():
        top = module.split(".")[1] if "." in module else ""
        other = {"book": "autoscale.bench", "bench": "autoscale.book"}.get(top)
        if other:
            assert not any(m == other or m.startswith(f"{other}.") for m in imports(path)), module


def imports_with_packages(path: Path) -> set[str]:
    """:func:`imports`, and the packages they run first: importing autoscale.a.b runs the package
    autoscale.a (unless the importer is inside it)."""
    found = imports(path)
    owner = module_name(path)
    parents = {
        ".".join(m.split(".")[:i])
        for m in found
        for i in range(2, len(m.split(".")))
        if not owner.startswith(".".join(m.split(".")[:i]))
    }
    return {m for m in found | parents if m in MODULES}


def test_no_import_cycles() -> None:
    """Counting imports inside functions: a cycle broken by a deferred import is still a cycle."""
    graph = {m: imports_with_packages(p) - {m} for m, p in MODULES.items()}
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            # Importing a submodule runs its package's __init__ first; a package importing its own
            # submodules is how registries fill up, not a cycle.
            if target.startswith(module + "."):
                continue
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
