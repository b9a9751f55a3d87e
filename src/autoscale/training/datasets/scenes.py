"""Procedural indoor and street scenes, ray cast with vectorised numpy.

:func:`render` draws ``n`` random scenes of one kind and returns dense labels for every pixel: RGB, depth,
camera-frame normals, semantic classes, instance ids, geometric edges and (street) stereo disparity. It is the
offline stand-in for NYUv2 (``"indoor"``) and CityScapes (``"street"``).

Conventions
-----------
* World frame: x right, y forward (along the street / into the room), z up; the floor or road is ``z = 0``.
* Camera frame: x right, y down, z forward (OpenCV). A pixel ``(r, c)`` looks along
  ``((c + 0.5 - W/2) / f, (r + 0.5 - H/2) / f, 1)`` in the camera frame; casting that unnormalised ray makes the
  ray parameter ``t`` equal to the depth along the camera z axis. Yaw 0 looks along +y, positive yaw turns right,
  positive pitch looks up.
* Focal length in pixels is a fixed fraction of the image width: NYUv2's Kinect (518.86 px at 640 px width) for
  indoor, CityScapes (2262.52 px at 2048 px width) for street. Street disparity is
  ``STEREO_BASELINE * f / depth`` with the CityScapes baseline of 0.209 m.
* ``depth`` is 0 and ``normal`` is the zero vector where a ray hits nothing (street sky). Normals are unit vectors
  in the camera frame that face the camera: ``dot(normal, ray) < 0``.
* ``semantic``: indices into :data:`INDOOR_CLASSES` / :data:`STREET_CLASSES`. Rooms are closed, so every indoor
  pixel has a class; on the street the sky is a class of its own (as in CityScapes) and is exactly the set of
  pixels with depth 0. The ignore value ``IGNORE = -1`` is reserved for consumers and never produced here.
* ``instance``: 0 for background ("stuff"), 1..m for the visible countable objects ("things") of one image,
  numbered in scene order: cabinets, tables and balls indoors; cars and persons on the street (poles and trees
  are stuff, as in CityScapes).
* ``edge``: 1 on occlusion boundaries and creases. Every primitive face carries an id; where two neighbouring
  pixels show different faces (another object, another primitive of the same object, or another face of a box)
  the pixel nearer to the camera is marked, which yields one-pixel lines on the occluding side.

  Texture boundaries (lane markings, windows) are not edges.

Scenes
------
* ``"indoor"``: a closed room (3.6-7.2 m wide, 4.6-8 m deep, 2.5-3.2 m high; floor of tiles, planks, carpet or
  checks; plain, striped or checked walls) seen from near its back wall (camera 1.1-1.8 m high, pitched 7-29
  degrees down, yaw within 34 degrees), with 2-6 cabinets, tables (top and four legs) and balls, some balls
  resting on a cabinet or table; a lamp under the ceiling casts shadows.
* ``"street"``: a straight road (3.5-7 m half width, dashed centre line, lane and edge lines) between 0.15 m kerbs
  and sidewalks, two rows of façades with windows up to 220 m ahead (beyond, only sky), parked and driving cars
  (body, cabin with windows, wheels), trees (trunk and crown), lamp poles and pedestrians on the sidewalks or
  crossing; a sun 26-63 degrees high casts shadows; distant surfaces fade into haze. Lane markings are road,
  kerb faces sidewalk, wheels and windows car.

Every scene ``i`` draws from ``np.random.default_rng(np.random.SeedSequence([seed, i]))``, so scene ``i`` does
not depend on ``n`` and identical arguments give identical bytes (on one machine: numpy's vectorised sin/exp
kernels may round differently on other CPUs). Shading is Lambertian with an ambient term; cast shadows come from
shadow rays against the same primitives.

Implementation: every primitive is intersected with the rays of the pixel rectangle its bounding box projects to
(shadow rays: the rectangle of its shadow volume), then surfaces, textures and lights are evaluated once per
pixel, batched over primitive kinds and texture patterns. :func:`_render_scene` renders an explicit
:class:`Scene` (the tests place cameras and primitives by hand).
"""

from __future__ import annotations

import colorsys
import functools
import math
from dataclasses import dataclass, field

import numpy as np

INDOOR_CLASSES = ("floor", "wall", "ceiling", "cabinet", "table", "ball")
STREET_CLASSES = ("road", "sidewalk", "building", "pole", "vegetation", "car", "person", "sky")
KINDS = ("indoor", "street")
IGNORE = -1

INDOOR_FOCAL_RATIO = 518.86 / 640.0
STREET_FOCAL_RATIO = 2262.52 / 2048.0
STEREO_BASELINE = 0.209

# primitive kinds
BOX, SPHERE, CYLINDER, ROOM, GROUND = range(5)
# Texture patterns, each a blend weight between Material.color and .color2 (lengths in metres):
# NOISE two octaves of value noise of feature size `scale`; CHECKER squares of side `scale`; STRIPES bands of
# width p1 * scale repeating every `scale` along the direction at angle p0 in (u, v); WOOD grain rings every
# `scale`, plank seams every p0 (0: none); TILES tiles of side `scale` with grout lines of width p0 * scale;
# FACADE window columns every `scale` (width p0 * scale) on storeys of height p1 above shop windows, none near
# the wall edges; ROAD asphalt with a dashed centre line, dashed lane lines at +-p1 and edge lines near the half
# width p0; CABIN glass panes on the vertical faces of a box; PANELS a face divided into p0 drawers (frame,
# grooves and handles in color2).
NOISE, CHECKER, STRIPES, WOOD, TILES, FACADE, ROAD, CABIN, PANELS = range(9)

_FACES = 8  # face-id slots per primitive (boxes use 0..5 = 2 * axis + positive side)
_NEAR = 0.05
_IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
_NOISE_SIZE = 64
_BATCH_AREA = 600  # primitives covering fewer pixels are intersected in batches (see _batches)
_BATCHED_KINDS = (BOX, SPHERE, CYLINDER)


# --------------------------------------------------------------------------------------------- scene description
@dataclass(frozen=True)
class Camera:
    """Pinhole camera at ``position`` (world metres); focal length in pixels is ``focal_ratio * width``."""

    position: tuple[float, float, float]
    yaw: float = 0.0
    pitch: float = 0.0
    focal_ratio: float = INDOOR_FOCAL_RATIO

    def rotation(self) -> np.ndarray:
        """Camera-to-world rotation; its columns are the camera x (right), y (down) and z (forward) axes."""
        cy, sy, cp, sp = math.cos(self.yaw), math.sin(self.yaw), math.cos(self.pitch), math.sin(self.pitch)
        forward = np.array([sy * cp, cy * cp, sp])
        right = np.array([cy, -sy, 0.0])
        return np.stack([right, np.cross(forward, right), forward], axis=1)


@dataclass(frozen=True)
class Light:
    """A sun (``point=False``: ``vector`` points towards it) or a point light at ``vector``.

    Radiance of a lit surface is ``albedo * (ambient * (0.8 + 0.2 n_z) + intensity * max(0, n.l) * visible)``,
    divided for point lights by ``1 + (distance * falloff)^2``.
    """

    vector: tuple[float, float, float]  # a sun must be above the horizon (z > 0)
    point: bool = False
    intensity: float = 0.8
    ambient: float = 0.4
    falloff: float = 0.0


