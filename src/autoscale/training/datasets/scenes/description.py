"""What a scene is made of: label sets, camera constants, primitive kinds, texture patterns and the dataclasses
(:class:`Camera`, :class:`Light`, :class:`Material`, :class:`Prim`, :class:`SceneObject`, :class:`Scene`) that
describe one scene for :func:`autoscale.training.datasets.scenes.frame.render_scene`."""

from __future__ import annotations

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

NOISE_SIZE = 64  # side of the periodic value-noise lattice of a scene
_IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


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
    """Everything :func:`render_scene` needs: camera, light, objects, the materials they index, and for open
    scenes a sky (rays that hit nothing get the sky colour and the last class, "sky"). ``noise`` is the random
    lattice of the value-noise textures."""

    camera: Camera
    light: Light
    objects: list[SceneObject]
    materials: list[Material]
    sky: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None  # (zenith, horizon)
    haze: float = 0.0  # 1/m: exponential blend of distant surfaces towards the horizon colour
    noise: np.ndarray = field(default_factory=lambda: np.full((NOISE_SIZE, NOISE_SIZE), 0.5, np.float32))


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
