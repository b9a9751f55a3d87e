"""Take the numbers away: a CSV link under every table of the book and an SVG link under every figure.

:func:`enable_downloads` registers IPython display formatters (``text/html``) for pandas DataFrames,
pandas Stylers and matplotlib Figures. Each renders as before, followed by a link whose file is
embedded in the page as a ``data:`` URI, so the built book needs no extra files and the links work
offline and in the PDF's HTML. A table's CSV holds its numbers at full precision (the Styler's data,
not the rounded text shown); a figure's SVG is the figure as drawn. Files are named after the
chapter and their order in it (``main_results-table-3.csv``), so a re-executed chapter names them alike.
"""

from __future__ import annotations

import base64
import html
import io
from itertools import count
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.text import Text
from pandas.io.formats.style import Styler

LINK_CLASS = "autoscale-download"
# The widest a figure is drawn, in inches at the figure's 100 dpi: the book's text column at a 1280 px
# wide window (948 px, measured in Chromium). A wider figure would be shrunk by the browser, and its
# text with it; drawn at this width, its text keeps the size it was given (10 pt = 13.9 px, above 80%
# of the body text's 16 px) and the panels are laid out again around it.
MAX_WIDTH_INCHES = 9.4


def download_link(data: bytes, filename: str, mime: str, label: str) -> str:
    """An ``<a download>`` whose target is ``data`` itself (a base64 ``data:`` URI)."""
    encoded = base64.b64encode(data).decode("ascii")
    return (
        f'<p class="{LINK_CLASS}"><a download="{html.escape(filename)}" href="data:{mime};base64,{encoded}">'
        f"{html.escape(label)}</a></p>"
    )


def table_csv(table: pd.DataFrame | Styler) -> bytes:
    """The numbers of ``table`` as CSV (a Styler's underlying data, at full precision)."""
    frame = table.data if isinstance(table, Styler) else table
    return frame.to_csv().encode("utf-8")


def fit_column(fig: Figure, max_width: float = MAX_WIDTH_INCHES) -> None:
    """Shrink ``fig`` to ``max_width`` inches wide if it is wider, keeping its aspect ratio and its
    font sizes (the layout engine places the smaller panels around the same text)."""
    width, height = fig.get_size_inches()
    if width > max_width:
        fig.set_size_inches(max_width, height * max_width / width)


def figure_files(fig: Figure) -> tuple[bytes, bytes]:
    """(PNG, SVG) of ``fig`` at most the column's width (:func:`fit_column`), cropped to what is drawn
    as the notebook's inline backend does."""
    fit_column(fig)
    png, svg = io.BytesIO(), io.BytesIO()
    fig.savefig(png, format="png", bbox_inches="tight")
    fig.savefig(svg, format="svg", bbox_inches="tight")
    return png.getvalue(), svg.getvalue()


def smallest_text_px(fig: Figure) -> float:
    """The height in pixels of the figure's smallest visible text in its PNG (font size in points times
    the figure's dots per inch / 72): the browser test scales it by the image's width on the page."""
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes, default=float("inf")) * fig.dpi / 72


class Downloads:
    """The formatters of one chapter: each numbers its tables and figures in display order."""

    def __init__(self, chapter: str) -> None:
        self.chapter = chapter
        self.tables = count(1)
        self.figures = count(1)

    def table(self, table: pd.DataFrame | Styler) -> str:
        shown = table.to_html() if isinstance(table, Styler) else table._repr_html_()
        name = f"{self.chapter}-table-{next(self.tables)}.csv"
        return shown + download_link(table_csv(table), name, "text/csv", f"Download this table (CSV): {name}")

    def figure(self, fig: Figure) -> str:
        png, svg = figure_files(fig)
        name = f"{self.chapter}-figure-{next(self.figures)}.svg"
        encoded = base64.b64encode(png).decode("ascii")
        image = (
            f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(name)}" style="max-width: 100%" '
            f'data-text-px="{smallest_text_px(fig):.1f}">'
        )
        return image + download_link(svg, name, "image/svg+xml", f"Download this figure (SVG): {name}")


def _set_up_inline_backend() -> None:
    """Set up the notebook's inline backend now if it is the one in use: setting it up replaces every
    display formatter of Figure (IPython's ``select_figure_formats``), ours too, so it must come first."""
    import matplotlib

    if "inline" in matplotlib.get_backend():
        import matplotlib_inline.backend_inline  # noqa: F401  (its import does the setting up)


def enable_downloads(chapter: str, shell: Any | None = None) -> Downloads | None:
    """Register the formatters of ``chapter`` in ``shell`` (default: the running IPython; outside
    IPython nothing happens and None is returned)."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None:
        return None
    _set_up_inline_backend()
    downloads = Downloads(chapter)
    formatter = shell.display_formatter.formatters["text/html"]
    formatter.for_type(pd.DataFrame, downloads.table)
    formatter.for_type(Styler, downloads.table)
    formatter.for_type(Figure, downloads.figure)
    return downloads
