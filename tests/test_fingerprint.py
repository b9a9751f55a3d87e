"""Per-run fingerprints: a record goes stale only when code its run executes changes.

Each case edits a copy of the package and compares the fingerprints of the same run configs
computed on the original and on the copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autoscale.experiments import fingerprint
from autoscale.experiments.fingerprint import PACKAGE_DIR, run_fingerprint

CONFIGS = {
    "famo on multimnist": {"benchmark": "multimnist", "method": "famo"},
    "famo on street": {"benchmark": "scenes-street", "method": "famo"},
    "uw on multimnist": {"benchmark": "multimnist", "method": "uw"},
    "imtlg on multimnist": {"benchmark": "multimnist", "method": "imtlg"},
    "autoscale exploring with famo": {
        "benchmark": "multimnist",
        "method": "autoscale",
        "method_options": {"explore": "famo"},
    },
    "autoscale with its default explorer": {"benchmark": "multimnist", "method": "autoscale"},
    "linear on indoor": {"benchmark": "scenes-indoor", "method": "linear", "method_options": {"weights": [1] * 4}},
}


@pytest.fixture
def package(tmp_path: Path) -> Path:
    copy = tmp_path / "autoscale"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    fingerprint.clear_cache()
    yield copy
    fingerprint.clear_cache()


def changed(package: Path) -> set[str]:
    """The runs of :data:`CONFIGS` whose fingerprint differs between the package and its copy."""
    fingerprint.clear_cache()
    return {name for name, c in CONFIGS.items() if run_fingerprint(c) != run_fingerprint(c, package)}


def append(path: Path, code: str) -> None:
    path.write_text(path.read_text() + code)


def test_an_unchanged_copy_has_the_same_fingerprints(package: Path) -> None:
    assert changed(package) == set()
    # Prose and formatting are not code.
    famo = package / "methods" / "famo.py"
    famo.write_text(famo.read_text().replace("# ", "#  ") + "\n\n# a comment\n")
    assert changed(package) == set()


def test_adding_a_method_or_a_benchmark_changes_no_record(package: Path) -> None:
    (package / "methods" / "newer.py").write_text(
        "from autoscale.methods.base import MethodInfo, Weighting\n"
        "from autoscale.methods.registry import register\n\n\n"
        '@register("newer")\nclass Newer(Weighting):\n'
        '    info = MethodInfo(label="Newer", family="loss")\n'
    )
    (package / "training" / "datasets" / "toy.py").write_text("def build_toy(root, split):\n    return []\n")
    append(
        package / "training" / "datasets" / "__init__.py",
        '\n\n@DATASETS.register("toy")\ndef _toy(root, split, **options):\n'
        "    from autoscale.training.datasets.toy import build_toy\n\n    return build_toy(root, split)\n",
    )
    append(
        package / "training" / "tasks.py",
        '\n\n@TASK_SETS.register("toy")\ndef _toy_tasks() -> list[Task]:\n    return _indoor_tasks(2)\n',
    )
    assert changed(package) == set()


def test_editing_famo_stales_famo_runs_and_autoscale_exploring_with_famo_only(package: Path) -> None:
    famo = package / "methods" / "famo.py"
    famo.write_text(
        famo.read_text().replace(
            "def post_step(self, losses_after: Tensor) -> None:",
            "def post_step(self, losses_after: Tensor) -> None:\n        losses_after = losses_after * 1.0",
        )
    )
    assert changed(package) == {"famo on multimnist", "famo on street", "autoscale exploring with famo"}


def test_editing_a_benchmarks_dataset_stales_its_runs_only(package: Path) -> None:
    append(package / "training" / "datasets" / "scenes" / "textures.py", "\nEXTRA_CONSTANT = 1\n")
    assert changed(package) == {"famo on street", "linear on indoor"}


def test_editing_the_trainer_stales_every_run(package: Path) -> None:
    append(package / "training" / "trainer.py", "\nEXTRA_CONSTANT = 1\n")
    assert changed(package) == set(CONFIGS)


def test_editing_the_stacked_trainer_stales_stacked_runs_only(package: Path) -> None:
    """A run trained alone never executes the stacked trainer: its throughput work on the GPU
    leaves single-run (CPU) records alone, and stales every stacked record."""
    append(package / "training" / "stacked.py", "\nEXTRA_CONSTANT = 1\n")
    assert changed(package) == set()
    for config in CONFIGS.values():
        stacked = {"config": config, "stack": {"size": 2}}
        assert fingerprint.record_fingerprint(stacked) != fingerprint.record_fingerprint(stacked, package)
        assert fingerprint.record_fingerprint({"config": config}) == run_fingerprint(config)
        assert (
            fingerprint.record_fingerprint(stacked) == run_fingerprint(config, stacked=True) != run_fingerprint(config)
        )


def test_a_runs_modules_are_its_core_method_and_benchmark() -> None:
    config = CONFIGS["autoscale exploring with famo"]
    modules = set(
        fingerprint.run_modules(
            (*fingerprint.CORE, *fingerprint.method_modules("autoscale", config["method_options"])), "multimnist"
        )
    )
    assert {"autoscale.methods.autoscale", "autoscale.methods.famo", "autoscale.methods.window"} <= modules
    assert {
        "autoscale.training.trainer",
        "autoscale.gramian",
        "autoscale.metrics",
        "autoscale.training.step",
    } <= modules
    assert "autoscale.training.datasets.multimnist" in modules
    # Neither other methods nor other benchmarks' data, nor the layers above training.
    assert not {"autoscale.methods.uw", "autoscale.methods.imtlg", "autoscale.training.datasets.scenes"} & modules
    assert not any(m.startswith(("autoscale.experiments", "autoscale.book")) for m in modules)
