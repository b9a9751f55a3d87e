"""The fingerprint of the code a run executes: a record is stale only when that code changed.

A run executes the training core (trainer, step, Gramian, metrics, config and the modules they
import; the stacked trainer too for a run trained in a stack, whose record says so:
:func:`record_fingerprint`), its method's module (and those of the methods it runs, e.g.
AutoScale's explorer, :meth:`~autoscale.methods.base.Weighting.delegates`) and its benchmark's code
(its declaration's dataset, tasks and model builders). :func:`run_modules` finds those modules by
following the package's own imports from these roots (:func:`run_roots`), statically
(:func:`module_imports`), on a per-benchmark *view* of each module:

- the methods package and the benchmark registry import their modules dynamically (``importlib``),
  which this does not follow, so a run reaches only its own method's module and its own benchmark's
  declaration module (:func:`autoscale.benchmarks.declaration_module`), which are roots: adding a
  method or a benchmark changes no other run;
- a module may declare a family of benchmarks side by side (``X = Benchmark(name="scenes-street",
  ...)``); a declaration belongs to the runs of its benchmark only, and in any other run's view it is
  left out, with the module's private definitions (``_name``) that only the declarations left out use
  (a builder of that benchmark alone), and so with the imports inside them. So adding a benchmark to
  a family, or editing another benchmark's builder, leaves a run's fingerprint alone.

Each module is reduced to its syntax tree without docstrings (comments and formatting are not in
the tree), written out by :func:`canonical_dump`, so that editing prose or reformatting leaves the
fingerprint alone while any change to the code changes it. The top-level ``autoscale/__init__.py``
is left out: it only maps public names to modules, loaded on first use.

Why not ``ast.unparse`` or ``ast.dump``: their text differs between Python versions (3.12
unparses f-strings differently; 3.12 adds ``type_params`` fields; 3.13 omits empty fields from
``ast.dump``), and records are trained under several (3.11 here, 3.12 on the GPU machine).
:func:`canonical_dump` leaves out empty and absent fields, which gives the same text on Python
3.10 to 3.13 for this package.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

PACKAGE = "autoscale"
PACKAGE_DIR = Path(__file__).resolve().parents[1]
# The training core every run goes through, and what a run trained in a stack also runs (a record
# with a "stack" entry): the GPU's throughput work on the stacked trainer leaves CPU records alone.
CORE = ("autoscale.training.trainer",)
STACKED_CORE = ("autoscale.training.stacked",)


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            value = first.value.value if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) else None
            if isinstance(value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return tree


def canonical_dump(node: object) -> str:
    """A syntax tree as text: node type and its non-empty fields, recursively (no positions)."""
    if isinstance(node, ast.AST):
        fields = []
        for name in node._fields:
            value = getattr(node, name, None)
            if value is None or (isinstance(value, list) and not value):
                continue
            fields.append(f"{name}={canonical_dump(value)}")
        return f"{type(node).__name__}({','.join(fields)})"
    if isinstance(node, list):
        return "[" + ",".join(canonical_dump(v) for v in node) + "]"
    return repr(node)


def normalized_source(source: str) -> str:
    """The code of a module without comments, docstrings and formatting."""
    return canonical_dump(_strip_docstrings(ast.parse(source)))


# The class of a benchmark's declaration (autoscale.benchmarks.declaration.Benchmark), as it is called.
DECLARATION = "Benchmark"


def declared_benchmark(node: ast.stmt) -> str | None:
    """The benchmark a module-level statement declares (``X = Benchmark(name="a", ...)``), or None."""
    if not isinstance(node, ast.Assign | ast.AnnAssign):
        return None
    call = node.value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == DECLARATION):
        return None
    names = [k.value for k in call.keywords if k.arg == "name"]
    if len(names) == 1 and isinstance(names[0], ast.Constant) and isinstance(names[0].value, str):
        return names[0].value
    return None


@cache
def _parsed(path: Path) -> ast.Module:
    return _strip_docstrings(ast.parse(path.read_text()))  # type: ignore[return-value]


def _private_names(node: ast.stmt) -> set[str]:
    """The private module-level names (``_name``, not dunder) a statement defines."""
    if isinstance(node, ast.FunctionDef | ast.ClassDef):
        names = {node.name}
    elif isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = {t.id for t in targets if isinstance(t, ast.Name)}
    else:
        return set()
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


@cache
def _statement_uses(path: Path) -> tuple[frozenset[str], ...]:
    """Per module-level statement of the module at ``path``, the names it reads."""
    return tuple(frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name)) for node in _parsed(path).body)


@cache
def module_view(path: Path, benchmark: str) -> ast.Module:
    """The module at ``path`` as a run of ``benchmark`` executes it: without the declarations of other
    benchmarks, nor the private definitions only they use (module docstring)."""
    tree, uses = _parsed(path), _statement_uses(path)
    left_out = {i for i, node in enumerate(tree.body) if declared_benchmark(node) not in (None, benchmark)}
    # A private helper of the statements left out goes with them; the helpers it uses may go next.
    changed = True
    while changed:
        changed = False
        for i, node in enumerate(tree.body):
            defined = _private_names(node)
            if i in left_out or not defined:
                continue
            users = {j for j, used in enumerate(uses) if j != i and defined & used}
            if users and users <= left_out:
                left_out.add(i)
                changed = True
    return ast.Module(body=[n for i, n in enumerate(tree.body) if i not in left_out], type_ignores=[])


def module_path(module: str, package_dir: Path = PACKAGE_DIR) -> Path | None:
    """The file of a module of the package (``autoscale.x.y``), or None if it is not one."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = package_dir.joinpath(*parts[1:])
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return base.with_suffix(".py") if base.with_suffix(".py").is_file() else None


