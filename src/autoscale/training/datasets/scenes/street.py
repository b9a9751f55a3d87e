"""Random street scenes: road, sidewalks, façades, cars, trees, poles and pedestrians under a sun (CityScapes
stand-in)."""

from __future__ import annotations

import math

import numpy as np

from autoscale.training.datasets.scenes.description import (
    BOX,
    CABIN,
    CYLINDER,
    FACADE,
    GROUND,
    NOISE,
    NOISE_SIZE,
    ROAD,
    SPHERE,
    STREET_CLASSES,
    STREET_FOCAL_RATIO,
    TILES,
    Camera,
    Light,
    Prim,
    Scene,
    SceneObject,
    yaw_rotation,
)
from autoscale.training.datasets.scenes.generation import Footprints, Palette, hsv, offset, random_rotation, shade_of

_STREET_END = 220.0  # metres ahead of the camera where the street (and the world) ends


def _street_stuff(rng: np.random.Generator, pal: Palette, road: float, walk: float) -> list[SceneObject]:
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
    paving = hsv(rng.uniform(0.05, 0.15), rng.uniform(0.0, 0.15), rng.uniform(0.55, 0.72))
    walk_mat = pal.add(TILES, paving, shade_of(paving, 0.75), scale=rng.uniform(0.4, 0.8), p0=0.04)
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


def _buildings(rng: np.random.Generator, pal: Palette, side: float, kerb: float) -> list[SceneObject]:
    """A row of façade blocks along one side of the street (x = side * kerb outwards), from y = -30 m."""
    lo, hi = _BUILDING_RANGES.T
    draws = (lo + (hi - lo) * rng.random((int(_STREET_END) // 8 + 4, len(lo)))).tolist()
    objects, y = [], -30.0
    cls = STREET_CLASSES.index("building")
    for length, gap_p, gap, depth, setback, height, *colours, spacing, width, storey in draws:
        if y >= _STREET_END - 20.0:
            break
        y += gap if gap_p < 0.12 else 0.0
        mat = pal.add(FACADE, hsv(*colours[:3]), hsv(*colours[3:]), scale=spacing, p0=width, p1=storey)
        centre = (side * (kerb + setback + depth / 2), y + length / 2, height / 2)
        objects.append(SceneObject([Prim(BOX, centre, (depth / 2, length / 2, height / 2), mat, cls)]))
        y += length
    return objects


def _car(rng: np.random.Generator, pal: Palette, x: float, y: float, yaw: float, size) -> SceneObject:
    """A car at (x, y) heading along ``yaw``: body, glazed cabin and two wheel axles; ``size`` = (length, width)."""
    length, width = size
    cls = STREET_CLASSES.index("car")
    color = hsv(rng.random(), rng.uniform(0.0, 0.8), rng.uniform(0.3, 0.95))
    body_mat = pal.add(NOISE, color, shade_of(color, 0.8), scale=0.5)
    cabin_mat = pal.add(CABIN, color, (0.1, 0.12, 0.16))
    wheel_mat = pal.add(NOISE, (0.07, 0.07, 0.07), (0.15, 0.15, 0.15), scale=0.1)
    rot = yaw_rotation(yaw)
    bottom, body_h, cabin_h = 0.28, rng.uniform(0.5, 0.7), rng.uniform(0.42, 0.58)
    prims = [
        Prim(BOX, (x, y, bottom + body_h / 2), (width / 2, length / 2, body_h / 2), body_mat, cls, rot),
        Prim(
            BOX,
            offset((x, y), yaw, 0.0, -0.06 * length, bottom + body_h + cabin_h / 2),
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
                offset((x, y), yaw, 0.0, along * length, 0.32),
                (0.32, 0.32, width / 2 + 0.02),
                wheel_mat,
                cls,
                wheel_rot,
            )
        )
    return SceneObject(prims, thing=True)


def _person(rng: np.random.Generator, pal: Palette, x: float, y: float, z0: float) -> SceneObject:
    """A pedestrian standing at (x, y, z0): two legs, torso and head."""
    cls = STREET_CLASSES.index("person")
    yaw = rng.uniform(-math.pi, math.pi)
    height = rng.uniform(1.55, 1.9)
    leg = 0.47 * height
    trousers = pal.add(
        NOISE, hsv(rng.random(), rng.uniform(0.1, 0.6), rng.uniform(0.15, 0.5)), (0.1, 0.1, 0.12), scale=0.3
    )
    shirt_color = hsv(rng.random(), rng.uniform(0.2, 0.8), rng.uniform(0.35, 0.95))
    shirt = pal.add(NOISE, shirt_color, shade_of(shirt_color, 0.7), scale=0.2)
    skin = pal.add(
        NOISE,
        hsv(rng.uniform(0.03, 0.09), rng.uniform(0.3, 0.6), rng.uniform(0.35, 0.9)),
        (0.3, 0.2, 0.15),
        scale=0.05,
    )
    rot = yaw_rotation(yaw)
    torso_h = height - 0.24 - leg
    prims = [
        Prim(BOX, offset((x, y), yaw, side * 0.1, 0.0, z0 + leg / 2), (0.075, 0.09, leg / 2), trousers, cls, rot)
        for side in (-1, 1)
    ]
    prims.append(Prim(BOX, (x, y, z0 + leg + torso_h / 2), (0.23, 0.13, torso_h / 2), shirt, cls, rot))
    prims.append(Prim(SPHERE, (x, y, z0 + height - 0.12), (0.12, 0.12, 0.12), skin, cls, rot))
    return SceneObject(prims, thing=True)


def _tree(rng: np.random.Generator, pal: Palette, x: float, y: float, z0: float) -> SceneObject:
    """A tree at (x, y, z0): cylinder trunk and spherical crown."""
    cls = STREET_CLASSES.index("vegetation")
    trunk_r, trunk_h, crown = rng.uniform(0.12, 0.22), rng.uniform(2.0, 3.2), rng.uniform(1.2, 2.2)
    bark = pal.add(NOISE, (0.35, 0.25, 0.16), (0.2, 0.13, 0.08), scale=0.1)
    leaf = hsv(rng.uniform(0.22, 0.36), rng.uniform(0.4, 0.7), rng.uniform(0.35, 0.65))
    leaves = pal.add(NOISE, leaf, shade_of(leaf, 0.45), scale=0.25)
    return SceneObject(
        [
            Prim(CYLINDER, (x, y, z0 + trunk_h / 2), (trunk_r, trunk_r, trunk_h / 2), bark, cls),
            Prim(SPHERE, (x, y, z0 + trunk_h + 0.7 * crown), (crown,) * 3, leaves, cls, random_rotation(rng)),
        ]
    )


def _pole(rng: np.random.Generator, pal: Palette, x: float, y: float, z0: float, side: float) -> SceneObject:
    """A lamp pole at (x, y, z0) whose arm reaches over the street (towards -side)."""
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


def street_scene(rng: np.random.Generator) -> Scene:
    """A straight street: road with markings, sidewalks, façades, parked and driving cars, trees, poles, people."""
    pal = Palette()
    road, walk = rng.uniform(3.5, 7.0), rng.uniform(2.5, 5.0)
    objects = _street_stuff(rng, pal, road, walk)
    cam = (rng.uniform(-road + 1.3, road - 1.3), 0.0, rng.uniform(1.3, 1.8))
    camera = Camera(cam, rng.uniform(-0.2, 0.2), rng.uniform(-0.1, 0.03), STREET_FOCAL_RATIO)
    feet = Footprints()
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
        noise=rng.random((NOISE_SIZE, NOISE_SIZE), np.float32),
    )
