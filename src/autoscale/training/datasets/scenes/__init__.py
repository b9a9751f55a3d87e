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

Modules
-------
* :mod:`.description`: label sets, camera constants, primitive kinds, texture patterns and the scene dataclasses.
* :mod:`.indoor`, :mod:`.street`: the random scene generators; :mod:`.generation`: helpers they share.
* :mod:`.compiled`: a scene flattened into per-primitive tables (named parameter rows, :class:`Params`).
* :mod:`.intersect`: ray-primitive hit tests; :mod:`.surfaces`: normals, faces and texture coordinates at hits.
* :mod:`.raycast`: primary and shadow rays, each primitive cast only on the pixel rectangle it projects to.
* :mod:`.textures`: procedural textures; :mod:`.frame`: one explicit :class:`Scene` to image and labels
  (:func:`render_scene`; the tests place cameras and primitives by hand).
"""

from __future__ import annotations

import numpy as np

from autoscale.training.datasets.scenes.compiled import Params
from autoscale.training.datasets.scenes.description import (
    BOX,
    CABIN,
    CHECKER,
    CYLINDER,
    FACADE,
    GROUND,
    IGNORE,
    INDOOR_CLASSES,
    INDOOR_FOCAL_RATIO,
    KINDS,
    NOISE,
    PANELS,
    ROAD,
    ROOM,
    SPHERE,
    STEREO_BASELINE,
    STREET_CLASSES,
    STREET_FOCAL_RATIO,
    STRIPES,
    TILES,
    WOOD,
    Camera,
    Light,
    Material,
    Prim,
    Scene,
    SceneObject,
    yaw_rotation,
)
from autoscale.training.datasets.scenes.frame import render_scene
from autoscale.training.datasets.scenes.indoor import indoor_scene
from autoscale.training.datasets.scenes.street import street_scene

__all__ = [
    "BOX",
    "CABIN",
    "CHECKER",
    "CYLINDER",
    "FACADE",
    "GROUND",
    "IGNORE",
    "INDOOR_CLASSES",
    "INDOOR_FOCAL_RATIO",
    "KINDS",
    "NOISE",
    "PANELS",
    "ROAD",
    "ROOM",
    "SPHERE",
    "STEREO_BASELINE",
    "STREET_CLASSES",
    "STREET_FOCAL_RATIO",
    "STRIPES",
    "TILES",
    "WOOD",
    "Camera",
    "Light",
    "Material",
    "Params",
    "Prim",
    "Scene",
    "SceneObject",
    "render",
    "render_scene",
    "yaw_rotation",
]

_GENERATORS = {"indoor": indoor_scene, "street": street_scene}


def _check_positive(name: str, value: object) -> None:
    """Raise ValueError unless ``value`` is a positive integer (bools excluded)."""
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
        for key, value in render_scene(scene, height, width, disparity=kind == "street").items():
            out[key][i] = value
    return out