@dataclass(frozen=True)
class Material:
    """Procedural texture: ``pattern`` mixes ``color`` and ``color2``; ``scale`` (m) and ``p0``/``p1`` tune it."""

    pattern: int
    color: tuple[float, float, float]
    color2: tuple[float, float, float]
    scale: float = 1.0
    p0: float = 0.0
    p1: float = 0.0


@dataclass(frozen=True)
class Prim:
    """One primitive in its local frame (``rotation``: local-to-world, row-major, columns = local axes).

    ``size``: half extents for BOX / ROOM (axis aligned, seen from inside) / GROUND (axis-aligned rectangle
    ``z = center_z``, uses x, y);
    ``(r, r, r)`` for SPHERE; ``(r, r, half_height)`` for CYLINDER (axis = local z). ``material`` and
    ``semantic`` are one value or one per face (6 for BOX and ROOM).
    """

    kind: int
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    material: int | tuple[int, ...] = 0
    semantic: int | tuple[int, ...] = 0
    rotation: tuple[float, ...] = _IDENTITY


@dataclass
class SceneObject:
    """A group of primitives forming one object; ``thing`` objects get an instance id."""

    prims: list[Prim]
    thing: bool = False
    shadow: bool = True


@dataclass
class Scene:
    """Everything :func:`_render_scene` needs: camera, light, objects, the materials they index, and for open
    scenes a sky (rays that hit nothing get the sky colour and the last class, "sky"). ``noise`` is the random
    lattice of the value-noise textures."""

    camera: Camera
    light: Light
    objects: list[SceneObject]
    materials: list[Material]
    sky: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None  # (zenith, horizon)
    haze: float = 0.0  # 1/m: exponential blend of distant surfaces towards the horizon colour
    noise: np.ndarray = field(default_factory=lambda: np.full((_NOISE_SIZE, _NOISE_SIZE), 0.5, np.float32))


def yaw_rotation(yaw: float, axis_along: str = "z") -> tuple[float, ...]:
    """Row-major rotation by ``yaw`` about world z (positive turns right, like the camera).

    ``axis_along="x"`` additionally cycles the axes so that local z lies along the turned x axis (horizontal
    cylinders such as wheels): local (x, y, z) = turned (y, z, x), still a proper rotation.
    """
    c, s = math.cos(yaw), math.sin(yaw)
    cols = [(c, -s, 0.0), (s, c, 0.0), (0.0, 0.0, 1.0)]  # turned x, y, z axes in world coordinates
    if axis_along == "x":
        cols = [cols[1], cols[2], cols[0]]
    vals = [cols[j][i] for i in range(3) for j in range(3)]
    return tuple(0.0 if abs(v) < 1e-9 else v for v in vals)


# ------------------------------------------------------------------------------------------ ray intersections
# Hit functions return the entry distance t > 0 along d (np.inf for a miss). ``p`` is a primitive's parameter
# row (centre, row-major rotation, size) as float32 scalars, or as arrays for a batch of (pixel, primitive)
# pairs; ``o`` and ``d`` are triples of scalars or float32 arrays; ``dd = |d|^2``. Primary rays share one origin,
# so for them many terms stay scalar. Scalar and batched evaluation round identically (float32 throughout).


def _dot3(a, x):
    """a . x for a constant 3-vector a, skipping zero terms (axis-aligned primitives then cost nothing)."""
    out = None
    for ai, xi in zip(a, x, strict=True):
        scalar = not isinstance(ai, np.ndarray)
        if scalar and ai == 0:
            continue
        term = xi if scalar and ai == 1 else ai * xi
        out = term if out is None else out + term
    return 0.0 if out is None else out


def _local_ray(p, o, d):
    """Ray origin and direction in the primitive frame: R^T (o - c), R^T d."""
    w = (o[0] - p[0], o[1] - p[1], o[2] - p[2])
    if not isinstance(p[3], np.ndarray) and p[3] == p[7] == p[11] == 1:  # identity rotation
        return w, d
    cols = ((p[3], p[6], p[9]), (p[4], p[7], p[10]), (p[5], p[8], p[11]))
    return [_dot3(c, w) for c in cols], [_dot3(c, d) for c in cols]


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


def _hit_box(p, o, d, dd):
    wl, dl = _local_ray(p, o, d)
    near, far = _slabs(-p[12], p[12], wl[0], dl[0])
    for i in (1, 2):
        n_i, f_i = _slabs(-p[12 + i], p[12 + i], wl[i], dl[i])
        near = np.maximum(near, n_i)
        far = np.minimum(far, f_i)
    return np.where((near <= far) & (near > 0), near, np.inf)


def _hit_sphere(p, o, d, dd):
    w = (o[0] - p[0], o[1] - p[1], o[2] - p[2])
    b = _dot3((1.0, 1.0, 1.0), [w[i] * d[i] for i in range(3)])
    c = w[0] * w[0] + w[1] * w[1] + w[2] * w[2] - p[12] * p[12]
    t = -(b + np.sqrt(b * b - dd * c)) / dd  # nearer root; NaN (no root) compares False below
    return np.where(t > 0, t, np.inf)


def _hit_cylinder(p, o, d, dd):
    """Finite cylinder = (infinite cylinder interval) intersected with (axial slab)."""
    wl, dl = _local_ray(p, o, d)
    a = dl[0] * dl[0] + dl[1] * dl[1]
    b = wl[0] * dl[0] + wl[1] * dl[1]
    c = wl[0] * wl[0] + wl[1] * wl[1] - p[12] * p[12]
    root = np.sqrt(b * b - a * c)
    near = -(b + root) / a
    far = (root - b) / a
    s_near, s_far = _slabs(-p[14], p[14], wl[2], dl[2])
    near = np.maximum(near, s_near)
    far = np.minimum(far, s_far)
    return np.where((near <= far) & (near > 0), near, np.inf)


def _hit_room(p, o, d, dd):
    """Exit distance from an axis-aligned box containing the ray origin (walls seen from inside)."""
    t = None
    for i in range(3):
        lo, hi = p[i] - p[12 + i] - o[i], p[i] + p[12 + i] - o[i]
        ti = np.where(d[i] > 0, hi, lo) / d[i]
        t = ti if t is None else np.minimum(t, ti)
    return np.where(t > 0, t, np.inf)


def _hit_ground(p, o, d, dd):
    """Horizontal rectangle ``z = c_z``, ``|x - c_x| <= h_x``, ``|y - c_y| <= h_y`` (axis aligned)."""
    t = (p[2] - o[2]) / d[2]
    x = (o[0] - p[0]) + t * d[0]
    y = (o[1] - p[1]) + t * d[1]
    inside = (t > 0) & (np.abs(x) <= p[12]) & (np.abs(y) <= p[13])
    return np.where(inside, t, np.inf)


_HIT = {BOX: _hit_box, SPHERE: _hit_sphere, CYLINDER: _hit_cylinder, ROOM: _hit_room, GROUND: _hit_ground}


# ---------------------------------------------------------------------------------------- scene compilation
@dataclass
class _Compiled:
    """Flat per-primitive tables: parameter rows (P, 15) = centre, rotation (row-major), size; per-face lookup
    tables (P, 8) of material and class; per-primitive instance ids."""

    prims: list[Prim]
    rows: list[list[np.float32]]  # params as scalars: one primitive's tests then round exactly like batches
    params_t: np.ndarray  # (15, P) copy for per-pixel gathers
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
    materials: np.ndarray  # (10, M): pattern, color, color2, scale, p0, p1


