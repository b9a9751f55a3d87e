"""Copy MathJax 3 (from the pinned ``django-static-mathjax`` wheel) into book/_static/mathjax so
that the book renders its formulas offline, without a CDN. Only the TeX-to-CommonHTML component
and the files it loads on demand are copied (about 4 MB of the package's 24 MB)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

TARGET = Path(__file__).resolve().parent / "_static" / "mathjax"
KEEP = ("tex-chtml.js", "input", "output/chtml", "ui", "a11y", "adaptors", "core.js", "startup.js", "loader.js")


def main() -> int:
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        print("error: MathJax not installed; run: .venv/bin/pip install django-static-mathjax==3.2.2.1")
        return 1
    source = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"
    if (TARGET / "tex-chtml.js").is_file():
        return 0
    for name in KEEP:
        src, dst = source / name, TARGET / name
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        elif src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    print(f"MathJax copied to {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
