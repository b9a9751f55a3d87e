"""The fingerprint of the code that can change a run record's numbers.

The core that a training step runs (Gramian, logged metrics, methods including AutoScale) and the
whole training layer (:data:`FINGERPRINTED`); not the experiments, the book or the benchmarks.
Each module is reduced to its
syntax tree without docstrings (comments and formatting are not in the tree), written out by
:func:`canonical_dump`, so that editing prose or reformatting leaves the fingerprint alone while
any change to the code changes it.

Why not ``ast.unparse`` or ``ast.dump``: their text differs between Python versions (3.12
unparses f-strings differently; 3.12 adds ``type_params`` fields; 3.13 omits empty fields from
``ast.dump``), and records are trained under several (3.11 here, 3.12 on the GPU machine).
:func:`canonical_dump` leaves out empty and absent fields, which gives the same text on Python
3.10 to 3.13 for this package. Standard library only, so that any interpreter can compute it.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

FINGERPRINTED = (
    "gramian.py",
    "metrics.py",
    "methods",
    "training",
)


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


def fingerprint_of(package: Path) -> str:
    """16 hex digits of sha256 over the normalised :data:`FINGERPRINTED` modules of ``package``."""
    digest = hashlib.sha256()
    for name in FINGERPRINTED:
        target = package / name
        for path in sorted(target.rglob("*.py")) if target.is_dir() else [target]:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            digest.update(normalized_source(path.read_text()).encode() + b"\0")
    return digest.hexdigest()[:16]


@cache
def code_fingerprint() -> str:
    """The fingerprint of this installation of the package."""
    return fingerprint_of(Path(__file__).resolve().parents[1])
