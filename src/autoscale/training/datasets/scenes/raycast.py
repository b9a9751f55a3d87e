"""Ray casting with screen-space culling: primary rays (nearest hit per pixel) and shadow rays (blocked or not).

Every primitive is intersected with the rays of the pixel rectangle its bounding box projects to (shadow rays:
the rectangle of its shadow volume); primitives with small rectangles are intersected together in batches.
"""

from __future__ import annotations

import functools

import numpy as np

from autoscale.training.datasets.scenes.compiled import Compiled, Params
from autoscale.training.datasets.scenes.description import BOX, CYLINDER, SPHERE, Camera, Light
from autoscale.training.datasets.scenes.intersect import HIT

_NEAR = 0.05  # near plane (m) against which bounding boxes are clipped before projection
_BATCH_AREA = 600  # primitives covering fewer pixels are intersected in batches (see _batches)
_BATCHED_KINDS = (BOX, SPHERE, CYLINDER)


@functools.lru_cache(maxsize=16)
def ray_grid(height: int, width: int, focal: float) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame ray directions (3, H, W) with z = 1 through pixel centres, and their squared norms."""
    x = (np.arange(width, dtype=np.float32) + 0.5 - width / 2) / focal
    y = (np.arange(height, dtype=np.float32) + 0.5 - height / 2) / focal
    grid = np.stack(np.broadcast_arrays(x[None, :], y[:, None], np.ones((1, 1), np.float32))).astype(np.float32)
    sq = (grid**2).sum(0)
    grid.setflags(write=False)
    sq.setflags(write=False)
    return grid, sq


_BOX_EDGES = np.array([[a, b] for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count("1") == 1])
_CORNER_BITS = np.array([[(i >> k) & 1 for k in range(3)] for i in range(8)], np.float64)


def screen_rects(
    lo: np.ndarray,
    hi: np.ndarray,
    cam: Camera,
    rot: np.ndarray,
    height: int,
    width: int,
    full: np.ndarray | None = None,
) -> np.ndarray:
    """Conservative pixel rectangles (r0, r1, c0, c1) covering the projections of world AABBs (P, 3) lo, hi.

    Boxes crossing the near plane are clipped there first (the projection of the clipped box is spanned by its
    corners in front and the points where its edges cross the plane); rows flagged in ``full`` cover the frame.
    """
    focal = cam.focal_ratio * width
    corners = lo[:, None, :] + _CORNER_BITS[None] * (hi - lo)[:, None, :]
    pc = (corners - np.array(cam.position)) @ rot  # camera coordinates (P, 8, 3)
    front = pc[..., 2] > _NEAR
    with np.errstate(divide="ignore", invalid="ignore"):
        u = focal * pc[..., 0] / pc[..., 2] + width / 2
        v = focal * pc[..., 1] / pc[..., 2] + height / 2
    bounds = np.stack([v.min(1), v.max(1), u.min(1), u.max(1)], axis=1)
    for k in np.flatnonzero(front.any(1) & ~front.all(1)).tolist():
        pts = pc[k]
        a, b = pts[_BOX_EDGES[:, 0]], pts[_BOX_EDGES[:, 1]]
        cross = (a[:, 2] > _NEAR) != (b[:, 2] > _NEAR)
        s = (_NEAR - a[cross, 2]) / (b[cross, 2] - a[cross, 2])
        pts = np.concatenate([pts[front[k]], a[cross] + s[:, None] * (b[cross] - a[cross])])
        pu = focal * pts[:, 0] / pts[:, 2] + width / 2
        pv = focal * pts[:, 1] / pts[:, 2] + height / 2
        bounds[k] = (pv.min(), pv.max(), pu.min(), pu.max())
    if full is not None:
        bounds[full] = (0, height, 0, width)
    limits = np.array([height, height, width, width], np.float64)
    margin = np.array([-1, 2, -1, 2], np.float64)  # one pixel of slack around the pixel-centre bounds
    rects = np.clip(np.floor(bounds) + margin, 0, limits).astype(np.int64)
    rects[~front.any(1)] = 0
    return rects


def _rect_pixels(rects: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of the pixels of all rectangles (r0, r1, c0, c1), concatenated, and the rectangle of each."""
    heights, widths = rects[:, 1] - rects[:, 0], rects[:, 3] - rects[:, 2]
    area = heights * widths
    owner = np.repeat(np.arange(len(rects)), area)
    local = np.arange(area.sum()) - np.repeat(np.cumsum(area) - area, area)
    rows = rects[owner, 0] + local // widths[owner]
    return rows * width + rects[owner, 2] + local % widths[owner], owner


def _batches(comp: Compiled, prims: np.ndarray, rects: np.ndarray) -> tuple[list[int], list[tuple[int, np.ndarray]]]:
    """Split primitives into those cast one by one on their rectangle and, per kind, batches of small ones.

    A hit test costs about 25 numpy calls whatever its size, so primitives whose rectangle is small
    (``_BATCH_AREA`` pixels) are tested together on their concatenated (pixel, primitive) pairs instead.
    """
    area = np.clip(rects[:, 1] - rects[:, 0], 0, None) * np.clip(rects[:, 3] - rects[:, 2], 0, None)
    small = (area <= _BATCH_AREA) & np.isin(comp.kinds[prims], _BATCHED_KINDS)
    single = np.flatnonzero((area > 0) & ~small).tolist()
    batches = []
    for kind in _BATCHED_KINDS:
        members = np.flatnonzero(small & (area > 0) & (comp.kinds[prims] == kind))
        if len(members):
            batches.append((kind, members))
    return single, batches


