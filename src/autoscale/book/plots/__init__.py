"""Figures of the book, one module per kind of figure.

:func:`plot_samples` (:mod:`autoscale.book.plots.samples`) draws samples of a dense benchmark with all labels.
"""

from autoscale.book.plots.samples import plot_samples

__all__ = ["plot_samples"]
