"""Ray-primitive intersection tests, one per primitive kind (:data:`HIT`).

A hit test returns the entry distance ``t > 0`` along ``d`` (``np.inf`` for a miss). ``p`` is a primitive's
:class:`~autoscale.training.datasets.scenes.compiled.Params` of float32 scalars, or of arrays for a batch of
(pixel, primitive) pairs; ``o`` and ``d`` are triples of scalars or float32 arrays; ``dd = |d|^2``. Primary rays
share one origin, so for them many terms stay scalar. Scalar and batched evaluation round identically (float32
throughout).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autoscale.training.datasets.scenes.compiled import Params
from autoscale.training.datasets.scenes.description import BOX, CYLINDER, GROUND, ROOM, SPHERE

Vec3 = Sequence[Any]  # three float32 scalars or arrays


def dot3(a: Vec3, x: Vec3) -> Any:
    """a . x for a constant 3-vector a, skipping zero terms (axis-aligned primitives then cost nothing)."""
    out = None
    for ai, xi in zip(a, x, strict=True):
        scalar = not isinstance(ai, np.ndarray)
        if scalar and ai == 0:
            continue
        term = xi if scalar and ai == 1 else ai * xi
        out = term if out is None else out + term
    return 0.0 if out is None else out


def _local_ray(p: Params, o: Vec3, d: Vec3) -> tuple[Vec3, Vec3]:
    """Ray origin and direction in the primitive frame: R^T (o - c), R^T d."""
    w = (o[0] - p.cx, o[1] - p.cy, o[2] - p.cz)
    if not isinstance(p.r00, np.ndarray) and p.r00 == p.r11 == p.r22 == 1:  # identity rotation
        return w, d
    cols = ((p.r00, p.r10, p.r20), (p.r01, p.r11, p.r21), (p.r02, p.r12, p.r22))
    return [dot3(c, w) for c in cols], [dot3(c, d) for c in cols]


def _slabs(lo, hi, w, d):
    """Entry/exit distances of the slab ``lo <= w + t d <= hi``."""
    if np.ndim(d) == 0:  # one direction for all rays (sun shadows): its sign says which plane comes first
        if d == 0:
            inside = (w >= lo) & (w <= hi)
            return np.where(inside, -np.inf, np.inf), np.where(inside, np.inf, -np.inf)
        t1, t2 = (lo - w) * (1 / d), (hi - w) * (1 / d)
        return (t1, t2) if d > 0 else (t2, t1)
    inv = 1.0 / d
    t1 = (lo - w) * inv
    t2 = (hi - w) * inv
    return np.minimum(t1, t2), np.maximum(t1, t2)


def _hit_box(p: Params, o: Vec3, d: Vec3, dd: Any) -> Any:
    """Oriented box: the intersection of three slabs in the box frame."""
    wl, dl = _local_ray(p, o, d)
    half = p.half
    near, far = _slabs(-half[0], half[0], wl[0], dl[0])
    for i in (1, 2):
        n_i, f_i = _slabs(-half[i], half[i], wl[i], dl[i])
        near = np.maximum(near, n_i)
        far = np.minimum(far, f_i)
    return np.where((near <= far) & (near > 0), near, np.inf)


def _hit_sphere(p: Params, o: Vec3, d: Vec3, dd: Any) -> Any:
    """Sphere of radius ``hx``: the nearer root of the quadratic."""
    w = (o[0] - p.cx, o[1] - p.cy, o[2] - p.cz)
    b = dot3((1.0, 1.0, 1.0), [w[i] * d[i] for i in range(3)])
    c = w[0] * w[0] + w[1] * w[1] + w[2] * w[2] - p.hx * p.hx
    t = -(b + np.sqrt(b * b - dd * c)) / dd  # nearer root; NaN (no root) compares False below
    return np.where(t > 0, t, np.inf)


def _hit_cylinder(p: Params, o: Vec3, d: Vec3, dd: Any) -> Any:
    """Finite cylinder = (infinite cylinder interval) intersected with (axial slab)."""
    wl, dl = _local_ray(p, o, d)
    radius, half_height = p.hx, p.hz
    a = dl[0] * dl[0] + dl[1] * dl[1]
    b = wl[0] * dl[0] + wl[1] * dl[1]
    c = wl[0] * wl[0] + wl[1] * wl[1] - radius * radius
    root = np.sqrt(b * b - a * c)
    near = -(b + root) / a
    far = (root - b) / a
    s_near, s_far = _slabs(-half_height, half_height, wl[2], dl[2])
    near = np.maximum(near, s_near)
    far = np.minimum(far, s_far)
    return np.where((near <= far) & (near > 0), near, np.inf)


def _hit_room(p: Params, o: Vec3, d: Vec3, dd: Any) -> Any:
    """Exit distance from an axis-aligned box containing the ray origin (walls seen from inside)."""
    t = None
    for c, h, oi, di in zip(p.center, p.half, o, d, strict=True):
        lo, hi = c - h - oi, c + h - oi
        ti = np.where(di > 0, hi, lo) / di
        t = ti if t is None else np.minimum(t, ti)
    return np.where(t > 0, t, np.inf)


def _hit_ground(p: Params, o: Vec3, d: Vec3, dd: Any) -> Any:
    """Horizontal rectangle ``z = cz``, ``|x - cx| <= hx``, ``|y - cy| <= hy`` (axis aligned)."""
    t = (p.cz - o[2]) / d[2]
    x = (o[0] - p.cx) + t * d[0]
    y = (o[1] - p.cy) + t * d[1]
    inside = (t > 0) & (np.abs(x) <= p.hx) & (np.abs(y) <= p.hy)
    return np.where(inside, t, np.inf)


HIT: dict[int, Callable[[Params, Vec3, Vec3, Any], Any]] = {
    BOX: _hit_box,
    SPHERE: _hit_sphere,
    CYLINDER: _hit_cylinder,
    ROOM: _hit_room,
    GROUND: _hit_ground,
}
