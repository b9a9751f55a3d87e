"""Weighting methods behind one interface (:class:`Weighting`) and a name registry.

Importing this package registers every method; ``build_method(name, num_tasks, **options)``
instantiates one. Each method declares what the rest of the package knows of it (label, family,
place in the tables, how the property tests apply) on its class: :class:`MethodInfo`,
:class:`PropertySpec`. AutoScale is one of them (:mod:`autoscale.methods.autoscale`), with its window
solver (:mod:`autoscale.methods.window`) and predictors (:mod:`autoscale.methods.predictors`).
"""

import importlib
import pkgutil

from autoscale.methods.base import MethodInfo, PropertySpec, Weighting, check_step_inputs
from autoscale.methods.registry import (
    available_methods,
    build_method,
    method_class,
    method_info,
    register,
    table_methods,
)

# Importing a module registers the methods it declares: every module of this package is imported,
# so that adding a method is adding its module (sorted, so that registration order is fixed).
for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")

__all__ = [
    "MethodInfo",
    "PropertySpec",
    "Weighting",
    "available_methods",
    "build_method",
    "check_step_inputs",
    "method_class",
    "method_info",
    "register",
    "table_methods",
]
