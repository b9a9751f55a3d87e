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
    "famo on multifashion": {"benchmark": "multifashion", "method": "famo"},
    "unitary on cityscapes": {"benchmark": "cityscapes", "method": "unitary"},
    "unitary on cityscapes3": {"benchmark": "cityscapes3", "method": "unitary"},
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
    # A benchmark in a module of its own, with its own dataset code ...
    (package / "training" / "datasets" / "toy.py").write_text("def build_toy(root, split):\n    return []\n")
    (package / "benchmarks" / "toy.py").write_text(
        "from autoscale.benchmarks.declaration import Benchmark, Offline\n\n\n"
        "def _dataset(root, split, **options):\n"
        "    from autoscale.training.datasets.toy import build_toy\n\n    return build_toy(root, split)\n\n\n"
        'TOY = Benchmark(name="toy", description="a toy", dataset=_dataset, tasks=list, model=list, '
        "profiles={}, source=Offline())\n"
    )
    # ... and one beside its family, with a private builder of its own.
    append(
        package / "benchmarks" / "scenes.py",
        "\n\ndef _tiny_street_tasks(num_classes=None):\n    return _street_tasks(num_classes)[:1]\n\n\n"
        'SCENES_TINY = Benchmark(name="scenes-tiny", description="street, one task", '
        "dataset=partial(_scenes, 'street'), tasks=_tiny_street_tasks, model=partial(_model, 'scenes-tiny'), "
        "profiles=_PROFILES, source=Offline(prepare=partial(_prepare, 'street')))\n",
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
    assert changed(package) == {
        "famo on multimnist",
        "famo on street",
        "famo on multifashion",
        "autoscale exploring with famo",
    }


def test_editing_a_benchmarks_dataset_stales_its_runs_only(package: Path) -> None:
    append(package / "training" / "datasets" / "scenes" / "textures.py", "\nEXTRA_CONSTANT = 1\n")
    assert changed(package) == {"famo on street", "linear on indoor"}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("family", "old", "new", "stale"),
    [
        # A builder used by one benchmark of its family.
        (
            "cityscapes.py",
            "return street_tasks(num_classes)",
            "return street_tasks(num_classes)[::-1]",
            {"unitary on cityscapes3"},
        ),
        (
            "scenes.py",
            "return street_tasks(num_classes or",
            "return street_tasks(0 or num_classes or",
            {"famo on street"},
        ),
        # What only one declaration holds.
        ("multimnist.py", 'description="MultiFashion:', 'description="MultiFashion, edited:', {"famo on multifashion"}),
        # A builder the whole family shares.
        (
            "scenes.py",
            "return build_scenes(root, kind, split, **options)",
            "return build_scenes(root, kind, split, **dict(options))",
            {"famo on street", "linear on indoor"},
        ),
    ],
)
def test_editing_a_benchmarks_declaration_stales_the_runs_that_execute_the_edit_only(
    package: Path, family: str, old: str, new: str, stale: set[str]
) -> None:
    edit(package / "benchmarks" / family, old, new)
    assert changed(package) == stale


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
    modules = set(fingerprint.run_modules(fingerprint.run_roots(config), "multimnist"))
    assert {"autoscale.methods.autoscale", "autoscale.methods.famo", "autoscale.methods.window"} <= modules
    assert {
        "autoscale.training.trainer",
        "autoscale.gramian",
        "autoscale.metrics",
        "autoscale.training.step",
    } <= modules
    assert {"autoscale.benchmarks.multimnist", "autoscale.training.datasets.multimnist"} <= modules
    # Neither other methods nor other benchmarks' declarations and data, nor the layers above training.
    others = {"autoscale.benchmarks.scenes", "autoscale.benchmarks.nyuv2", "autoscale.training.datasets.scenes"}
    assert not {"autoscale.methods.uw", "autoscale.methods.imtlg", *others} & modules
    assert not any(m.startswith(("autoscale.experiments", "autoscale.book")) for m in modules)