def cast_primary(
    comp: Compiled, origin: tuple[float, float, float], rays: np.ndarray, sq: np.ndarray, rects: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest hit per pixel: depth (inf = miss) and primitive index (-1 = miss); ties go to the lower index."""
    height, width = sq.shape
    depth = np.full((height, width), np.inf, np.float32)
    pid = np.full((height, width), -1, np.int32)
    single, batches = _batches(comp, np.arange(len(comp.prims)), rects)
    for k in single:
        r0, r1, c0, c1 = rects[k].tolist()
        d = rays[:, r0:r1, c0:c1]
        t = HIT[comp.prims[k].kind](comp.rows[k], origin, (d[0], d[1], d[2]), sq[r0:r1, c0:c1])
        best = depth[r0:r1, c0:c1]
        closer = t < best
        np.copyto(best, t, where=closer)
        pid[r0:r1, c0:c1][closer] = k
    flat_depth, flat_pid = depth.reshape(-1), pid.reshape(-1)
    for kind, members in batches:
        pix, owner = _rect_pixels(rects[members], width)
        prim = members[owner]
        d = rays.reshape(3, -1).take(pix, axis=1)
        t = HIT[kind](Params._make(comp.params_t.take(prim, axis=1)), origin, tuple(d), sq.reshape(-1).take(pix))
        old_t, old_pid = flat_depth[pix], flat_pid[pix]
        win = np.flatnonzero((t < old_t) | ((t == old_t) & (prim < old_pid)))
        win = win[np.lexsort((prim[win], t[win], pix[win]))]  # per pixel: nearest, then lowest index first
        first = np.ones(len(win), bool)
        first[1:] = pix[win[1:]] != pix[win[:-1]]
        win = win[first]
        flat_depth[pix[win]], flat_pid[pix[win]] = t[win], prim[win]
    return depth, pid


def shadow_boxes(comp: Compiled, light: Light) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World AABBs of the shadow volumes of all occluders, assuming all receivers lie at z >= 0.

    A sun shadow is the occluder swept along -l down to z = 0; a point-light shadow lies within the hull of the
    occluder and its corners projected from the light onto z = 0 (flagged as unbounded when the occluder
    reaches above the light).
    """
    lo, hi = comp.occluder_lo, comp.occluder_hi
    if not light.point:
        sweep = (hi[:, 2:3] / light.vector[2]) * np.array(light.vector)
        return np.minimum(lo, lo - sweep), np.maximum(hi, hi - sweep), np.zeros(len(lo), bool)
    lamp = np.array(light.vector)
    corners = lo[:, None, :] + _CORNER_BITS[None] * (hi - lo)[:, None, :]
    above = corners[..., 2] < lamp[2] - 1e-3
    scale = lamp[2] / np.where(above, lamp[2] - corners[..., 2], 1.0)
    ground = lamp + (corners - lamp) * scale[..., None]
    return np.minimum(lo, ground.min(1)), np.maximum(hi, ground.max(1)), ~above.all(1)


def shadowed(
    comp: Compiled,
    light: Light,
    origin: np.ndarray,
    to_light: np.ndarray | tuple[np.float32, np.float32, np.float32],
    dist: np.ndarray | None,
    receivers: np.ndarray,
    rects: np.ndarray,
) -> np.ndarray:
    """True where the shadow ray ``origin + t to_light`` (image-shaped arrays) hits an occluder before the light
    (t < dist). Each occluder's primitives are only tested on the pixels of its shadow volume's screen rectangle."""
    shadow = np.zeros(receivers.shape, bool)
    prim_rects = rects[comp.occluder_of]  # rectangle of each occluding primitive
    single, batches = _batches(comp, comp.occluder_prims, prim_rects)
    for j in single:
        r0, r1, c0, c1 = prim_rects[j].tolist()
        o = (origin[0, r0:r1, c0:c1], origin[1, r0:r1, c0:c1], origin[2, r0:r1, c0:c1])
        if light.point:
            d = (to_light[0, r0:r1, c0:c1], to_light[1, r0:r1, c0:c1], to_light[2, r0:r1, c0:c1])
            limit = dist[r0:r1, c0:c1]
        else:
            d, limit = to_light, np.inf
        k = int(comp.occluder_prims[j])
        shadow[r0:r1, c0:c1] |= HIT[comp.prims[k].kind](comp.rows[k], o, d, 1.0) < limit
    flat = shadow.reshape(-1)
    for kind, members in batches:
        pix, owner = _rect_pixels(prim_rects[members], receivers.shape[1])
        keep = np.flatnonzero(receivers.reshape(-1)[pix])
        pix, prim = pix[keep], comp.occluder_prims[members[owner[keep]]]
        o = tuple(origin.reshape(3, -1).take(pix, axis=1))
        if light.point:
            d, limit = tuple(to_light.reshape(3, -1).take(pix, axis=1)), dist.reshape(-1).take(pix)
        else:
            d, limit = to_light, np.inf
        t = HIT[kind](Params._make(comp.params_t.take(prim, axis=1)), o, d, 1.0)
        flat[pix[t < limit]] = True
    return shadow & receivers
