"""Every table and figure can be downloaded: the links' embedded files are the table's numbers and the figure."""

from __future__ import annotations

import base64
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from IPython.core.interactiveshell import InteractiveShell

from autoscale.book.downloads import enable_downloads


def links(text: str) -> list[tuple[str, bytes]]:
    return [
        (name, base64.b64decode(data))
        for name, data in re.findall(r'download="([^"]+)" href="data:[^;]+;base64,([^"]+)"', text)
    ]


def test_tables_and_figures_carry_their_files() -> None:
    shell = InteractiveShell.instance()
    enable_downloads("chapter", shell)
    html = shell.display_formatter.formatters["text/html"]
    table = pd.DataFrame({"Δm": [1.23456789, -0.5]}, index=["a", "b"])
    # The CSV holds the numbers at full precision, not the two digits the Styler shows.
    ((name, data),) = links(html(table.style.format(precision=2)))
    assert name == "chapter-table-1.csv"
    assert pd.read_csv(pd.io.common.BytesIO(data), index_col=0).equals(table)
    assert "1.23</td>" in html(table.style.format(precision=2))
    assert links(html(table))[0][0] == "chapter-table-3.csv"
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    shown = html(fig)
    ((name, svg),) = links(shown)
    assert name == "chapter-figure-1.svg" and svg.startswith(b"<?xml") and b"<svg" in svg
    assert '<img src="data:image/png;base64,' in shown
    plt.close(fig)


def test_every_chapter_enables_its_downloads() -> None:
    import json
    from pathlib import Path

    notebooks = sorted(Path(__file__).resolve().parents[1].glob("notebooks/*.ipynb"))
    assert notebooks
    for path in notebooks:
        code = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        assert f'enable_downloads("{path.stem}")' in code, path.name


def test_figures_are_drawn_at_most_the_column_wide_with_their_text_size():
    import matplotlib.pyplot as plt
    import pytest

    from autoscale.book.downloads import MAX_WIDTH_INCHES, Downloads, smallest_text_px

    fig, ax = plt.subplots(figsize=(2 * MAX_WIDTH_INCHES, 4))
    ax.set_title("wide", fontsize=10)
    ax.set_xlabel("x", fontsize=12)
    html = Downloads("t").figure(fig)
    assert tuple(fig.get_size_inches()) == pytest.approx((MAX_WIDTH_INCHES, 2.0))
    # 10 pt at the figure's dpi, unchanged by the shrinking; the page scales it by width / natural width.
    assert smallest_text_px(fig) == pytest.approx(10 * fig.dpi / 72)
    assert f'data-text-px="{10 * fig.dpi / 72:.1f}"' in html
    narrow, _ = plt.subplots(figsize=(4, 3))
    Downloads("t").figure(narrow)
    assert tuple(narrow.get_size_inches()) == (4, 3)
    plt.close("all")
