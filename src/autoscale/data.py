"""``autoscale.data``: the public name of :mod:`autoscale.training.datasets` (so that
``from autoscale.data.scenes import render`` works).

The package itself is named ``datasets`` so that no tracked path of the repository is a ``data/``
folder (those hold downloaded or rendered data and stay out of git). This module makes the
public name and every submodule under it the *same* module objects as under ``autoscale.training.datasets``,
so classes, registries and monkeypatches are shared whichever name is imported.
"""

import importlib
import pkgutil
import sys

from autoscale.training import datasets

for _module in pkgutil.iter_modules(datasets.__path__):
    sys.modules[f"{__name__}.{_module.name}"] = importlib.import_module(f"{datasets.__name__}.{_module.name}")
sys.modules[__name__] = datasets
