"""A tiny name → builder registry shared by datasets, task sets and models, keyed by benchmark."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T", bound=Callable)


class Registry(Generic[T]):
    """Builders registered under benchmark names; unknown names raise an error listing valid ones."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._builders: dict[str, T] = {}

    def register(self, *names: str) -> Callable[[T], T]:
        def decorate(fn: T) -> T:
            for name in names:
                if name in self._builders:
                    raise ValueError(f"{self.what} {name!r} is registered twice")
                self._builders[name] = fn
            return fn

        return decorate

    def names(self) -> list[str]:
        return sorted(self._builders)

    def __getitem__(self, name: str) -> T:
        try:
            return self._builders[name]
        except KeyError:
            raise ValueError(f"unknown {self.what} {name!r}; available: {', '.join(self.names())}") from None
