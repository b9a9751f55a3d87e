"""Random indoor scenes: a closed room with cabinets, tables and balls, lit by a ceiling lamp (NYUv2 stand-in)."""

from __future__ import annotations

import math

import numpy as np

from autoscale.training.datasets.scenes.description import (
    BOX,
    CHECKER,
    INDOOR_CLASSES,
    INDOOR_FOCAL_RATIO,
    NOISE,
    NOISE_SIZE,
    PANELS,
    ROOM,
    SPHERE,
    STRIPES,
    TILES,
    WOOD,
    Camera,
    Light,
    Prim,
    Scene,
    SceneObject,
    yaw_rotation,
)
from autoscale.training.datasets.scenes.generation import (
    Footprints,
    Palette,
    hsv,
    offset,
    random_rotation,
    shade_of,
)


def _surface_material(rng: np.random.Generator, pal: Palette, color, kinds=(NOISE, CHECKER, STRIPES, WOOD)) -> int:
    """A random textured material around ``color``."""
    kind = kinds[rng.integers(len(kinds))]
    dark = shade_of(color, rng.uniform(0.55, 0.8))
    if kind == NOISE:
        return pal.add(NOISE, color, dark, scale=rng.uniform(0.1, 0.4))
    if kind == CHECKER:
        other = hsv(rng.random(), rng.uniform(0.1, 0.5), rng.uniform(0.5, 0.9))
        return pal.add(CHECKER, color, other, scale=rng.uniform(0.12, 0.35))
    if kind == STRIPES:
        other = hsv(rng.random(), rng.uniform(0.2, 0.6), rng.uniform(0.4, 0.9))
        angle = float(rng.choice([0.0, math.pi / 2, math.pi / 4]))
        return pal.add(STRIPES, color, other, scale=rng.uniform(0.08, 0.3), p0=angle, p1=0.5)
    return pal.add(WOOD, color, dark, scale=rng.uniform(0.05, 0.15), p0=float(rng.choice([0.0, 0.0, 0.2])))


def _ball_material(rng: np.random.Generator, pal: Palette, radius: float) -> int:
    """Bands or checks that close up around the sphere (u spans 2 pi r, v spans pi r)."""
    color = hsv(rng.random(), rng.uniform(0.4, 0.8), rng.uniform(0.6, 0.95))
    other = hsv(rng.random(), rng.uniform(0.2, 0.7), rng.uniform(0.5, 0.95))
    choice = rng.integers(3)
    if choice == 0:
        return pal.add(STRIPES, color, other, scale=math.pi * radius / int(rng.integers(3, 7)), p0=math.pi / 2, p1=0.5)
    if choice == 1:
        return pal.add(CHECKER, color, other, scale=2 * math.pi * radius / (2 * int(rng.integers(2, 5))))
    return pal.add(NOISE, color, shade_of(color, 0.6), scale=radius * 0.6)


def _indoor_room(rng: np.random.Generator, pal: Palette, half) -> SceneObject:
    """The room box (floor at z = 0) with random floor, wall and ceiling materials and per-face classes."""
    floor_color = hsv(rng.random(), rng.uniform(0.1, 0.4), rng.uniform(0.45, 0.8))
    kind = rng.integers(3)
    if kind == 0:
        floor = pal.add(TILES, floor_color, shade_of(floor_color, 0.6), scale=rng.uniform(0.3, 0.7), p0=0.04)
    elif kind == 1:
        floor = pal.add(
            WOOD, floor_color, shade_of(floor_color, 0.65), scale=rng.uniform(0.04, 0.1), p0=rng.uniform(0.12, 0.25)
        )
    else:
        floor = _surface_material(rng, pal, floor_color, (NOISE, CHECKER))
    wall_color = hsv(rng.random(), rng.uniform(0.05, 0.3), rng.uniform(0.7, 0.95))
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
    color = hsv(rng.random(), rng.uniform(0.2, 0.7), rng.uniform(0.45, 0.95))
    cls = INDOOR_CLASSES.index(kind)
    if kind == "ball":
        r = size[0]
        return SceneObject(
            [Prim(SPHERE, (x, y, z0 + r), (r, r, r), _ball_material(rng, pal, r), cls, random_rotation(rng))],
            thing=True,
        )
    if kind == "cabinet":
        hx, hy, hz = size
        mat = _surface_material(rng, pal, color)
        if rng.random() < 0.5:  # a chest of drawers: drawer fronts on its -y face
            drawers = pal.add(PANELS, color, shade_of(color, 0.45), p0=max(1, round(hz / 0.18)))
            mat = (mat, mat, drawers, mat, mat, mat)
        return SceneObject([Prim(BOX, (x, y, z0 + hz), (hx, hy, hz), mat, cls, yaw_rotation(yaw))], thing=True)
    hx, hy, height = size
    mat = _surface_material(rng, pal, color, (WOOD, WOOD, NOISE))
    rot = yaw_rotation(yaw)
    prims = [Prim(BOX, (x, y, z0 + height - 0.025), (hx, hy, 0.025), mat, cls, rot)]
    leg_h = (height - 0.05) / 2
    for sx in (-1, 1):
        for sy in (-1, 1):
            centre = offset((x, y), yaw, sx * (hx - 0.06), sy * (hy - 0.06), z0 + leg_h)
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


def indoor_scene(rng: np.random.Generator) -> Scene:
    """A room (4-8 m) seen from near its back wall, with cabinets, tables and balls, lit by a ceiling lamp."""
    pal = Palette()
    half = (rng.uniform(1.8, 3.6), rng.uniform(2.3, 4.0), rng.uniform(1.25, 1.6))
    objects = [_indoor_room(rng, pal, half)]
    cam_x = rng.uniform(-0.5, 0.5) * half[0]
    cam_y = -half[1] + rng.uniform(0.3, 1.0)
    yaw = rng.uniform(-0.6, 0.6)
    camera = Camera((cam_x, cam_y, rng.uniform(1.1, 1.8)), yaw, rng.uniform(-0.5, -0.12), INDOOR_FOCAL_RATIO)
    feet = Footprints()
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
    return Scene(camera, light, objects, pal.materials, noise=rng.random((NOISE_SIZE, NOISE_SIZE), np.float32))
