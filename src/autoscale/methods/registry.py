"""Name → class registry of weighting methods (``build_method``, ``available_methods``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from autoscale.methods.base import MethodInfo, RunContext, Weighting

_REGISTRY: dict[str, type[Weighting]] = {}

W = TypeVar("W", bound=type[Weighting])


def register(name: str) -> Callable[[W], W]:
    """Class decorator adding a method to the registry under ``name``."""

    def decorate(cls: W) -> W:
        if name in _REGISTRY:
            raise ValueError(f"method {name!r} is registered twice")
        if not isinstance(cls.__dict__.get("info"), MethodInfo):
            raise TypeError(f"method {name!r} ({cls.__qualname__}) must declare info = MethodInfo(...) on its class")
        _REGISTRY[name] = cls
        cls.name = name
        return cls

    return decorate


def available_methods() -> list[str]:
    """Names accepted by :func:`build_method`, sorted."""
    return sorted(_REGISTRY)


def method_info(name: str) -> MethodInfo:
    """The declaration of method ``name`` (:class:`~autoscale.methods.base.MethodInfo`)."""
    return method_class(name).info


def table_methods() -> tuple[str, ...]:
    """The methods that are rows of the main tables, in row order."""
    rows = [(info.table_row, name) for name, cls in _REGISTRY.items() if (info := cls.info).table_row is not None]
    return tuple(name for _, name in sorted(rows))


def method_class(name: str) -> type[Weighting]:
    """The class registered under ``name``; unknown names raise a ValueError listing the valid ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; available methods: {', '.join(available_methods())}") from None


def build_method(name: str, num_tasks: int, run: RunContext | None = None, **options: Any) -> Weighting:
    """Instantiate method ``name`` for ``num_tasks`` tasks with its options (see each class).

    ``run``: the training run the method is built for; it fills the options the class declares in
    :attr:`~autoscale.methods.base.Weighting.run_options` (run length, seed) that ``options`` leaves unset.
    """
    cls = method_class(name)
    if run is not None:
        for option in cls.run_options:
            options.setdefault(option, getattr(run, option))
    try:
        return cls(num_tasks=num_tasks, **options)
    except TypeError as err:
        raise TypeError(f"bad options for method {name!r}: {err}") from err
