"""Where data and results live: environment variables, else folders of the checkout being worked in.

The default folders are ``data/`` and ``results/`` of the nearest directory at or above the working
directory that is a checkout of this project (it holds ``pyproject.toml`` and ``src/autoscale``),
else of the working directory itself. So a notebook executed from ``notebooks/`` (papermill
``--cwd notebooks``) reads the same run store as a command run from the checkout's root.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_folder(cwd: Path | None = None) -> Path:
    """The nearest checkout of this project at or above ``cwd`` (default: the working directory), else ``cwd``."""
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "src" / "autoscale").is_dir():
            return folder
    return here


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: ``root`` if given, else ``$AUTOSCALE_DATA_ROOT``, else the checkout's ``data/``."""
    return Path(root or os.environ.get("AUTOSCALE_DATA_ROOT") or project_folder() / "data").expanduser().resolve()


def results_root(root: str | os.PathLike | None = None) -> Path:
    """The run-store root: ``root`` if given, else ``$AUTOSCALE_RESULTS_ROOT``, else the checkout's ``results/``."""
    return Path(root or os.environ.get("AUTOSCALE_RESULTS_ROOT") or project_folder() / "results").expanduser().resolve()
