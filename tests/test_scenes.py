"""Tests of the procedural scene renderer (autoscale.training.datasets.scenes): labels and closed-form geometry."""

import math

import numpy as np
import pytest

from autoscale.training.datasets import scenes
from autoscale.training.datasets.scenes import (
    INDOOR_CLASSES,
    STEREO_BASELINE,
    STREET_CLASSES,
    STREET_FOCAL_RATIO,
    Camera,
    Light,
    Material,
    Prim,
    Scene,
    SceneObject,
    render,
)
from autoscale.training.datasets.scenes.compiled import CENTER, HALF, ROTATION, compile_scene

H, W = 24, 32
THINGS = {"indoor": {"cabinet", "table", "ball"}, "street": {"car", "person"}}
CLASSES = {"indoor": INDOOR_CLASSES, "street": STREET_CLASSES}


@pytest.fixture(scope="module", params=["indoor", "street"])
def batch(request):
    return request.param, render(request.param, 4, H, W, seed=3)


def _camera_rays(height, width, focal_ratio):
    """Camera-frame ray (x, y, 1) through each pixel centre, derived independently of the renderer."""
    f = focal_ratio * width
    x = (np.arange(width) + 0.5 - width / 2) / f
    y = (np.arange(height) + 0.5 - height / 2) / f
    return np.stack(np.broadcast_arrays(x[None, :], y[:, None], np.ones((height, width))), axis=-1)


def test_shapes_and_dtypes(batch):
    kind, out = batch
    expected = {
        "image": (4, H, W, 3),
        "depth": (4, H, W),
        "normal": (4, H, W, 3),
        "semantic": (4, H, W),
        "instance": (4, H, W),
        "edge": (4, H, W),
    }
    if kind == "street":
        expected["disparity"] = (4, H, W)
    assert {k: v.shape for k, v in out.items()} == expected
    for key in ("image", "depth", "normal", "edge") + (("disparity",) if kind == "street" else ()):
        assert out[key].dtype == np.float32, key
    assert out["semantic"].dtype == np.int16
    assert out["instance"].dtype == np.int32
    assert np.isfinite(out["image"]).all() and out["image"].min() >= 0 and out["image"].max() <= 1
    assert set(np.unique(out["edge"])) <= {0.0, 1.0}
    assert out["semantic"].min() >= 0 and out["semantic"].max() < len(CLASSES[kind])


@pytest.mark.parametrize("kind", ["indoor", "street"])
def test_deterministic_and_independent_of_n(kind):
    a = render(kind, 2, H, W, seed=11)
    b = render(kind, 2, H, W, seed=11)
    c = render(kind, 4, H, W, seed=11)
    for key in a:
        assert a[key].tobytes() == b[key].tobytes(), key
        assert a[key].tobytes() == c[key][:2].tobytes(), key
    assert not np.array_equal(a["image"], render(kind, 2, H, W, seed=12)["image"])


def test_normals_unit_facing_camera_and_zero_where_invalid(batch):
    kind, out = batch
    focal_ratio = STREET_FOCAL_RATIO if kind == "street" else scenes.INDOOR_FOCAL_RATIO
    rays = _camera_rays(H, W, focal_ratio)
    valid = out["depth"] > 0
    length = np.linalg.norm(out["normal"], axis=-1)
    np.testing.assert_allclose(length[valid], 1.0, atol=1e-4)
    assert (out["normal"][~valid] == 0).all()
    assert ((out["normal"] * rays).sum(-1)[valid] < 0).all()


def test_depth_valid_exactly_off_sky(batch):
    kind, out = batch
    if kind == "street":
        sky = out["semantic"] == STREET_CLASSES.index("sky")
        assert sky.any() and (~sky).any()
        assert np.array_equal(out["depth"] > 0, ~sky)
    else:  # closed rooms: every pixel sees a surface with a class
        assert (out["depth"] > 0).all() and (out["semantic"] >= 0).all()
    assert np.isfinite(out["depth"]).all()


def test_disparity_matches_depth():
    out = render("street", 2, H, W, seed=5)
    valid = out["depth"] > 0
    focal = STREET_FOCAL_RATIO * W
    np.testing.assert_allclose(out["disparity"][valid], STEREO_BASELINE * focal / out["depth"][valid], rtol=1e-6)
    assert (out["disparity"][~valid] == 0).all()


