"""Datasets held as tensors on the training device, batched in the DataLoader's exact order.

On a GPU a small model's step takes well under a millisecond of compute, so collating samples on
the host and copying each batch across would dominate it. :func:`preload` reads a split once,
through the dataset's own ``__getitem__`` and the DataLoader's collation (so the tensors are
bit-identical to what a DataLoader yields), and keeps it on the device; a batch is then one gather.

Batch order: :func:`epoch_batches` draws the indices of an epoch with a ``DataLoader`` over the
index range, with the same ``shuffle``/``generator`` arguments the trainer gives the real loader.
Index and sample loaders consume the generator identically, so for the same seed the batches are
the same samples in the same order on every device (tested against the sample DataLoader).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

Batch = tuple[Tensor, dict[str, Tensor]]


# The shuffle's generator is seeded from (seed, epoch) apart from the global generator (a different
# prime stride than EPOCH_SEED_STRIDE), so that data order and dropout draws are independent streams.
SHUFFLE_SEED_STRIDE = 100_003


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator of the training loader's shuffle in ``epoch`` of a run with ``seed``."""
    return torch.Generator().manual_seed(seed * SHUFFLE_SEED_STRIDE + epoch)


def epoch_batches(n: int, batch_size: int, generator: torch.Generator | None) -> list[Tensor]:
    """Index batches (int64 tensors) of one pass over ``n`` samples: shuffled with ``generator``
    as ``DataLoader(..., shuffle=True, generator=generator)`` shuffles, or in order if ``None``."""
    loader = DataLoader(range(n), batch_size=batch_size, shuffle=generator is not None, generator=generator)
    return [torch.as_tensor(indices, dtype=torch.int64) for indices in loader]


def epoch_order(n: int, batch_size: int, generator: torch.Generator | None) -> Tensor:
    """The indices of :func:`epoch_batches` concatenated: the epoch's samples in training order."""
    return torch.cat(epoch_batches(n, batch_size, generator))


def augments(dataset: Dataset) -> bool:
    """Whether ``dataset`` draws random augmentations per sample (then it cannot be preloaded)."""
    return bool(getattr(dataset, "augment", False))


@dataclass
class PreloadedSplit:
    """A whole split as tensors on one device: inputs (N, ...) and per-task targets (N, ...)."""

    inputs: Tensor
    targets: dict[str, Tensor]

    def __len__(self) -> int:
        return len(self.inputs)

    def batch(self, indices: Tensor) -> Batch:
        """The samples at ``indices`` (any leading shape: (B,) or (M, B) for a stack of runs)."""
        indices = indices.to(self.inputs.device, non_blocking=True)
        return self.inputs[indices], {name: t[indices] for name, t in self.targets.items()}

    def batches(self, batch_size: int, generator: torch.Generator | None = None) -> Iterator[Batch]:
        # The epoch's order goes to the device in one copy: a copy from host memory per batch
        # would make the host wait for the device every step.
        order = epoch_order(len(self), batch_size, generator).to(self.inputs.device)
        for start in range(0, len(order), batch_size):
            yield self.batch(order[start : start + batch_size])


def preload(dataset: Dataset, device: torch.device | str, chunk: int = 1024) -> PreloadedSplit:
    """``dataset`` read once (its ``__getitem__``, default collation) and stored on ``device``."""
    if augments(dataset):
        raise ValueError(
            "a dataset with random augmentation draws new samples every epoch and cannot be preloaded; "
            "train it with the DataLoader (augment=False to preload)"
        )
    inputs: list[Tensor] = []
    targets: dict[str, list[Tensor]] = {}
    for x, y in DataLoader(dataset, batch_size=chunk, shuffle=False):
        inputs.append(x)
        for name, t in y.items():
            targets.setdefault(name, []).append(t)
    return PreloadedSplit(
        torch.cat(inputs).to(device), {name: torch.cat(parts).to(device) for name, parts in targets.items()}
    )
