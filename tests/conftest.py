"""Shared fixtures: a data root (the configured one, so cached data is reused) and a results root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("AUTOSCALE_DATA_ROOT")
    return Path(configured) if configured else tmp_path_factory.mktemp("data")


@pytest.fixture
def results_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "results"
    monkeypatch.setenv("AUTOSCALE_RESULTS_ROOT", str(root))
    return root


@pytest.fixture(autouse=True)
def _use_data_root(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOSCALE_DATA_ROOT", str(data_root))
