"""Procedural textures: value noise, the blend patterns of materials and the resulting albedo."""

from __future__ import annotations

import numpy as np

from autoscale.training.datasets.scenes.compiled import (
    MAT_COLOR,
    MAT_COLOR2,
    MAT_P0,
    MAT_P1,
    MAT_PATTERN,
    MAT_SCALE,
    Compiled,
)
from autoscale.training.datasets.scenes.description import (
    CABIN,
    CHECKER,
    FACADE,
    NOISE,
    NOISE_SIZE,
    PANELS,
    ROAD,
    STRIPES,
    TILES,
    WOOD,
)


def _value_noise(lattice: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Smooth value noise in [0, 1]: bilinear, smoothstep-weighted interpolation of a periodic random lattice."""
    xf, yf = np.floor(x), np.floor(y)
    fx, fy = x - xf, y - yf
    fx = fx * fx * (3 - 2 * fx)
    fy = fy * fy * (3 - 2 * fy)
    size = NOISE_SIZE
    ix = xf.astype(np.int32) & (size - 1)
    row = (yf.astype(np.int32) & (size - 1)) * size
    ix1 = (ix + 1) & (size - 1)
    row1 = (row + size) & (size * size - 1)
    flat = lattice.reshape(-1)
    a, b = flat.take(row + ix), flat.take(row + ix1)
    c, d = flat.take(row1 + ix), flat.take(row1 + ix1)
    top = a + (b - a) * fx
    bottom = c + (d - c) * fx
    return top + (bottom - top) * fy


def _frac(x: np.ndarray) -> np.ndarray:
    """Fractional part, in [0, 1)."""
    return x - np.floor(x)


def _pattern_mix(pattern: int, m: np.ndarray, uv: np.ndarray, nz: np.ndarray, lattice: np.ndarray) -> np.ndarray:
    """Blend weight of color2 over color (n,) for one pattern; u, v in metres on the surface."""
    u, v, eu, ev = uv
    s, p0, p1 = m[MAT_SCALE], m[MAT_P0], m[MAT_P1]
    if pattern == NOISE:
        x, y = u / s, v / s
        return 0.65 * _value_noise(lattice, x, y) + 0.35 * _value_noise(lattice, 2.7 * x + 17, 2.7 * y + 5)
    if pattern == CHECKER:
        return ((np.floor(u / s) + np.floor(v / s)) % 2).astype(np.float32)
    if pattern == STRIPES:
        return (_frac((u * np.cos(p0) + v * np.sin(p0)) / s) < p1).astype(np.float32)
    if pattern == WOOD:
        rings = u / s + 2.0 * _value_noise(lattice, u / (3 * s), v / (12 * s))
        grain = (0.5 + 0.5 * np.sin(6.2832 * rings)) ** 4
        seam = (p0 > 0) & (_frac(u / np.maximum(p0, 1e-3)) < 0.04)
        return np.maximum(grain * 0.8, seam)
    if pattern == TILES:
        grout = (_frac(u / s) < p0) | (_frac(v / s) < p0)
        tile = 0.35 * _value_noise(lattice, np.floor(u / s) * 3.1 + 0.5, np.floor(v / s) * 3.1 + 0.5)
        return np.where(grout, 1.0, tile).astype(np.float32)
    if pattern == FACADE:  # window grid on walls, shop windows on the ground floor, none near wall edges
        cu, cv = _frac(u / s), _frac(v / p1)
        window = (np.abs(cu - 0.5) < p0 / 2) & (cv > 0.3) & (cv < 0.8) & (v > p1) & (v < ev - 0.7)
        window |= (np.abs(_frac(u / (2 * s)) - 0.5) < 0.38) & (v > 0.5) & (v < p1 - 0.6)
        window &= (u > 0.6) & (u < eu - 0.6) & (np.abs(nz) < 0.5)
        dirt = 0.12 * _value_noise(lattice, u / 1.5, v / 1.5)
        return np.where(window, 0.85 + 0.15 * cv, dirt).astype(np.float32)
    if pattern == ROAD:  # p0 = road half width, p1 = lane width; u = 0 on the centre line
        au = np.abs(u)
        dash = _frac(v / 9.0) < 0.4
        centre = (au < 0.08) & dash
        border = np.abs(au - (p0 - 0.3)) < 0.08
        lanes = (np.abs(au - p1) < 0.07) & dash & (p1 < p0 - 1.0)
        asphalt = 0.18 * _value_noise(lattice, u * 2.0, v * 2.0)
        return np.where(centre | border | lanes, 1.0, asphalt).astype(np.float32)
    if pattern == PANELS:  # p0 drawers stacked on a face: frame, grooves between drawers, a handle on each
        rows = ev / p0
        dv = _frac(v / rows)
        groove = (u < 0.025) | (u > eu - 0.025) | (dv * rows < 0.012) | ((1 - dv) * rows < 0.012)
        handle = (np.abs(u - eu / 2) < np.minimum(0.08, eu / 6)) & (np.abs(dv - 0.5) * rows < 0.015)
        return np.where(groove | handle, 1.0, 0.12 * _value_noise(lattice, u / 0.2, v / 0.2)).astype(np.float32)
    if pattern == CABIN:  # glass on the vertical faces, inset from the edges
        glass = (np.abs(nz) < 0.5) & (u > 0.1) & (u < eu - 0.1) & (v > 0.06) & (v < ev - 0.08)
        return glass.astype(np.float32)
    raise ValueError(f"unknown pattern {pattern}")


def surface_albedo(
    comp: Compiled, mat_id: np.ndarray, uv: np.ndarray, nz: np.ndarray, lattice: np.ndarray
) -> np.ndarray:
    """RGB albedo (3, n) from each pixel's material, with a little large-scale grime on every surface."""
    m = comp.materials.take(mat_id, axis=1)
    mix = np.empty(len(mat_id), np.float32)
    patterns = m[MAT_PATTERN].astype(np.int64)
    for pattern in np.flatnonzero(np.bincount(patterns)).tolist():
        sel = np.flatnonzero(patterns == pattern)
        mix[sel] = _pattern_mix(pattern, m.take(sel, axis=1), uv.take(sel, axis=1), nz[sel], lattice)
    grime = 1 - 0.12 * _value_noise(lattice, uv[0] * 0.9 + 31, uv[1] * 0.9 + 7)
    return (m[MAT_COLOR] + (m[MAT_COLOR2] - m[MAT_COLOR]) * mix) * grime
