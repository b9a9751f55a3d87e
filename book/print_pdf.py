"""Print the whole book as one PDF, offline: the single-page HTML build of the book (Sphinx's
``singlehtml`` builder, run by jupyter-book) printed by the system's headless Chromium.

Run by `make book` after the HTML build: ``python book/print_pdf.py [BUILD_DIR]`` (default ``_build``)
writes ``BUILD_DIR/html/autoscale-reproduced.pdf``, which the introduction links, and prints its
page count. Chromium is Debian's ``chromium`` package (``data_scripts/install_system_packages.sh``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PDF_NAME = "autoscale-reproduced.pdf"
# Chromium lays the page out for this long (virtual time) before printing: MathJax typesets first.
RENDER_MS = 20_000


def chromium() -> str:
    """The system Chromium's executable, or an error that says how to install it."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    raise SystemExit("error: no chromium on PATH; install it with: sudo bash data_scripts/install_system_packages.sh")


def page_count(pdf: bytes) -> int:
    """Pages of a PDF: the ``/Count`` of its root page tree (the largest, as nested trees count less)."""
    counts = [int(m) for m in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", pdf)]
    counts += [int(m) for m in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", pdf)]
    if not counts:
        raise ValueError("no page tree found in the PDF")
    return max(counts)


def main(argv: list[str]) -> int:
    build = (Path(argv[0]) if argv else ROOT / "_build").resolve()
    single = build / "singlehtml" / "index.html"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "jupyter-book"),
            "build",
            str(ROOT),
            "--config",
            str(ROOT / "_config.yml"),
            "--toc",
            str(ROOT / "book" / "_toc.yml"),
            "--path-output",
            str(build.parent),
            "--builder",
            "singlehtml",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    out = build / "html" / PDF_NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={profile}",
                "--no-pdf-header-footer",
                f"--virtual-time-budget={RENDER_MS}",
                f"--print-to-pdf={out}",
                single.as_uri(),
            ],
            check=True,
            capture_output=True,
        )
    print(f"{out}: {page_count(out.read_bytes())} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
