"""A :class:`Scene` flattened into per-primitive tables (:class:`Compiled`) that the ray casts gather from.

A primitive's parameters are one row of 15 numbers, named by :class:`Params`; arrays that hold many rows are
indexed with the slices :data:`CENTER`, :data:`ROTATION` and :data:`HALF`. Materials are columns of 10 numbers,
indexed with the ``MAT_*`` constants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from autoscale.training.datasets.scenes.description import CYLINDER, GROUND, ROOM, SPHERE, Prim, Scene

FACES = 8  # face-id slots per primitive (boxes use 0..5 = 2 * axis + positive side)

Value = np.float32 | np.ndarray  # one primitive's parameter, or one per (pixel, primitive) pair of a batch


class Params(NamedTuple):
    """One primitive's parameter row: centre, rotation and half size (:class:`Prim`).

    The rotation is local-to-world and row-major (``r01``: row 0, column 1), so column ``j`` is local axis ``j``
    in world coordinates. Half size: half extents (BOX, ROOM, GROUND), radius (SPHERE: ``hx = hy = hz``) or
    radius and half height (CYLINDER: ``hx = hy``, ``hz``).
    """

    cx: Value
    cy: Value
    cz: Value
    r00: Value
    r01: Value
    r02: Value
    r10: Value
    r11: Value
    r12: Value
    r20: Value
    r21: Value
    r22: Value
    hx: Value
    hy: Value
    hz: Value

    @property
    def center(self) -> tuple[Value, Value, Value]:
        """Centre (world metres)."""
        return (self.cx, self.cy, self.cz)

    @property
    def half(self) -> tuple[Value, Value, Value]:
        """Half size along the local x, y, z axes."""
        return (self.hx, self.hy, self.hz)


N_PARAMS = len(Params._fields)
# The same fields as slices of a parameter axis (arrays of many rows); the rotation reshapes to (3, 3).
CENTER, ROTATION, HALF = slice(0, 3), slice(3, 12), slice(12, 15)

# Material table rows (the fields of Material, in order): pattern, color (3), color2 (3), scale, p0, p1.
MAT_PATTERN, MAT_COLOR, MAT_COLOR2, MAT_SCALE, MAT_P0, MAT_P1 = 0, slice(1, 4), slice(4, 7), 7, 8, 9
N_MATERIAL_ROWS = 10


@dataclass
class Compiled:
    """Flat per-primitive tables: parameter rows (:class:`Params`), per-face lookup tables (P, ``FACES``) of
    material and class, per-primitive instance ids, world bounding boxes, the shadow casters, and materials."""

    prims: list[Prim]
    rows: list[Params]  # params as scalars: one primitive's tests then round exactly like batches
    params_t: np.ndarray  # (N_PARAMS, P) copy for per-pixel gathers
    kinds: np.ndarray
    material_lut: np.ndarray
    semantic_lut: np.ndarray
    instance_lut: np.ndarray
    lo: np.ndarray  # (P, 3) world AABB
    hi: np.ndarray
    occluder_prims: np.ndarray  # indices of the primitives of shadow-casting objects ("occluders") ...
    occluder_of: np.ndarray  # ... and the occluder of each
    occluder_lo: np.ndarray  # (Q, 3) their world AABBs
    occluder_hi: np.ndarray
    materials: np.ndarray  # (N_MATERIAL_ROWS, M)


def _per_face(value) -> list[int]:
    """Expand a per-primitive or per-face (6 values) label to the ``FACES`` face slots."""
    values = list(value) if isinstance(value, tuple) else [value] * 6
    return values + [values[0]] * (FACES - len(values))


def _aabbs(params: np.ndarray, kinds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World axis-aligned bounding boxes (P, 3) lo, hi of all primitives from their parameter rows."""
    centre, half = params[:, CENTER].astype(np.float64), params[:, HALF].astype(np.float64)
    rot = params[:, ROTATION].astype(np.float64).reshape(-1, 3, 3)
    ext = np.einsum("pij,pj->pi", np.abs(rot), half)  # boxes, rooms
    axis = rot[:, :, 2]  # cylinder axis (local z) in world coordinates
    radius, half_height = half[:, 0:1], half[:, 2:3]
    cylinder = np.abs(axis) * half_height + radius * np.sqrt(np.clip(1.0 - axis**2, 0.0, 1.0))
    ext = np.where((kinds == CYLINDER)[:, None], cylinder, ext)
    ext = np.where((kinds == SPHERE)[:, None], radius, ext)
    ext = np.where((kinds == GROUND)[:, None], half * [1.0, 1.0, 0.0], ext)
    return centre - ext, centre + ext


def compile_scene(scene: Scene) -> Compiled:
    """The tables of :class:`Compiled` for ``scene``; instance ids number its thing objects 1, 2, ... in order."""
    prims, inst, spans = [], [], []
    next_instance = 1
    for obj in scene.objects:
        spans.append((len(prims), len(prims) + len(obj.prims)))
        inst += [next_instance if obj.thing else 0] * len(obj.prims)
        next_instance += obj.thing
        prims += obj.prims
    params = np.array([[*p.center, *p.rotation, *p.size] for p in prims], np.float32).reshape(-1, N_PARAMS)
    kinds = np.array([p.kind for p in prims], np.int32)
    lo, hi = _aabbs(params, kinds)
    occluders = [
        [i for i in range(start, stop) if kinds[i] not in (ROOM, GROUND)]
        for obj, (start, stop) in zip(scene.objects, spans, strict=True)
        if obj.shadow
    ]
    occluders = [ids for ids in occluders if ids]
    mats = np.array(
        [[m.pattern, *m.color, *m.color2, m.scale, m.p0, m.p1] for m in scene.materials], np.float32
    ).reshape(-1, N_MATERIAL_ROWS)
    return Compiled(
        prims=prims,
        rows=[Params._make(row) for row in params],
        params_t=np.ascontiguousarray(params.T),
        kinds=kinds,
        material_lut=np.array([_per_face(p.material) for p in prims], np.int32).reshape(-1, FACES),
        semantic_lut=np.array([_per_face(p.semantic) for p in prims], np.int16).reshape(-1, FACES),
        instance_lut=np.array(inst, np.int32),
        lo=lo,
        hi=hi,
        occluder_prims=np.array([k for ids in occluders for k in ids], np.int64),
        occluder_of=np.array([j for j, ids in enumerate(occluders) for _ in ids], np.int64),
        occluder_lo=np.array([lo[ids].min(0) for ids in occluders]).reshape(-1, 3),
        occluder_hi=np.array([hi[ids].max(0) for ids in occluders]).reshape(-1, 3),
        materials=np.ascontiguousarray(mats.T),
    )
