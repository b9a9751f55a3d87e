"""Atomic file writes: a reader (or a crash) never sees a half-written record or checkpoint."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch


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
