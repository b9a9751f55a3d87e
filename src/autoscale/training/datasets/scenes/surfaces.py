"""Surface geometry at hit points: world normal, face slot and texture coordinates, per primitive kind."""

from __future__ import annotations

import functools

import numpy as np

from autoscale.training.datasets.scenes.compiled import CENTER, HALF, ROTATION, Compiled
from autoscale.training.datasets.scenes.description import BOX, CYLINDER, GROUND, ROOM, SPHERE

Surface = tuple[np.ndarray, np.ndarray, np.ndarray]  # normal (3, n), face slot (n,), texture coordinates (4, n)

# Texture axes (u, v) of the faces of a box, by face axis: x faces use (y, z), y faces (x, z), z faces (x, y).
_U_AXIS = np.array([1, 0, 0])
_V_AXIS = np.array([2, 2, 1])


def _rotation(prm: np.ndarray) -> np.ndarray:
    """Rotations (3, 3, n) of parameter columns (N_PARAMS, n): ``[i, j]`` is row i, column j."""
    return prm[ROTATION].reshape(3, 3, -1)


def _to_local(prm: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """R^T vec for per-pixel parameter columns (N_PARAMS, n) and vectors (3, n)."""
    rot = _rotation(prm)
    return np.stack([rot[0, j] * vec[0] + rot[1, j] * vec[1] + rot[2, j] * vec[2] for j in range(3)])


def _to_world(prm: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """R vec for per-pixel parameter columns (N_PARAMS, n) and vectors (3, n)."""
    rot = _rotation(prm)
    return np.stack([rot[i, 0] * vec[0] + rot[i, 1] * vec[1] + rot[i, 2] * vec[2] for i in range(3)])


def _surface_box(prm: np.ndarray, pl: np.ndarray, dl: np.ndarray, inside: bool) -> Surface:
    """Faces of a box (or of a room seen from inside): the visible face is the one whose plane the hit point
    lies on (|p_i| / h_i largest) among the faces turned towards the ray."""
    prm = np.broadcast_to(prm, (prm.shape[0], pl.shape[1]))
    h = prm[HALF]
    facing = (pl * dl > 0) if inside else (pl * dl < 0)
    axis = np.argmax(np.where(facing, np.abs(pl) / h, np.float32(-1)), axis=0)
    cols = np.arange(len(axis))
    positive = pl[axis, cols] > 0
    outward = np.where(positive != inside, np.float32(1), np.float32(-1))
    normal = _rotation(prm)[:, axis, cols] * outward  # world direction of the local axis
    corner = pl + h  # texture coordinates in metres from the face's lower corner
    ua, va = _U_AXIS[axis], _V_AXIS[axis]
    return normal, 2 * axis + positive, np.stack([corner[ua, cols], corner[va, cols], 2 * h[ua, cols], 2 * h[va, cols]])


def _surface_sphere(prm: np.ndarray, pl: np.ndarray, dl: np.ndarray) -> Surface:
    """Radial normal; u along the equator and v along a meridian, both in metres."""
    r = prm[HALF][0]
    unit = pl / r
    zero = np.zeros(pl.shape[1], np.float32)
    uv = np.stack([r * np.arctan2(unit[1], unit[0]), r * np.arcsin(np.clip(unit[2], -1, 1)), zero, zero])
    return _to_world(prm, unit), np.zeros(pl.shape[1], np.int64), uv


def _surface_cylinder(prm: np.ndarray, pl: np.ndarray, dl: np.ndarray) -> Surface:
    """Side or cap, whichever surface the hit point lies on among those turned towards the ray."""
    r, _, h = prm[HALF]  # radius, radius, half height
    radial = np.sqrt(pl[0] ** 2 + pl[1] ** 2)
    side_score = np.where(pl[0] * dl[0] + pl[1] * dl[1] < 0, radial / r, np.float32(-1))
    cap = np.where(pl[2] * dl[2] < 0, np.abs(pl[2]) / h, np.float32(-1)) > side_score
    up = pl[2] > 0
    zero = np.zeros(pl.shape[1], np.float32)
    inv = 1 / np.maximum(radial, np.float32(1e-6))
    local = np.where(
        cap,
        np.stack([zero, zero, np.where(up, np.float32(1), np.float32(-1))]),
        np.stack([pl[0] * inv, pl[1] * inv, zero]),
    )
    uv = np.stack([np.where(cap, pl[0], r * np.arctan2(pl[1], pl[0])), np.where(cap, pl[1], pl[2] + h), zero, zero])
    return _to_world(prm, local), np.where(cap, 1 + up, 0), uv


def _surface_ground(prm: np.ndarray, pl: np.ndarray, dl: np.ndarray) -> Surface:
    """The plane's local z axis as normal, face 5 (top, as on a box), local x and y as texture coordinates."""
    n = pl.shape[1]
    zero = np.zeros(n, np.float32)
    return _rotation(prm)[:, 2], np.full(n, 5), np.stack([pl[0], pl[1], zero, zero])


_SURFACE = {
    BOX: functools.partial(_surface_box, inside=False),
    SPHERE: _surface_sphere,
    CYLINDER: _surface_cylinder,
    ROOM: functools.partial(_surface_box, inside=True),
    GROUND: _surface_ground,
}
MISS = len(_SURFACE)  # pseudo primitive kind of pixels that hit nothing


def surface_geometry(
    comp: Compiled, pid: np.ndarray, points: np.ndarray, rays: np.ndarray, bounds: np.ndarray
) -> Surface:
    """World normal (3, n), face slot and texture coordinates (4, n: u, v and the face extents eu, ev of boxes)
    of hit pixels sorted by primitive kind (kind k occupies ``bounds[k]:bounds[k + 1]``), batched per kind."""
    n = pid.shape[0]
    normal = np.empty((3, n), np.float32)
    face = np.empty(n, np.int64)
    uv = np.empty((4, n), np.float32)
    for kind, surface in _SURFACE.items():
        a, b = int(bounds[kind]), int(bounds[kind + 1])
        if a == b:
            continue
        ids = pid[a:b]
        single = ids.min() == ids.max()  # one primitive (room, ground): broadcast its parameters
        prm = comp.params_t[:, ids[0] : ids[0] + 1] if single else comp.params_t.take(ids, axis=1)
        pl = _to_local(prm, points[:, a:b] - prm[CENTER])
        dl = _to_local(prm, rays[:, a:b])
        normal[:, a:b], face[a:b], uv[:, a:b] = surface(prm, pl, dl)
    return normal, face, uv