def module_imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """The package's modules a module imports anywhere in ``tree`` (inside functions too), with the
    packages they belong to (importing ``a.b.c`` runs ``a/b/__init__.py``)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    modules: set[str] = set()
    for name in found:
        parts = name.split(".")
        if parts[0] == PACKAGE:
            modules.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
    return modules


def run_modules(roots: Iterable[str], benchmark: str, package_dir: Path = PACKAGE_DIR) -> dict[str, Path]:
    """Every module of the package reached from ``roots`` by imports, in ``benchmark``'s view."""
    seen: dict[str, Path] = {}
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        path = module_path(module, package_dir)
        if path is None:  # a name imported from a module, not a module
            continue
        seen[module] = path
        todo.extend(module_imports(module_view(path, benchmark), module, path.name == "__init__.py"))
    return seen


def fingerprint_modules(modules: Mapping[str, Path], benchmark: str) -> str:
    """16 hex digits of sha256 over the normalised modules (in ``benchmark``'s view), by name."""
    digest = hashlib.sha256()
    for name in sorted(modules):
        digest.update(name.encode() + b"\0")
        digest.update(canonical_dump(module_view(modules[name], benchmark)).encode() + b"\0")
    return digest.hexdigest()[:16]


def method_modules(method: str, options: Mapping[str, Any]) -> tuple[str, ...]:
    """The modules of ``method`` and of the methods it runs (:meth:`Weighting.delegates`)."""
    from autoscale.methods import method_class

    cls = method_class(method)
    return (cls.__module__, *(m for d in cls.delegates(options) for m in method_modules(d, {})))


def run_roots(config: Mapping[str, Any], *, stacked: bool = False) -> tuple[str, ...]:
    """The modules the run of ``config`` (a run config as a dict) starts from: the training core (with
    the stacked trainer if ``stacked``), its methods' modules and its benchmark's declaration module."""
    from autoscale.benchmarks import declaration_module

    methods = method_modules(config["method"], config.get("method_options") or {})
    core = (*CORE, *STACKED_CORE) if stacked else CORE
    return (*core, *sorted(set(methods)), declaration_module(config["benchmark"]))


@cache
def _fingerprint(benchmark: str, roots: tuple[str, ...], package_dir: Path) -> str:
    return fingerprint_modules(run_modules(roots, benchmark, package_dir), benchmark)


def run_fingerprint(config: Mapping[str, Any], package_dir: Path = PACKAGE_DIR, *, stacked: bool = False) -> str:
    """The fingerprint of the code the run of ``config`` (a run config as a dict) executes, trained
    alone or (``stacked``) in a stack."""
    return _fingerprint(config["benchmark"], run_roots(config, stacked=stacked), package_dir)


def record_fingerprint(record: Mapping[str, Any], package_dir: Path = PACKAGE_DIR) -> str:
    """:func:`run_fingerprint` of a run record: of a stacked run if the record has a ``stack`` entry."""
    return run_fingerprint(record["config"], package_dir, stacked="stack" in record)


def clear_cache() -> None:
    """Forget parsed modules and fingerprints (after the package's files changed on disk)."""
    _parsed.cache_clear()
    _statement_uses.cache_clear()
    module_view.cache_clear()
    _fingerprint.cache_clear()
