"""Where data and results live: environment variables, else folders in the working directory."""

from __future__ import annotations

import os
from pathlib import Path


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: ``root`` if given, else ``$AUTOSCALE_DATA_ROOT``, else ``./data``."""
    return Path(root or os.environ.get("AUTOSCALE_DATA_ROOT") or "data").expanduser().resolve()


def results_root(root: str | os.PathLike | None = None) -> Path:
    """The run-store root: ``root`` if given, else ``$AUTOSCALE_RESULTS_ROOT``, else ``./results``."""
    return Path(root or os.environ.get("AUTOSCALE_RESULTS_ROOT") or "results").expanduser().resolve()