def test_instances_are_things_with_one_class_each(batch):
    kind, out = batch
    thing_ids = {CLASSES[kind].index(name) for name in THINGS[kind]}
    total = 0
    for sem, inst in zip(out["semantic"], out["instance"], strict=True):
        ids = np.unique(inst[inst > 0])
        assert np.array_equal(ids, np.arange(1, len(ids) + 1))  # 1..m
        for i in ids:
            classes = np.unique(sem[inst == i])
            assert len(classes) == 1 and int(classes[0]) in thing_ids
        # every pixel of a thing class belongs to an instance
        assert (inst[np.isin(sem, list(thing_ids))] > 0).all()
        total += len(ids)
    assert total > 0


def _jumps(depth):
    """Pixels where inverse depth (affine in pixel coordinates on any plane) bends or jumps by more than 15 %."""
    valid = depth > 0
    inv = np.where(valid, 1 / np.where(valid, depth, 1), 0)
    flagged = np.zeros_like(valid)
    for prev, mid, nxt, dest in (
        ((slice(None, -2),), (slice(1, -1),), (slice(2, None),), (slice(1, -1),)),
        (
            (slice(None), slice(None, -2)),
            (slice(None), slice(1, -1)),
            (slice(None), slice(2, None)),
            (slice(None), slice(1, -1)),
        ),
    ):
        ok = valid[prev] & valid[mid] & valid[nxt]
        flagged[dest] |= ok & (np.abs(inv[prev] - 2 * inv[mid] + inv[nxt]) > 0.15 * inv[mid])
    return flagged


def _dilate(mask):
    """3x3 dilation (pixels within one pixel, diagonals included)."""
    padded = np.pad(mask, 1)
    h, w = mask.shape
    return np.any([padded[r : r + h, c : c + w] for r in range(3) for c in range(3)], axis=0)


@pytest.mark.parametrize("kind", ["indoor", "street"])
def test_edges_cover_depth_discontinuities(kind):
    """Independent check: inverse depth is affine in pixel coordinates on planes, so a large second difference
    (a jump or a crease) must lie within one pixel of an edge pixel; every pixel next to the sky is an edge."""
    out = render(kind, 6, 48, 64, seed=2)
    for depth, edge in zip(out["depth"], out["edge"], strict=True):
        edge = edge > 0
        jumps = _jumps(depth)
        assert jumps.any()
        assert _dilate(edge)[jumps].all()
        valid = depth > 0
        padded = np.pad(valid, 1, constant_values=True)
        h, w = valid.shape
        next_to_sky = valid & ~np.all(
            [padded[r : r + h, c : c + w] for r, c in ((0, 1), (2, 1), (1, 0), (1, 2))], axis=0
        )
        assert edge[next_to_sky].all()
        assert 0.01 < edge.mean() < 0.3


@pytest.mark.parametrize(
    ("kind", "n", "h", "w", "seed", "message"),
    [
        ("outdoor", 1, 8, 8, 0, "indoor, street"),
        ("indoor", 0, 8, 8, 0, "n must be"),
        ("street", 1, 0, 8, 0, "height must be"),
        ("street", 1, 8, -4, 0, "width must be"),
        ("indoor", 1, 8, 8, -1, "seed must be"),
        ("indoor", 2.5, 8, 8, 0, "n must be"),
    ],
)
def test_bad_input(kind, n, h, w, seed, message):
    with pytest.raises(ValueError, match=message):
        render(kind, n, h, w, seed)


