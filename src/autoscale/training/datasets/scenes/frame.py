"""One explicit :class:`Scene` to an image and its label maps: cast, texture, shade and label every pixel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoscale.training.datasets.scenes.compiled import FACES, Compiled, compile_scene
from autoscale.training.datasets.scenes.description import (
    GROUND,
    IGNORE,
    ROOM,
    STEREO_BASELINE,
    STREET_CLASSES,
    Camera,
    Light,
    Scene,
)
from autoscale.training.datasets.scenes.intersect import dot3
from autoscale.training.datasets.scenes.raycast import cast_primary, ray_grid, screen_rects, shadow_boxes, shadowed
from autoscale.training.datasets.scenes.surfaces import MISS, surface_geometry
from autoscale.training.datasets.scenes.textures import surface_albedo

Color = tuple[float, float, float]


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


def _shade(
    comp: Compiled,
    light: Light,
    points: np.ndarray,
    normals: np.ndarray,
    albedo: np.ndarray,
    layout: _Layout,
    cam: Camera,
    rot: np.ndarray,
) -> np.ndarray:
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
        cos = dot3(light.vector, normals)
        gain = cos * np.float32(light.intensity)
        to_light, dist = tuple(np.float32(x) for x in light.vector), None
    # shadow rays start slightly above the surface and run on image-shaped arrays
    origin = layout.to_image(points + normals * np.float32(0.004)).reshape(3, height, width)
    receivers = layout.to_image(cos > 0).reshape(height, width)
    lo, hi, unbounded = shadow_boxes(comp, light)
    rects = screen_rects(lo, hi, cam, rot, height, width, unbounded)
    blocked = shadowed(comp, light, origin, to_light, dist, receivers, rects).reshape(-1).take(layout.valid)
    direct = np.where((cos > 0) & ~blocked, gain, np.float32(0))
    return albedo * (np.float32(light.ambient) * (0.8 + 0.2 * normals[2]) + direct)


def _sky(sky: tuple[Color, Color], rays: np.ndarray) -> np.ndarray:
    """Vertical gradient from the horizon colour to the zenith colour by ray elevation; rays (3, n) -> (3, n)."""
    zenith, horizon = (np.array(c, np.float32)[:, None] for c in sky)
    elevation = rays[2] / np.sqrt((rays * rays).sum(0))
    return horizon + (zenith - horizon) * np.clip(elevation * 2.5, 0, 1)


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


def render_scene(scene: Scene, height: int, width: int, disparity: bool = False) -> dict[str, np.ndarray]:
    """Ray cast one explicit scene; returns single-image arrays with the layout of :func:`render`."""
    comp = compile_scene(scene)
    cam = scene.camera
    focal = cam.focal_ratio * width
    grid, sq = ray_grid(height, width, focal)
    rot64 = cam.rotation()
    rot = rot64.astype(np.float32)
    rays = (rot @ grid.reshape(3, -1)).reshape(3, height, width)
    origin = tuple(float(x) for x in cam.position)

    rects = screen_rects(comp.lo, comp.hi, cam, rot64, height, width, np.isin(comp.kinds, (ROOM, GROUND)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        depth, pid = cast_primary(comp, origin, rays, sq, rects)
        depth, pid, rays = depth.reshape(-1), pid.reshape(-1), rays.reshape(3, -1)
        pixel_kind = np.append(comp.kinds, MISS)[pid]  # pid -1 (a miss) reads the appended entry
        layout = _Layout.sorted_by(pixel_kind, MISS, (height, width))
        vpid, vdepth, vrays = pid.take(layout.valid), depth.take(layout.valid), rays.take(layout.valid, axis=1)
        points = np.array(origin, np.float32)[:, None] + vdepth * vrays
        normals, face, uv = surface_geometry(comp, vpid, points, vrays, layout.bounds)
        normals = _face_camera(normals, vrays)
        albedo = surface_albedo(comp, comp.material_lut[vpid, face], uv, normals[2], scene.noise)
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
    face_id = layout.to_image((vpid * FACES + face).astype(np.int32), -1)
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
