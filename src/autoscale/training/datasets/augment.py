"""Transforms of dense samples: nearest resizing, the community's scale-crop-flip augmentation, and
the instance-offset target.

A *raw sample* is a dict of channel-first tensors of one image: ``image`` (3,H,W) float in [0, 1],
``semantic`` (H,W) int64 (-1 ignore), ``depth`` / ``disparity`` / ``edge`` (1,H,W) float
(0 = invalid for depth and disparity), ``normal`` (3,H,W) float (channel 0 = x, pointing right;
all-zero = invalid) and ``instance`` (H,W) int64 instance ids (0 = no instance). Instance *ids*
travel through the geometric transforms and are turned into offsets only at the end
(:func:`instance_offsets`), so that the centres always match the final crop, scale and flip.

Augmentation follows the MTL community's NYUv2 / CityScapes recipe (RandomScaleCrop credited to
Jialong Wu in lorenmt/mtan#34, used by mtan, CAGrad, Nash-MTL; the horizontal flip with the normal's
x negated and disparity multiplied by the scale as in Auto-Lambda's ``DataTransform``): pick a scale
s from {1.0, 1.2, 1.5}, crop a random window of (H/s, W/s), resize it back to (H, W) (image
bilinear, every label nearest so that classes, ids and unit normals stay exact), divide depth by s
(the object now looks s times closer) and multiply disparity by s; then flip horizontally with
probability 1/2.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

SCALES = (1.0, 1.2, 1.5)


def resize_nearest(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Nearest-neighbour resize of the last two dims of ``x`` (any dtype) to ``size``.

    Output pixel i samples input pixel floor((i + 0.5) * n_in / n_out), the pixel whose area holds
    the output pixel's centre (PIL's NEAREST, torch's "nearest-exact"); done by indexing so that
    integer ids and labels are never cast to float.
    """
    rows = _nearest_index(x.shape[-2], size[0])
    cols = _nearest_index(x.shape[-1], size[1])
    return x[..., rows[:, None], cols]


def _nearest_index(n_in: int, n_out: int) -> Tensor:
    return ((torch.arange(n_out, dtype=torch.float64) + 0.5) * n_in / n_out).floor().long().clamp_(max=n_in - 1)


def _randint(high: int, generator: torch.Generator | None) -> int:
    return int(torch.randint(high, (1,), generator=generator))


def random_scale_crop(
    sample: dict[str, Tensor], generator: torch.Generator | None = None, scales: tuple[float, ...] = SCALES
) -> dict[str, Tensor]:
    """Zoom into a random window: scale s from ``scales``, crop (H/s, W/s), resize back to (H, W)."""
    height, width = sample["image"].shape[-2:]
    scale = scales[_randint(len(scales), generator)]
    crop_h, crop_w = int(height / scale), int(width / scale)
    top = _randint(height - crop_h + 1, generator)
    left = _randint(width - crop_w + 1, generator)
    out = {}
    for name, x in sample.items():
        window = x[..., top : top + crop_h, left : left + crop_w]
        if name == "image":
            out[name] = F.interpolate(window[None], size=(height, width), mode="bilinear", align_corners=False)[0]
        else:
            out[name] = resize_nearest(window, (height, width))
    if "depth" in out:
        out["depth"] = out["depth"] / scale  # invalid zeros stay zero
    if "disparity" in out:
        out["disparity"] = out["disparity"] * scale  # disparity is inverse depth
    return out


def hflip(sample: dict[str, Tensor]) -> dict[str, Tensor]:
    """Mirror left-right; the normal's x component changes sign (the surface now faces the other way)."""
    out = {name: x.flip(-1) for name, x in sample.items()}
    if "normal" in out:
        out["normal"] = out["normal"] * torch.tensor([-1.0, 1.0, 1.0], dtype=out["normal"].dtype)[:, None, None]
    return out


def augment(sample: dict[str, Tensor], generator: torch.Generator | None = None) -> dict[str, Tensor]:
    """Random scale-crop, then a horizontal flip with probability 1/2 (see the module docstring)."""
    sample = random_scale_crop(sample, generator)
    if torch.rand((), generator=generator) < 0.5:
        sample = hflip(sample)
    return sample


def instance_offsets(ids: Tensor) -> Tensor:
    """The instance target (3,H,W) float32 of an (H,W) id map (0 = no instance).

    Channel 0 is 1 on instance pixels; channels 1 and 2 are (dy, dx) from the pixel to the centre of
    its instance, the mean (row, column) of the instance's pixels (Kendall et al., 2018, and
    Panoptic-DeepLab's centre-offset regression); zero elsewhere. Pixels of an id need not be
    connected: an instance split by an occluder keeps one centre.
    """
    height, width = ids.shape
    out = torch.zeros(3, height, width, dtype=torch.float32)
    mask = ids > 0
    if not bool(mask.any()):
        return out
    ys, xs = torch.nonzero(mask, as_tuple=True)  # row-major, the same order as ids[mask]
    _, inverse = torch.unique(ids[mask], return_inverse=True)
    count = torch.bincount(inverse).double()
    centre_y = torch.bincount(inverse, weights=ys.double()) / count
    centre_x = torch.bincount(inverse, weights=xs.double()) / count
    out[0, ys, xs] = 1.0
    out[1, ys, xs] = (centre_y[inverse] - ys).float()
    out[2, ys, xs] = (centre_x[inverse] - xs).float()
    return out