# ---------------------------------------------------------------------------------------- closed-form geometry
_GREY = [Material(scenes.NOISE, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]
_FLAT_LIGHT = Light((0.0, 0.0, 1.0), ambient=1.0, intensity=0.0)


def _ground(size=100.0):
    return SceneObject([Prim(scenes.GROUND, (0.0, 0.0, 0.0), (size, size, 0.0))], shadow=False)


def test_floor_depth_matches_closed_form():
    """Camera at height h pitched down by -pitch: a pixel with camera-frame ray (x, y, 1) meets z = 0 at depth
    h / (y cos(pitch) - sin(pitch)) (the ray's world z component is sin(pitch) - y cos(pitch))."""
    h, pitch = 1.6, -0.3
    cam = Camera((0.0, 0.0, h), yaw=0.4, pitch=pitch)
    out = scenes.render_scene(Scene(cam, _FLAT_LIGHT, [_ground(1e4)], _GREY), H, W)
    y = _camera_rays(H, W, cam.focal_ratio)[..., 1]
    down = y * math.cos(pitch) - math.sin(pitch)
    hits = down > 0.02  # well below the horizon, where float32 rays are accurate to 1e-5
    assert hits.sum() > H * W / 3
    np.testing.assert_allclose(out["depth"][hits], (h / down)[hits], rtol=1e-5)
    assert (out["depth"][down < -1e-3] == 0).all()
    np.testing.assert_allclose(
        out["normal"][hits], np.broadcast_to([0, -math.cos(pitch), math.sin(pitch)], (hits.sum(), 3)), atol=1e-5
    )


def test_sphere_matches_closed_form():
    """Camera at the origin looking along +y at a sphere (centre D ahead, radius R): the ray (x, y, 1) hits it iff
    x^2 + y^2 <= R^2 / (D^2 - R^2), at t = (D - sqrt(D^2 - |d|^2 (D^2 - R^2))) / |d|^2, |d|^2 = 1 + x^2 + y^2."""
    dist, radius = 5.0, 1.2
    cam = Camera((0.0, 0.0, 0.0))
    ball = SceneObject([Prim(scenes.SPHERE, (0.0, dist, 0.0), (radius,) * 3)], thing=True)
    out = scenes.render_scene(Scene(cam, _FLAT_LIGHT, [ball], _GREY, sky=((0, 0, 1), (1, 1, 1))), H, W)
    rays = _camera_rays(H, W, cam.focal_ratio)
    r2 = rays[..., 0] ** 2 + rays[..., 1] ** 2
    limit = radius**2 / (dist**2 - radius**2)
    clear = np.abs(r2 - limit) > 1e-3 * limit
    assert np.array_equal((out["depth"] > 0)[clear], (r2 <= limit)[clear])
    inside = (r2 < limit) & clear
    norm2 = 1 + r2
    t = (dist - np.sqrt(np.maximum(dist**2 - norm2 * (dist**2 - radius**2), 0))) / norm2
    np.testing.assert_allclose(out["depth"][inside], t[inside], rtol=1e-5)
    # camera-frame centre is (0, 0, D); the normal is (t * ray - centre) / R
    expected = (t[..., None] * rays - [0.0, 0.0, dist]) / radius
    np.testing.assert_allclose(out["normal"][inside], expected[inside], atol=1e-4)
    assert (out["instance"][inside] == 1).all() and (out["instance"][~(out["depth"] > 0)] == 0).all()


def _box_scene(yaw, half):
    box = SceneObject([Prim(scenes.BOX, (0.0, 5.0, 1.0), half, rotation=scenes.yaw_rotation(yaw))], thing=True)
    return Scene(Camera((0.0, 0.0, 1.0)), _FLAT_LIGHT, [box], _GREY, sky=((0, 0, 1), (1, 1, 1)))


def test_box_face_matches_closed_form():
    """Camera at (0, 0, 1) looking along +y at a box centred 5 m ahead with half extents (1, 0.5, 0.6): only the
    front face y = 4.5 is visible, at depth 4.5, where |x| <= 1 / 4.5 and |y| <= 0.6 / 4.5; its normal is -z.
    The box turned by 90 degrees with swapped half extents is the same box. Its outline pixels are edges."""
    out = scenes.render_scene(_box_scene(0.0, (1.0, 0.5, 0.6)), H, W)
    turned = scenes.render_scene(_box_scene(math.pi / 2, (0.5, 1.0, 0.6)), H, W)
    rays = _camera_rays(H, W, scenes.INDOOR_FOCAL_RATIO)
    inside = (np.abs(rays[..., 0]) <= 1 / 4.5) & (np.abs(rays[..., 1]) <= 0.6 / 4.5)
    assert inside.sum() > 20
    assert np.array_equal(out["depth"] > 0, inside)
    np.testing.assert_allclose(out["depth"][inside], 4.5, rtol=1e-6)
    np.testing.assert_allclose(out["normal"][inside], np.broadcast_to([0, 0, -1], (inside.sum(), 3)), atol=1e-6)
    np.testing.assert_allclose(turned["depth"], out["depth"], rtol=1e-5)
    np.testing.assert_allclose(turned["normal"], out["normal"], atol=1e-5)
    padded = np.pad(inside, 1)
    interior = inside & np.all([padded[r : r + H, c : c + W] for r, c in ((0, 1), (2, 1), (1, 0), (1, 2))], axis=0)
    assert np.array_equal(out["edge"] > 0, inside & ~interior)


def _shadow_scene(light, centre, radius):
    ball = SceneObject([Prim(scenes.SPHERE, centre, (radius,) * 3)])
    cam = Camera((0.0, -6.0, 4.0), pitch=-0.6)
    return Scene(cam, light, [_ground(), ball], _GREY, noise=np.zeros((64, 64), np.float32))


def _ground_points(out, cam):
    """World points of the pixels, from depth and the camera pose."""
    rays = _camera_rays(*out["depth"].shape, cam.focal_ratio) * out["depth"][..., None]
    return rays @ cam.rotation().T + np.array(cam.position)


@pytest.mark.parametrize("point", [False, True])
def test_cast_shadow_of_sphere(point):
    """Sun straight above: the shadow of a sphere on the ground is the disc of its radius below the centre.
    Point light at height L straight above the centre (height c): a disc of radius L tan(asin(R / (L - c)))."""
    centre, radius = (0.3, 1.0, 1.0), 0.8
    if point:
        lamp = 3.0
        light = Light((centre[0], centre[1], lamp), point=True, intensity=0.6, ambient=0.3)
        shadow_radius = lamp * math.tan(math.asin(radius / (lamp - centre[2])))
    else:
        light = Light((0.0, 0.0, 1.0), intensity=0.6, ambient=0.3)
        shadow_radius = radius
    scene = _shadow_scene(light, centre, radius)
    out = scenes.render_scene(scene, 48, 64)
    points = _ground_points(out, scene.camera)
    on_ground = (out["depth"] > 0) & (np.abs(points[..., 2]) < 1e-3)
    dist = np.hypot(points[..., 0] - centre[0], points[..., 1] - centre[1])
    shadowed = on_ground & (dist < shadow_radius * 0.97)
    lit = on_ground & (dist > shadow_radius * 1.03)
    assert shadowed.sum() > 20 and lit.sum() > 20
    brightness = out["image"].mean(-1)
    np.testing.assert_allclose(brightness[shadowed], 0.5 * 0.3, rtol=1e-5)  # ambient only (normal up)
    to_light = np.array(light.vector) - points if point else np.broadcast_to(light.vector, points.shape)
    cos = to_light[..., 2] / np.linalg.norm(to_light, axis=-1)
    np.testing.assert_allclose(brightness[lit], (0.5 * (0.3 + 0.6 * cos))[lit], rtol=1e-4)


def test_parameter_rows_name_a_primitives_centre_rotation_and_half_size():
    """The named fields of a compiled row and the slices of the column table both read back the Prim."""
    rotation = scenes.yaw_rotation(0.3)
    prim = Prim(scenes.BOX, (1.0, 2.0, 3.0), (0.5, 0.25, 0.125), rotation=rotation)
    scene = Scene(Camera((0.0, -5.0, 1.0)), _FLAT_LIGHT, [SceneObject([prim])], _GREY)
    comp = compile_scene(scene)
    row = comp.rows[0]
    f32 = np.float32
    assert row.center == tuple(map(f32, prim.center)) and row.half == tuple(map(f32, prim.size))
    rows = ((row.r00, row.r01, row.r02), (row.r10, row.r11, row.r12), (row.r20, row.r21, row.r22))
    np.testing.assert_array_equal(np.array(rows), np.array(rotation, f32).reshape(3, 3))
    column = comp.params_t[:, 0]
    np.testing.assert_array_equal(column[CENTER], np.array(prim.center, f32))
    np.testing.assert_array_equal(column[ROTATION], np.array(rotation, f32))
    np.testing.assert_array_equal(column[HALF], np.array(prim.size, f32))


@pytest.mark.parametrize("kind", ["indoor", "street"])
def test_screen_space_culling_is_exact(kind, monkeypatch):
    """The rectangles that restrict primary and shadow rays must not change a single pixel."""
    culled = render(kind, 6, 32, 48, seed=8)

    def full_frame(lo, hi, cam, rot, height, width, full=None):
        return np.tile([0, height, 0, width], (len(lo), 1))

    monkeypatch.setattr(scenes.frame, "screen_rects", full_frame)
    brute = render(kind, 6, 32, 48, seed=8)
    for key in culled:
        assert np.array_equal(culled[key], brute[key]), key


def test_public_name_autoscale_data_is_the_datasets_package():
    import autoscale.data
    import autoscale.data.scenes
    import autoscale.training.datasets
    from autoscale.data.scenes import render as public_render
    from autoscale.training.datasets import build_dataset

    assert autoscale.data is autoscale.training.datasets
    assert autoscale.data.scenes is autoscale.training.datasets.scenes
    assert public_render is autoscale.training.datasets.scenes.render
    assert build_dataset is autoscale.training.datasets.build_dataset
