"""Weighting methods behind one interface (:class:`Weighting`) and a name registry.

Importing this package registers every method; ``build_method(name, num_tasks, **options)``
instantiates one. AutoScale is one of them (:mod:`autoscale.methods.autoscale`), with its window
solver (:mod:`autoscale.methods.window`) and predictors (:mod:`autoscale.methods.predictors`).
"""

from autoscale.methods import (  # noqa: F401  (importing a module registers its methods)
    alignedmtl,
    autoscale,
    cagrad,
    gradnorm,
    imtlg,
    loss_based,
    mgda,
    nashmtl,
    pcgrad,
    scalarization,
)
from autoscale.methods.base import Weighting, check_step_inputs
from autoscale.methods.registry import available_methods, build_method, method_class, register

__all__ = ["Weighting", "available_methods", "build_method", "check_step_inputs", "method_class", "register"]
