"""Figures of the book, one module per kind of figure.

:func:`plot_samples` (:mod:`autoscale.plots.samples`) draws samples of a dense benchmark with all labels.
"""

from autoscale.plots.samples import plot_samples

__all__ = ["plot_samples"]
