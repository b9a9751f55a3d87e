"""AutoScale's public module (arXiv 2508.13979): the method, its window solver and its predictors.

The code lives in :mod:`autoscale.methods.autoscale`, :mod:`autoscale.methods.window` and
:mod:`autoscale.methods.predictors`; this module gives them the short public path
``autoscale.autoscale`` (``from autoscale.autoscale import AutoScale, solve_window, predict``).
"""

from autoscale.methods.autoscale import AutoScale
from autoscale.methods.predictors import PREDICTORS, SCHEDULES, finalise_weights, fit_lines, predict
from autoscale.methods.window import COSTS, solve_window, window_cost

__all__ = [
    "COSTS",
    "PREDICTORS",
    "SCHEDULES",
    "AutoScale",
    "finalise_weights",
    "fit_lines",
    "predict",
    "solve_window",
    "window_cost",
]
