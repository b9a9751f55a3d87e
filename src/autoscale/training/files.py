"""Atomic file writes: a reader (or a crash) never sees a half-written record or checkpoint.

Training checkpoints are saved and loaded through :func:`save_checkpoint` and
:func:`load_checkpoint`: a checkpoint may come from elsewhere (a PBT exploit copies one member's
checkpoint to another, possibly across nodes), and unpickling an arbitrary file runs whatever code it
names. So checkpoints are loaded with ``torch.load(weights_only=True)``, which builds only tensors
and plain Python values, and are saved holding nothing else.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autoscale.training.config import CorruptCheckpoint


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; a record is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file in the same folder, then rename it over ``path``."""
    _atomic(Path(path), lambda fh: fh.write(data))


def atomic_write_json(path: Path, obj: Any, indent: int | None = 1) -> None:
    """:func:`atomic_write_bytes` of ``obj`` as JSON (NaN and infinities allowed)."""
    atomic_write_bytes(path, json.dumps(obj, indent=indent, allow_nan=True).encode())


def atomic_torch_save(path: Path, obj: Any) -> None:
    """``torch.save`` through a temporary file and a rename."""
    _atomic(Path(path), lambda fh: torch.save(obj, fh))


def _plain(value: Any) -> Any:
    """``value`` with numpy arrays and scalars replaced by nested lists and Python numbers, which
    ``weights_only`` loading accepts (``tolist`` keeps every value exactly; the methods read them back
    with ``np.array``/``np.asarray``). A container is rebuilt only when something inside it changed,
    so that a module's ``state_dict`` keeps its OrderedDict with the ``_metadata`` its loading reads."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, Mapping):
        items = {key: _plain(item) for key, item in value.items()}
        return value if all(items[key] is value[key] for key in value) else items
    if isinstance(value, list | tuple):
        converted = [_plain(item) for item in value]
        if all(new is old for new, old in zip(converted, value, strict=True)):
            return value
        return tuple(converted) if isinstance(value, tuple) else converted
    return value


def save_checkpoint(path: Path, checkpoint: Mapping[str, Any]) -> None:
    """:func:`atomic_torch_save` of a training checkpoint in a form :func:`load_checkpoint` reads
    back: numpy values (AutoScale's window and predicted weights) are stored as lists and numbers."""
    atomic_torch_save(path, _plain(checkpoint))


def load_checkpoint(path: Path, map_location: str | torch.device) -> Any:
    """The checkpoint at ``path``, loaded with ``torch.load(weights_only=True)``: a file holding
    any other object (a pickle that would run code when loaded) is refused before anything in it
    runs. Any file that cannot be loaded raises :class:`~autoscale.training.config.CorruptCheckpoint`
    naming it (:mod:`autoscale.experiments.execute` then moves it aside and trains the run from the start)."""
    advice = "delete it to retrain from scratch"
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's message suggests weights_only=False, exactly what must not be done with such a file.
        reason = (
            "torch.load(weights_only=True) refused it: it is damaged or holds objects other than tensors and "
            f"plain Python values, which are not loaded since loading them could run code; {advice}"
        )
        raise CorruptCheckpoint(path, reason) from err
    except Exception as err:  # torch raises many types for truncated or foreign files
        raise CorruptCheckpoint(path, f"{type(err).__name__}: {err}; {advice}") from err