def _per_face(value) -> list[int]:
    """Expand a per-primitive or per-face (6 values) label to the ``_FACES`` face slots."""
    values = list(value) if isinstance(value, tuple) else [value] * 6
    return values + [values[0]] * (_FACES - len(values))


def _aabbs(params: np.ndarray, kinds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World axis-aligned bounding boxes (P, 3) lo, hi of all primitives from their parameter rows."""
    centre, size = params[:, 0:3].astype(np.float64), params[:, 12:15].astype(np.float64)
    rot = params[:, 3:12].astype(np.float64).reshape(-1, 3, 3)
    ext = np.einsum("pij,pj->pi", np.abs(rot), size)  # boxes, rooms
    axis = rot[:, :, 2]
    cylinder = np.abs(axis) * size[:, 2:3] + size[:, 0:1] * np.sqrt(np.clip(1.0 - axis**2, 0.0, 1.0))
    ext = np.where((kinds == CYLINDER)[:, None], cylinder, ext)
    ext = np.where((kinds == SPHERE)[:, None], size[:, 0:1], ext)
    ext = np.where((kinds == GROUND)[:, None], size * [1.0, 1.0, 0.0], ext)
    return centre - ext, centre + ext


def _compile(scene: Scene) -> _Compiled:
    prims, inst, spans = [], [], []
    next_instance = 1
    for obj in scene.objects:
        spans.append((len(prims), len(prims) + len(obj.prims)))
        inst += [next_instance if obj.thing else 0] * len(obj.prims)
        next_instance += obj.thing
        prims += obj.prims
    params = np.array([[*p.center, *p.rotation, *p.size] for p in prims], np.float32).reshape(-1, 15)
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
    ).reshape(-1, 10)
    return _Compiled(
        prims=prims,
        rows=[list(row) for row in params],
        params_t=np.ascontiguousarray(params.T),
        kinds=kinds,
        material_lut=np.array([_per_face(p.material) for p in prims], np.int32).reshape(-1, _FACES),
        semantic_lut=np.array([_per_face(p.semantic) for p in prims], np.int16).reshape(-1, _FACES),
        instance_lut=np.array(inst, np.int32),
        lo=lo,
        hi=hi,
        occluder_prims=np.array([k for ids in occluders for k in ids], np.int64),
        occluder_of=np.array([j for j, ids in enumerate(occluders) for _ in ids], np.int64),
        occluder_lo=np.array([lo[ids].min(0) for ids in occluders]).reshape(-1, 3),
        occluder_hi=np.array([hi[ids].max(0) for ids in occluders]).reshape(-1, 3),
        materials=np.ascontiguousarray(mats.T),
    )


# --------------------------------------------------------------------------------------------- primary rays
@functools.lru_cache(maxsize=16)
def _ray_grid(height: int, width: int, focal: float) -> tuple[np.ndarray, np.ndarray]:
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


def _screen_rects(
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


def _batches(comp: _Compiled, prims: np.ndarray, rects: np.ndarray):
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


def _cast_primary(comp: _Compiled, origin, rays: np.ndarray, sq: np.ndarray, rects: np.ndarray):
    """Nearest hit per pixel: depth (inf = miss) and primitive index (-1 = miss); ties go to the lower index."""
    height, width = sq.shape
    depth = np.full((height, width), np.inf, np.float32)
    pid = np.full((height, width), -1, np.int32)
    single, batches = _batches(comp, np.arange(len(comp.prims)), rects)
    for k in single:
        r0, r1, c0, c1 = rects[k].tolist()
        d = rays[:, r0:r1, c0:c1]
        t = _HIT[comp.prims[k].kind](comp.rows[k], origin, (d[0], d[1], d[2]), sq[r0:r1, c0:c1])
        best = depth[r0:r1, c0:c1]
        closer = t < best
        np.copyto(best, t, where=closer)
        pid[r0:r1, c0:c1][closer] = k
    flat_depth, flat_pid = depth.reshape(-1), pid.reshape(-1)
    for kind, members in batches:
        pix, owner = _rect_pixels(rects[members], width)
        prim = members[owner]
        d = rays.reshape(3, -1).take(pix, axis=1)
        t = _HIT[kind](list(comp.params_t.take(prim, axis=1)), origin, tuple(d), sq.reshape(-1).take(pix))
        old_t, old_pid = flat_depth[pix], flat_pid[pix]
        win = np.flatnonzero((t < old_t) | ((t == old_t) & (prim < old_pid)))
        win = win[np.lexsort((prim[win], t[win], pix[win]))]  # per pixel: nearest, then lowest index first
        first = np.ones(len(win), bool)
        first[1:] = pix[win[1:]] != pix[win[:-1]]
        win = win[first]
        flat_depth[pix[win]], flat_pid[pix[win]] = t[win], prim[win]
    return depth, pid


@dataclass
class _Layout:
    """Per-pixel work runs on the hit pixels sorted by primitive kind, so that each kind is one contiguous slice:
    ``valid`` = image pixel indices in that order (kind k at ``bounds[k]:bounds[k + 1]``); ``order`` continues
    with the missed pixels and ``inverse`` undoes it."""

    order: np.ndarray
    inverse: np.ndarray
    bounds: np.ndarray
    shape: tuple[int, int]

    @classmethod
    def sorted_by(cls, pixel_kind: np.ndarray, miss: int, shape: tuple[int, int]) -> _Layout:
        order = np.argsort(pixel_kind, kind="stable")
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        bounds = np.concatenate([[0], np.cumsum(np.bincount(pixel_kind, minlength=miss + 1))])
        return cls(order, inverse, bounds, shape)

    @property
    def n_valid(self) -> int:
        return int(self.bounds[-2])

    @property
    def valid(self) -> np.ndarray:
        return self.order[: self.n_valid]

    def to_image(self, values: np.ndarray, fill=0) -> np.ndarray:
        """Values (..., n_valid) of the hit pixels in image order (..., H * W); ``fill`` (a scalar or
        (..., n_missed) values) at the missed pixels."""
        rest = np.broadcast_to(np.asarray(fill, values.dtype), (*values.shape[:-1], self.order.size - self.n_valid))
        return np.concatenate([values, rest], axis=-1).take(self.inverse, axis=-1)


# ------------------------------------------------------------------------------------------ surface geometry
_U_AXIS = np.array([1, 0, 0])
_V_AXIS = np.array([2, 2, 1])


def _to_local(prm: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """R^T vec for per-pixel rotations prm[3:12] (row-major) and vectors (3, n)."""
    return np.stack([prm[3 + j] * vec[0] + prm[6 + j] * vec[1] + prm[9 + j] * vec[2] for j in range(3)])


def _to_world(prm: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """R vec for per-pixel rotations prm[3:12] (row-major) and vectors (3, n)."""
    return np.stack([prm[3 + 3 * i] * vec[0] + prm[4 + 3 * i] * vec[1] + prm[5 + 3 * i] * vec[2] for i in range(3)])


def _surface_box(prm, pl, dl, inside):
    """Faces of a box (or of a room seen from inside): the visible face is the one whose plane the hit point
    lies on (|p_i| / h_i largest) among the faces turned towards the ray."""
    prm = np.broadcast_to(prm, (prm.shape[0], pl.shape[1]))
    h = prm[12:15]
    facing = (pl * dl > 0) if inside else (pl * dl < 0)
    axis = np.argmax(np.where(facing, np.abs(pl) / h, np.float32(-1)), axis=0)
    cols = np.arange(len(axis))
    positive = pl[axis, cols] > 0
    outward = np.where(positive != inside, np.float32(1), np.float32(-1))
    normal = np.stack([prm[3 + 3 * i + axis, cols] for i in range(3)]) * outward
    corner = pl + h  # texture coordinates in metres from the face's lower corner
    ua, va = _U_AXIS[axis], _V_AXIS[axis]
    return normal, 2 * axis + positive, np.stack([corner[ua, cols], corner[va, cols], 2 * h[ua, cols], 2 * h[va, cols]])


def _surface_sphere(prm, pl, dl):
    r = prm[12]
    unit = pl / r
    zero = np.zeros(pl.shape[1], np.float32)
    uv = np.stack([r * np.arctan2(unit[1], unit[0]), r * np.arcsin(np.clip(unit[2], -1, 1)), zero, zero])
    return _to_world(prm, unit), np.zeros(pl.shape[1], np.int64), uv


def _surface_cylinder(prm, pl, dl):
    """Side or cap, whichever surface the hit point lies on among those turned towards the ray."""
    r, h = prm[12], prm[14]
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


def _surface_ground(prm, pl, dl):
    n = pl.shape[1]
    zero = np.zeros(n, np.float32)
    return prm[[5, 8, 11]], np.full(n, 5), np.stack([pl[0], pl[1], zero, zero])


_SURFACE = {
    BOX: functools.partial(_surface_box, inside=False),
    SPHERE: _surface_sphere,
    CYLINDER: _surface_cylinder,
    ROOM: functools.partial(_surface_box, inside=True),
    GROUND: _surface_ground,
}
_MISS = len(_SURFACE)  # pseudo primitive kind of pixels that hit nothing


def _surfaces(comp: _Compiled, pid: np.ndarray, points: np.ndarray, rays: np.ndarray, bounds: np.ndarray):
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
        pl = _to_local(prm, points[:, a:b] - prm[0:3])
        dl = _to_local(prm, rays[:, a:b])
        normal[:, a:b], face[a:b], uv[:, a:b] = surface(prm, pl, dl)
    return normal, face, uv


# ---------------------------------------------------------------------------------------------------- textures
def _value_noise(lattice: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Smooth value noise in [0, 1]: bilinear, smoothstep-weighted interpolation of a periodic random lattice."""
    xf, yf = np.floor(x), np.floor(y)
    fx, fy = x - xf, y - yf
    fx = fx * fx * (3 - 2 * fx)
    fy = fy * fy * (3 - 2 * fy)
    size = _NOISE_SIZE
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


def _frac(x):
    return x - np.floor(x)


def _pattern_mix(pattern: int, m: np.ndarray, uv: np.ndarray, nz: np.ndarray, lattice: np.ndarray) -> np.ndarray:
    """Blend weight of color2 over color (n,) for one pattern; u, v in metres on the surface."""
    u, v, eu, ev = uv
    s, p0, p1 = m[7], m[8], m[9]
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


def _albedo(comp: _Compiled, mat_id: np.ndarray, uv: np.ndarray, nz: np.ndarray, lattice: np.ndarray) -> np.ndarray:
    """RGB albedo (3, n) from each pixel's material, with a little large-scale grime on every surface."""
    m = comp.materials.take(mat_id, axis=1)
    mix = np.empty(len(mat_id), np.float32)
    patterns = m[0].astype(np.int64)
    for pattern in np.flatnonzero(np.bincount(patterns)).tolist():
        sel = np.flatnonzero(patterns == pattern)
        mix[sel] = _pattern_mix(pattern, m.take(sel, axis=1), uv.take(sel, axis=1), nz[sel], lattice)
    grime = 1 - 0.12 * _value_noise(lattice, uv[0] * 0.9 + 31, uv[1] * 0.9 + 7)
    return (m[1:4] + (m[4:7] - m[1:4]) * mix) * grime


# ----------------------------------------------------------------------------------------------- lighting
def _shadow_boxes(comp: _Compiled, light: Light) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _shadowed(comp: _Compiled, light: Light, origin, to_light, dist, receivers, rects) -> np.ndarray:
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
        shadow[r0:r1, c0:c1] |= _HIT[comp.prims[k].kind](comp.rows[k], o, d, 1.0) < limit
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
        t = _HIT[kind](list(comp.params_t.take(prim, axis=1)), o, d, 1.0)
        flat[pix[t < limit]] = True
    return shadow & receivers


def _shade(comp: _Compiled, light: Light, points, normals, albedo, layout: _Layout, cam, rot) -> np.ndarray:
    """Lambert + ambient radiance (3, n) of the hit pixels, with cast shadows."""
    height, width = layout.shape
    if light.point:
        vec = np.array(light.vector, np.float32)[:, None] - points
        dist = np.sqrt((vec * vec).sum(0))
        to_light = vec / np.maximum(dist, np.float32(1e-6))
        cos = (normals * to_light).sum(0)
        gain = cos * (light.intensity / (1 + (dist * np.float32(light.falloff)) ** 2))
        rays = layout.to_image(np.concatenate([to_light, dist[None]])).reshape(4, height, width)
        to_light, dist = rays[:3], rays[3]
    else:
        cos = _dot3(light.vector, normals)
        gain = cos * np.float32(light.intensity)
        to_light, dist = tuple(np.float32(x) for x in light.vector), None
    # shadow rays start slightly above the surface and run on image-shaped arrays
    origin = layout.to_image(points + normals * np.float32(0.004)).reshape(3, height, width)
    receivers = layout.to_image(cos > 0).reshape(height, width)
    lo, hi, unbounded = _shadow_boxes(comp, light)
    rects = _screen_rects(lo, hi, cam, rot, height, width, unbounded)
    blocked = _shadowed(comp, light, origin, to_light, dist, receivers, rects).reshape(-1).take(layout.valid)
    direct = np.where((cos > 0) & ~blocked, gain, np.float32(0))
    return albedo * (np.float32(light.ambient) * (0.8 + 0.2 * normals[2]) + direct)


def _sky(sky, rays: np.ndarray) -> np.ndarray:
    """Vertical gradient from the horizon colour to the zenith colour by ray elevation; rays (3, n) -> (3, n)."""
    zenith, horizon = (np.array(c, np.float32)[:, None] for c in sky)
    elevation = rays[2] / np.sqrt((rays * rays).sum(0))
    return horizon + (zenith - horizon) * np.clip(elevation * 2.5, 0, 1)


# ------------------------------------------------------------------------------------------------- labels
def _edges(face_id: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Mark the nearer pixel of every 4-neighbour pair that shows different faces (sky: face -1, depth inf)."""
    edge = np.zeros(face_id.shape, bool)
    for first, second in (
        ((slice(None, -1), slice(None)), (slice(1, None), slice(None))),
        ((slice(None), slice(None, -1)), (slice(None), slice(1, None))),
    ):
        change = face_id[first] != face_id[second]
        first_nearer = depth[first] <= depth[second]
        edge[first] |= change & first_nearer
        edge[second] |= change & ~first_nearer
    return edge


def _render_scene(scene: Scene, height: int, width: int, disparity: bool = False) -> dict[str, np.ndarray]:
    """Ray cast one explicit scene; returns single-image arrays with the layout of :func:`render`."""
    comp = _compile(scene)
    cam = scene.camera
    focal = cam.focal_ratio * width
    grid, sq = _ray_grid(height, width, focal)
    rot64 = cam.rotation()
    rot = rot64.astype(np.float32)
    rays = (rot @ grid.reshape(3, -1)).reshape(3, height, width)
    origin = tuple(float(x) for x in cam.position)

    rects = _screen_rects(comp.lo, comp.hi, cam, rot64, height, width, np.isin(comp.kinds, (ROOM, GROUND)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        depth, pid = _cast_primary(comp, origin, rays, sq, rects)
        depth, pid, rays = depth.reshape(-1), pid.reshape(-1), rays.reshape(3, -1)
        pixel_kind = np.append(comp.kinds, _MISS)[pid]  # pid -1 (a miss) reads the appended entry
        layout = _Layout.sorted_by(pixel_kind, _MISS, (height, width))
        vpid, vdepth, vrays = pid.take(layout.valid), depth.take(layout.valid), rays.take(layout.valid, axis=1)
        points = np.array(origin, np.float32)[:, None] + vdepth * vrays
        normals, face, uv = _surfaces(comp, vpid, points, vrays, layout.bounds)
        normals = _face_camera(normals, vrays)
        albedo = _albedo(comp, comp.material_lut[vpid, face], uv, normals[2], scene.noise)
        radiance = _shade(comp, scene.light, points, normals, albedo, layout, cam, rot64)

    if scene.sky is not None:
        sky = _sky(scene.sky, rays.take(layout.order[layout.n_valid :], axis=1))
        if scene.haze > 0:  # distant surfaces fade towards the horizon colour
            fog = 1 - np.exp(np.float32(-scene.haze) * vdepth)
            radiance += (np.array(scene.sky[1], np.float32)[:, None] - radiance) * fog
        image = layout.to_image(radiance, sky)
    else:
        image = layout.to_image(radiance)
    miss_class = STREET_CLASSES.index("sky") if scene.sky is not None else IGNORE
    face_id = layout.to_image((vpid * _FACES + face).astype(np.int32), -1)
    out_depth = np.where(pid >= 0, depth, np.float32(0))
    shape = (height, width)
    out = {
        "image": np.clip(image.T, 0, 1).reshape(height, width, 3),
        "depth": out_depth.reshape(shape),
        "normal": layout.to_image(rot.T @ normals).T.reshape(height, width, 3),
        "semantic": layout.to_image(comp.semantic_lut[vpid, face], miss_class).reshape(shape),
        "instance": layout.to_image(_compact_ids(comp.instance_lut[vpid])).reshape(shape),
        "edge": _edges(face_id.reshape(shape), depth.reshape(shape)).astype(np.float32),
    }
    if disparity:
        with np.errstate(divide="ignore"):
            disp = np.where(pid >= 0, np.float32(STEREO_BASELINE * focal) / out_depth, np.float32(0))
        out["disparity"] = disp.reshape(shape)
    return out


def _face_camera(normals: np.ndarray, rays: np.ndarray) -> np.ndarray:
    """Renormalise (curved surfaces far away lose float32 precision) and tilt grazing-angle normals so that
    n . ray <= -1e-3 |ray| holds despite rounding."""
    normals = normals / np.sqrt((normals * normals).sum(0))
    unit = rays / np.sqrt((rays * rays).sum(0))
    cos = (normals * unit).sum(0)
    bad = np.flatnonzero(cos > -1e-3)
    if len(bad):
        fixed = normals[:, bad] - (cos[bad] + np.float32(2e-3)) * unit[:, bad]
        normals[:, bad] = fixed / np.sqrt((fixed * fixed).sum(0))
    return normals


def _compact_ids(raw: np.ndarray) -> np.ndarray:
    """Renumber the visible instance ids to 1..m keeping their order; 0 stays 0."""
    present = np.bincount(raw, minlength=1) > 0
    present[0] = False
    return (np.cumsum(present) * present).astype(np.int32)[raw]


# ------------------------------------------------------------------------------------------ random scenes
def _hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
    """HSV (all in [0, 1]) to an RGB tuple."""
    return colorsys.hsv_to_rgb(h, s, v)


def _shade_of(color, factor: float) -> tuple[float, float, float]:
    """``color`` scaled by ``factor`` (clipped at 1)."""
    return tuple(float(min(1.0, c * factor)) for c in color)


def _random_rotation(rng: np.random.Generator) -> tuple[float, ...]:
    """Row-major rotation R_z(a) R_x(b) R_z(c) with random Euler angles (texture orientation of spheres)."""
    a, b, c = rng.uniform(0.0, 2 * math.pi, 3).tolist()
    rz1 = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rz2 = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return tuple((rz1 @ rx @ rz2).reshape(-1).tolist())


def _offset(center, yaw: float, dx: float, dy: float, z: float) -> tuple[float, float, float]:
    """World position of the local offset (dx right, dy forward) from ``center`` of an object turned by yaw."""
    c, s = math.cos(yaw), math.sin(yaw)
    return (center[0] + c * dx + s * dy, center[1] - s * dx + c * dy, z)


class _Footprints:
    """Axis-aligned ground rectangles of placed objects, to keep new ones from overlapping them."""

    def __init__(self) -> None:
        self.rects: list[tuple[float, float, float, float]] = []

    def free(self, x: float, y: float, hx: float, hy: float, gap: float = 0.1) -> bool:
        return all(abs(x - a) >= hx + ha + gap or abs(y - b) >= hy + hb + gap for a, b, ha, hb in self.rects)

    def add(self, x: float, y: float, hx: float, hy: float) -> None:
        self.rects.append((x, y, hx, hy))


class _Palette:
    """Collects the materials of one scene; ``add`` returns a material index."""

    def __init__(self) -> None:
        self.materials: list[Material] = []

    def add(self, *args, **kwargs) -> int:
        self.materials.append(Material(*args, **kwargs))
        return len(self.materials) - 1


def _surface_material(rng: np.random.Generator, pal: _Palette, color, kinds=(NOISE, CHECKER, STRIPES, WOOD)) -> int:
    """A random textured material around ``color``."""
    kind = kinds[rng.integers(len(kinds))]
    dark = _shade_of(color, rng.uniform(0.55, 0.8))
    if kind == NOISE:
        return pal.add(NOISE, color, dark, scale=rng.uniform(0.1, 0.4))
    if kind == CHECKER:
        other = _hsv(rng.random(), rng.uniform(0.1, 0.5), rng.uniform(0.5, 0.9))
        return pal.add(CHECKER, color, other, scale=rng.uniform(0.12, 0.35))
    if kind == STRIPES:
        other = _hsv(rng.random(), rng.uniform(0.2, 0.6), rng.uniform(0.4, 0.9))
        angle = float(rng.choice([0.0, math.pi / 2, math.pi / 4]))
        return pal.add(STRIPES, color, other, scale=rng.uniform(0.08, 0.3), p0=angle, p1=0.5)
    return pal.add(WOOD, color, dark, scale=rng.uniform(0.05, 0.15), p0=float(rng.choice([0.0, 0.0, 0.2])))


def _ball_material(rng: np.random.Generator, pal: _Palette, radius: float) -> int:
    """Bands or checks that close up around the sphere (u spans 2 pi r, v spans pi r)."""
    color = _hsv(rng.random(), rng.uniform(0.4, 0.8), rng.uniform(0.6, 0.95))
    other = _hsv(rng.random(), rng.uniform(0.2, 0.7), rng.uniform(0.5, 0.95))
    choice = rng.integers(3)
    if choice == 0:
        return pal.add(STRIPES, color, other, scale=math.pi * radius / int(rng.integers(3, 7)), p0=math.pi / 2, p1=0.5)
    if choice == 1:
        return pal.add(CHECKER, color, other, scale=2 * math.pi * radius / (2 * int(rng.integers(2, 5))))
    return pal.add(NOISE, color, _shade_of(color, 0.6), scale=radius * 0.6)


def _indoor_room(rng: np.random.Generator, pal: _Palette, half) -> SceneObject:
    """The room box (floor at z = 0) with random floor, wall and ceiling materials and per-face classes."""
    floor_color = _hsv(rng.random(), rng.uniform(0.1, 0.4), rng.uniform(0.45, 0.8))
    kind = rng.integers(3)
    if kind == 0:
        floor = pal.add(TILES, floor_color, _shade_of(floor_color, 0.6), scale=rng.uniform(0.3, 0.7), p0=0.04)
    elif kind == 1:
        floor = pal.add(
            WOOD, floor_color, _shade_of(floor_color, 0.65), scale=rng.uniform(0.04, 0.1), p0=rng.uniform(0.12, 0.25)
        )
    else:
        floor = _surface_material(rng, pal, floor_color, (NOISE, CHECKER))
    wall_color = _hsv(rng.random(), rng.uniform(0.05, 0.3), rng.uniform(0.7, 0.95))
    wall = _surface_material(rng, pal, wall_color, (NOISE, STRIPES, CHECKER, NOISE))
    ceiling = pal.add(NOISE, (0.93, 0.92, 0.9), (0.8, 0.8, 0.78), scale=0.5)
    cls = INDOOR_CLASSES.index
    room = Prim(
        ROOM,
        (0.0, 0.0, half[2]),
        half,
        material=(wall, wall, wall, wall, floor, ceiling),
        semantic=(cls("wall"),) * 4 + (cls("floor"), cls("ceiling")),
    )
    return SceneObject([room], shadow=False)


def _indoor_object(rng, pal, kind: str, x: float, y: float, z0: float, size) -> SceneObject:
    """A cabinet, table or ball standing at (x, y, z0); ``size`` from :func:`_indoor_size`."""
    yaw = rng.uniform(-math.pi, math.pi)
    color = _hsv(rng.random(), rng.uniform(0.2, 0.7), rng.uniform(0.45, 0.95))
    cls = INDOOR_CLASSES.index(kind)
    if kind == "ball":
        r = size[0]
        return SceneObject(
            [Prim(SPHERE, (x, y, z0 + r), (r, r, r), _ball_material(rng, pal, r), cls, _random_rotation(rng))],
            thing=True,
        )
    if kind == "cabinet":
        hx, hy, hz = size
        mat = _surface_material(rng, pal, color)
        if rng.random() < 0.5:  # a chest of drawers: drawer fronts on its -y face
            drawers = pal.add(PANELS, color, _shade_of(color, 0.45), p0=max(1, round(hz / 0.18)))
            mat = (mat, mat, drawers, mat, mat, mat)
        return SceneObject([Prim(BOX, (x, y, z0 + hz), (hx, hy, hz), mat, cls, yaw_rotation(yaw))], thing=True)
    hx, hy, height = size
    mat = _surface_material(rng, pal, color, (WOOD, WOOD, NOISE))
    rot = yaw_rotation(yaw)
    prims = [Prim(BOX, (x, y, z0 + height - 0.025), (hx, hy, 0.025), mat, cls, rot)]
    leg_h = (height - 0.05) / 2
    for sx in (-1, 1):
        for sy in (-1, 1):
            centre = _offset((x, y), yaw, sx * (hx - 0.06), sy * (hy - 0.06), z0 + leg_h)
            prims.append(Prim(BOX, centre, (0.03, 0.03, leg_h), mat, cls, rot))
    return SceneObject(prims, thing=True)


def _indoor_size(rng: np.random.Generator, kind: str) -> tuple[float, float, float]:
    """Random size: radius (ball), half extents (cabinet) or half length, half width and height (table)."""
    if kind == "ball":
        r = rng.uniform(0.1, 0.32)
        return (r, r, r)
    if kind == "cabinet":
        return (rng.uniform(0.2, 0.6), rng.uniform(0.15, 0.45), rng.uniform(0.2, 0.9))
    return (rng.uniform(0.35, 0.8), rng.uniform(0.3, 0.5), rng.uniform(0.6, 0.8))


def _indoor_scene(rng: np.random.Generator) -> Scene:
    """A room (4-8 m) seen from near its back wall, with cabinets, tables and balls, lit by a ceiling lamp."""
    pal = _Palette()
    half = (rng.uniform(1.8, 3.6), rng.uniform(2.3, 4.0), rng.uniform(1.25, 1.6))
    objects = [_indoor_room(rng, pal, half)]
    cam_x = rng.uniform(-0.5, 0.5) * half[0]
    cam_y = -half[1] + rng.uniform(0.3, 1.0)
    yaw = rng.uniform(-0.6, 0.6)
    camera = Camera((cam_x, cam_y, rng.uniform(1.1, 1.8)), yaw, rng.uniform(-0.5, -0.12), INDOOR_FOCAL_RATIO)
    feet = _Footprints()
    feet.add(cam_x, cam_y, 0.3, 0.3)
    tops: list[tuple[float, float, float, float]] = []  # surfaces a ball may rest on: x, y, z, half size
    for _ in range(rng.integers(2, 7)):
        kind = ("cabinet", "table", "ball")[rng.choice(3, p=[0.45, 0.2, 0.35])]
        size = _indoor_size(rng, kind)
        if kind == "ball" and tops and rng.random() < 0.4:
            x, y, z, h = tops.pop(int(rng.integers(len(tops))))
            jitter = max(0.0, h - size[0])
            objects.append(
                _indoor_object(
                    rng,
                    pal,
                    kind,
                    x + rng.uniform(-jitter, jitter) * 0.5,
                    y + rng.uniform(-jitter, jitter) * 0.5,
                    z,
                    size,
                )
            )
            continue
        reach = math.hypot(size[0], size[1])
        for _ in range(20):
            dist, angle = rng.uniform(1.2, 4.2), yaw + rng.uniform(-0.45, 0.45)
            x, y = cam_x + dist * math.sin(angle), cam_y + dist * math.cos(angle)
            inside = abs(x) < half[0] - reach - 0.02 and abs(y) < half[1] - reach - 0.02
            if inside and feet.free(x, y, reach, reach):
                feet.add(x, y, reach, reach)
                objects.append(_indoor_object(rng, pal, kind, x, y, 0.0, size))
                if kind != "ball":
                    top = 2 * size[2] if kind == "cabinet" else size[2]
                    tops.append((x, y, top, min(size[0], size[1])))
                break
    lamp = (rng.uniform(-0.7, 0.7) * half[0], rng.uniform(-0.5, 0.9) * half[1], 2 * half[2] - 0.15)
    light = Light(
        lamp,
        point=True,
        intensity=rng.uniform(1.0, 1.4),
        ambient=rng.uniform(0.4, 0.5),
        falloff=1.0 / rng.uniform(3.5, 6.0),
    )
    return Scene(camera, light, objects, pal.materials, noise=rng.random((_NOISE_SIZE, _NOISE_SIZE), np.float32))


_STREET_END = 220.0  # metres ahead of the camera where the street (and the world) ends


def _street_stuff(rng: np.random.Generator, pal: _Palette, road: float, walk: float) -> list[SceneObject]:
    """Road surface, sidewalks (0.15 m kerb) and two rows of building blocks."""
    cls = STREET_CLASSES.index
    y0, y1 = -40.0, _STREET_END
    mid, half_len = (y0 + y1) / 2, (y1 - y0) / 2
    asphalt = rng.uniform(0.3, 0.42)
    lane = 3.2 if road > 5.0 else 99.0
    road_mat = pal.add(ROAD, (asphalt,) * 3, (0.92, 0.92, 0.9), p0=road, p1=lane)
    objects = [
        SceneObject([Prim(GROUND, (0.0, mid, 0.0), (road + 80.0, half_len, 0.0), road_mat, cls("road"))], shadow=False)
    ]
    paving = _hsv(rng.uniform(0.05, 0.15), rng.uniform(0.0, 0.15), rng.uniform(0.55, 0.72))
    walk_mat = pal.add(TILES, paving, _shade_of(paving, 0.75), scale=rng.uniform(0.4, 0.8), p0=0.04)
    for side in (-1.0, 1.0):
        objects.append(
            SceneObject(
                [Prim(BOX, (side * (road + 40.0), mid, 0.075), (40.0, half_len, 0.075), walk_mat, cls("sidewalk"))],
                shadow=False,
            )
        )
    for side in (-1.0, 1.0):
        objects += _buildings(rng, pal, side, road + walk)
    return objects


# ranges of the building parameters, drawn in one batch per side of the street
_BUILDING_RANGES = np.array(
    [
        (8.0, 26.0),  # length along the street
        (0.0, 1.0),  # gap before it when < 0.12 ...
        (4.0, 12.0),  # ... of this length
        (8.0, 20.0),  # depth
        (0.0, 2.0),  # set-back from the sidewalk
        (7.0, 32.0),  # height
        (0.0, 1.0),  # wall hue
        (0.15, 0.45),  # wall saturation
        (0.6, 0.92),  # wall value
        (0.55, 0.65),  # glass hue
        (0.2, 0.5),  # glass saturation
        (0.2, 0.4),  # glass value
        (2.2, 3.6),  # window spacing
        (0.35, 0.6),  # window width / spacing
        (2.8, 3.6),  # storey height
    ]
)


def _buildings(rng: np.random.Generator, pal: _Palette, side: float, kerb: float) -> list[SceneObject]:
    """A row of façade blocks along one side of the street (x = side * kerb outwards), from y = -30 m."""
    lo, hi = _BUILDING_RANGES.T
    draws = (lo + (hi - lo) * rng.random((int(_STREET_END) // 8 + 4, len(lo)))).tolist()
    objects, y = [], -30.0
    cls = STREET_CLASSES.index("building")
    for length, gap_p, gap, depth, setback, height, *colours, spacing, width, storey in draws:
        if y >= _STREET_END - 20.0:
            break
        y += gap if gap_p < 0.12 else 0.0
        mat = pal.add(FACADE, _hsv(*colours[:3]), _hsv(*colours[3:]), scale=spacing, p0=width, p1=storey)
        centre = (side * (kerb + setback + depth / 2), y + length / 2, height / 2)
        objects.append(SceneObject([Prim(BOX, centre, (depth / 2, length / 2, height / 2), mat, cls)]))
        y += length
    return objects


def _car(rng: np.random.Generator, pal: _Palette, x: float, y: float, yaw: float, size) -> SceneObject:
    length, width = size
    cls = STREET_CLASSES.index("car")
    color = _hsv(rng.random(), rng.uniform(0.0, 0.8), rng.uniform(0.3, 0.95))
    body_mat = pal.add(NOISE, color, _shade_of(color, 0.8), scale=0.5)
    cabin_mat = pal.add(CABIN, color, (0.1, 0.12, 0.16))
    wheel_mat = pal.add(NOISE, (0.07, 0.07, 0.07), (0.15, 0.15, 0.15), scale=0.1)
    rot = yaw_rotation(yaw)
    bottom, body_h, cabin_h = 0.28, rng.uniform(0.5, 0.7), rng.uniform(0.42, 0.58)
    prims = [
        Prim(BOX, (x, y, bottom + body_h / 2), (width / 2, length / 2, body_h / 2), body_mat, cls, rot),
        Prim(
            BOX,
            _offset((x, y), yaw, 0.0, -0.06 * length, bottom + body_h + cabin_h / 2),
            (0.44 * width, 0.26 * length, cabin_h / 2),
            cabin_mat,
            cls,
            rot,
        ),
    ]
    wheel_rot = yaw_rotation(yaw, axis_along="x")
    for along in (-0.32, 0.32):
        prims.append(
            Prim(
                CYLINDER,
                _offset((x, y), yaw, 0.0, along * length, 0.32),
                (0.32, 0.32, width / 2 + 0.02),
                wheel_mat,
                cls,
                wheel_rot,
            )
        )
    return SceneObject(prims, thing=True)


def _person(rng: np.random.Generator, pal: _Palette, x: float, y: float, z0: float) -> SceneObject:
    cls = STREET_CLASSES.index("person")
    yaw = rng.uniform(-math.pi, math.pi)
    height = rng.uniform(1.55, 1.9)
    leg = 0.47 * height
    trousers = pal.add(
        NOISE, _hsv(rng.random(), rng.uniform(0.1, 0.6), rng.uniform(0.15, 0.5)), (0.1, 0.1, 0.12), scale=0.3
    )
    shirt_color = _hsv(rng.random(), rng.uniform(0.2, 0.8), rng.uniform(0.35, 0.95))
    shirt = pal.add(NOISE, shirt_color, _shade_of(shirt_color, 0.7), scale=0.2)
    skin = pal.add(
        NOISE,
        _hsv(rng.uniform(0.03, 0.09), rng.uniform(0.3, 0.6), rng.uniform(0.35, 0.9)),
        (0.3, 0.2, 0.15),
        scale=0.05,
    )
    rot = yaw_rotation(yaw)
    torso_h = height - 0.24 - leg
    prims = [
        Prim(BOX, _offset((x, y), yaw, side * 0.1, 0.0, z0 + leg / 2), (0.075, 0.09, leg / 2), trousers, cls, rot)
        for side in (-1, 1)
    ]
    prims.append(Prim(BOX, (x, y, z0 + leg + torso_h / 2), (0.23, 0.13, torso_h / 2), shirt, cls, rot))
    prims.append(Prim(SPHERE, (x, y, z0 + height - 0.12), (0.12, 0.12, 0.12), skin, cls, rot))
    return SceneObject(prims, thing=True)


def _tree(rng: np.random.Generator, pal: _Palette, x: float, y: float, z0: float) -> SceneObject:
    cls = STREET_CLASSES.index("vegetation")
    trunk_r, trunk_h, crown = rng.uniform(0.12, 0.22), rng.uniform(2.0, 3.2), rng.uniform(1.2, 2.2)
    bark = pal.add(NOISE, (0.35, 0.25, 0.16), (0.2, 0.13, 0.08), scale=0.1)
    leaf = _hsv(rng.uniform(0.22, 0.36), rng.uniform(0.4, 0.7), rng.uniform(0.35, 0.65))
    leaves = pal.add(NOISE, leaf, _shade_of(leaf, 0.45), scale=0.25)
    return SceneObject(
        [
            Prim(CYLINDER, (x, y, z0 + trunk_h / 2), (trunk_r, trunk_r, trunk_h / 2), bark, cls),
            Prim(SPHERE, (x, y, z0 + trunk_h + 0.7 * crown), (crown,) * 3, leaves, cls, _random_rotation(rng)),
        ]
    )


def _pole(rng: np.random.Generator, pal: _Palette, x: float, y: float, z0: float, side: float) -> SceneObject:
    cls = STREET_CLASSES.index("pole")
    radius, height = rng.uniform(0.06, 0.11), rng.uniform(4.0, 8.0)
    metal = rng.uniform(0.25, 0.55)
    mat = pal.add(NOISE, (metal,) * 3, (metal * 0.7,) * 3, scale=0.2)
    return SceneObject(
        [
            Prim(CYLINDER, (x, y, z0 + height / 2), (radius, radius, height / 2), mat, cls),
            Prim(BOX, (x - side * 0.5, y, z0 + height), (0.55, 0.12, 0.06), mat, cls),
        ]
    )


def _street_scene(rng: np.random.Generator) -> Scene:
    """A straight street: road with markings, sidewalks, façades, parked and driving cars, trees, poles, people."""
    pal = _Palette()
    road, walk = rng.uniform(3.5, 7.0), rng.uniform(2.5, 5.0)
    objects = _street_stuff(rng, pal, road, walk)
    cam = (rng.uniform(-road + 1.3, road - 1.3), 0.0, rng.uniform(1.3, 1.8))
    camera = Camera(cam, rng.uniform(-0.2, 0.2), rng.uniform(-0.1, 0.03), STREET_FOCAL_RATIO)
    feet = _Footprints()
    feet.add(cam[0], cam[1], 0.5, 0.5)
    kerb = 0.15

    def place(hx: float, hy: float, xs: tuple[float, float], ys: tuple[float, float]):
        for _ in range(15):
            x, y = rng.uniform(*xs), rng.uniform(*ys)
            if feet.free(x, y, hx, hy):
                feet.add(x, y, hx, hy)
                return x, y
        return None

    for _ in range(rng.integers(1, 8)):
        size = (rng.uniform(3.8, 4.8), rng.uniform(1.65, 1.9))
        spot = place(size[1] / 2 + 0.2, size[0] / 2, (-road + 1.1, road - 1.1), (6.0, 70.0))
        if spot:
            yaw = (0.0 if spot[0] > 0 else math.pi) + rng.uniform(-0.06, 0.06)
            objects.append(_car(rng, pal, spot[0], spot[1], yaw, size))
    for _ in range(rng.integers(2, 9)):
        side = float(rng.choice([-1.0, 1.0]))
        spot = place(0.6, 0.6, (road + 0.7, road + 1.1), (-10.0, 110.0))
        if spot and math.hypot(spot[1] - cam[1], spot[0] - side * cam[0]) > 3.0:
            objects.append(_tree(rng, pal, side * spot[0], spot[1], kerb))
    for _ in range(rng.integers(1, 6)):
        side = float(rng.choice([-1.0, 1.0]))
        spot = place(0.2, 0.2, (road + 0.35, road + 0.4), (-5.0, 90.0))
        if spot:
            objects.append(_pole(rng, pal, side * spot[0], spot[1], kerb, side))
    for _ in range(rng.integers(0, 7)):
        if rng.random() < 0.2:
            spot, z0, side = place(0.3, 0.3, (-road + 0.5, road - 0.5), (7.0, 35.0)), 0.0, 1.0
        else:
            side, z0 = float(rng.choice([-1.0, 1.0])), kerb
            spot = place(0.3, 0.3, (road + 0.8, road + walk - 0.4), (3.0, 50.0))
        if spot:
            objects.append(_person(rng, pal, side * spot[0], spot[1], z0))
    elevation, azimuth = rng.uniform(0.45, 1.1), rng.uniform(0.0, 2 * math.pi)
    sun = (math.cos(elevation) * math.sin(azimuth), math.cos(elevation) * math.cos(azimuth), math.sin(elevation))
    light = Light(sun, point=False, intensity=rng.uniform(0.75, 1.0), ambient=rng.uniform(0.35, 0.5))
    zenith = (rng.uniform(0.25, 0.4), rng.uniform(0.45, 0.6), rng.uniform(0.8, 0.95))
    horizon = (rng.uniform(0.75, 0.85), rng.uniform(0.83, 0.9), rng.uniform(0.92, 0.98))
    return Scene(
        camera,
        light,
        objects,
        pal.materials,
        sky=(zenith, horizon),
        haze=1.0 / rng.uniform(250.0, 500.0),
        noise=rng.random((_NOISE_SIZE, _NOISE_SIZE), np.float32),
    )


_GENERATORS = {"indoor": _indoor_scene, "street": _street_scene}


def _check_positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def render(kind: str, n: int, height: int, width: int, seed: int) -> dict[str, np.ndarray]:
    """Render ``n`` random scenes of ``kind`` ("indoor" or "street") at ``height`` x ``width`` pixels.

    Returns a dict of arrays with a leading batch axis: ``image`` (n, H, W, 3) float32 in [0, 1], ``depth``
    (n, H, W) float32 metres along the camera z axis (0 = nothing hit), ``normal`` (n, H, W, 3) float32 unit
    camera-frame normals (x right, y down, z forward; 0 where depth is 0), ``semantic`` (n, H, W) int16 class
    indices into :data:`INDOOR_CLASSES` / :data:`STREET_CLASSES`, ``instance`` (n, H, W) int32 (0 = none,
    1..m per image), ``edge`` (n, H, W) float32 in {0, 1} and, for "street", ``disparity`` (n, H, W) float32
    ``= STEREO_BASELINE * f / depth`` with ``f = STREET_FOCAL_RATIO * width`` pixels (0 where depth is 0).
    Scene ``i`` is drawn from ``SeedSequence([seed, i])``: it does not depend on ``n``.
    """
    if kind not in _GENERATORS:
        raise ValueError(f"unknown scene kind {kind!r}; valid kinds: {', '.join(KINDS)}")
    for name, value in (("n", n), ("height", height), ("width", width)):
        _check_positive(name, value)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    shapes = {"image": (3,), "depth": (), "normal": (3,), "semantic": (), "instance": (), "edge": ()}
    dtypes = {"semantic": np.int16, "instance": np.int32}
    if kind == "street":
        shapes["disparity"] = ()
    out = {key: np.empty((n, height, width, *shape), dtypes.get(key, np.float32)) for key, shape in shapes.items()}
    for i in range(n):
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), i]))
        scene = _GENERATORS[kind](rng)
        for key, value in _render_scene(scene, height, width, disparity=kind == "street").items():
            out[key][i] = value
    return out
