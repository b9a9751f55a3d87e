"""Helpers shared by the random scene generators: colours, rotations, placement and the material palette."""

from __future__ import annotations

import colorsys
import math
from typing import Any

import numpy as np

from autoscale.training.datasets.scenes.description import Material


def hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
    """HSV (all in [0, 1]) to an RGB tuple."""
    return colorsys.hsv_to_rgb(h, s, v)


def shade_of(color: tuple[float, ...], factor: float) -> tuple[float, float, float]:
    """``color`` scaled by ``factor`` (clipped at 1)."""
    return tuple(float(min(1.0, c * factor)) for c in color)


def random_rotation(rng: np.random.Generator) -> tuple[float, ...]:
    """Row-major rotation R_z(a) R_x(b) R_z(c) with random Euler angles (texture orientation of spheres)."""
    a, b, c = rng.uniform(0.0, 2 * math.pi, 3).tolist()
    rz1 = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rz2 = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return tuple((rz1 @ rx @ rz2).reshape(-1).tolist())


def offset(center: tuple[float, ...], yaw: float, dx: float, dy: float, z: float) -> tuple[float, float, float]:
    """World position of the local offset (dx right, dy forward) from ``center`` of an object turned by yaw."""
    c, s = math.cos(yaw), math.sin(yaw)
    return (center[0] + c * dx + s * dy, center[1] - s * dx + c * dy, z)


class Footprints:
    """Axis-aligned ground rectangles of placed objects, to keep new ones from overlapping them."""

    def __init__(self) -> None:
        self.rects: list[tuple[float, float, float, float]] = []

    def free(self, x: float, y: float, hx: float, hy: float, gap: float = 0.1) -> bool:
        """Whether the rectangle centred at (x, y) with half sizes (hx, hy) keeps ``gap`` from every placed one."""
        return all(abs(x - a) >= hx + ha + gap or abs(y - b) >= hy + hb + gap for a, b, ha, hb in self.rects)

    def add(self, x: float, y: float, hx: float, hy: float) -> None:
        """Record a placed rectangle (centre and half sizes)."""
        self.rects.append((x, y, hx, hy))


class Palette:
    """Collects the materials of one scene; ``add`` returns a material index."""

    def __init__(self) -> None:
        self.materials: list[Material] = []

    def add(self, *args: Any, **kwargs: Any) -> int:
        """Append ``Material(*args, **kwargs)``; return its index."""
        self.materials.append(Material(*args, **kwargs))
        return len(self.materials) - 1
