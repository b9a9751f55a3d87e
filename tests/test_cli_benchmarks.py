"""The command line accepts every benchmark the package can load, says how to fetch missing real data,
keeps the book's plan free of real datasets that are not here, and answers ``--help`` without torch."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from autoscale.benchmarks import benchmark, benchmark_names
from autoscale.commands.cli import main, parser
from autoscale.experiments.plans import book_benchmarks, book_configs
from autoscale.experiments.profiles import PROFILES, profile_config

REPO = Path(__file__).resolve().parents[1]
REAL = ("nyuv2", "cityscapes", "cityscapes3")
# Training images of the real datasets' train splits (validation images held out): the GPU profiles
# are sized against these.
TRAIN_IMAGES = {"nyuv2": 700, "cityscapes": 2700, "cityscapes3": 2700}


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_every_declared_benchmark_is_accepted_and_the_real_ones_have_every_profile():
    for name in benchmark_names():
        for command in ("sweep", "train", "pbt"):
            args = parser().parse_args([command, "--benchmark", name, "--profile", "smoke"])
            assert args.benchmark == name
    for name in REAL:
        assert set(benchmark(name).profiles) == set(PROFILES)


def test_the_help_of_a_command_lists_every_benchmark_with_its_description(capsys: pytest.CaptureFixture):
    with pytest.raises(SystemExit):
        parser().parse_args(["train", "--help"])
    out = capsys.readouterr().out
    for name in benchmark_names():
        assert f"  {name} " in out and benchmark(name).description in out


@pytest.mark.parametrize("benchmark", REAL)
def test_real_profiles_build_configs_and_gpu_runs_are_long_enough_for_autoscale(benchmark: str):
    for profile in PROFILES:
        config = profile_config(benchmark, profile)
        assert config.benchmark == benchmark and config.profile == profile
    for profile in ("full", "gpuday"):
        config = profile_config(benchmark, profile)
        steps = math.ceil(TRAIN_IMAGES[benchmark] / config.batch_size) * config.epochs
        assert 0.2 * steps >= 1000, f"{benchmark} {profile}: AutoScale explores {0.2 * steps:.0f} steps"


SCRIPTS = {"nyuv2": "download_nyuv2.py", **dict.fromkeys(("cityscapes", "cityscapes3"), "download_cityscapes.py")}


@pytest.mark.parametrize(("benchmark", "script"), SCRIPTS.items())
@pytest.mark.parametrize("command", ["sweep", "train"])
def test_missing_real_data_fails_early_naming_the_download_script(
    benchmark: str,
    script: str,
    command: str,
    tmp_path: Path,
    results_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
):
    monkeypatch.setenv("AUTOSCALE_DATA_ROOT", str(tmp_path / "empty"))
    assert main([command, "--benchmark", benchmark, "--profile", "smoke"]) == 1
    err = capsys.readouterr().err
    assert f"data_scripts/{script}" in err and str(tmp_path / "empty") in err
    assert (REPO / "data_scripts" / script).is_file()
    assert not results_root.exists()  # nothing was trained or written


def test_the_book_adds_real_datasets_only_where_their_data_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AUTOSCALE_DATA_ROOT", str(tmp_path))
    offline = ["multimnist", "scenes-street", "scenes-indoor"]
    assert book_benchmarks() == book_benchmarks(require_data=False) == offline
    assert {c.benchmark for c in book_configs("smoke")} == set(offline)
    (tmp_path / benchmark("nyuv2").source.folder).mkdir()  # type: ignore[union-attr]
    assert book_benchmarks() == book_benchmarks(require_data=False) == [*offline, "nyuv2"]
    assert {c.benchmark for c in book_configs("smoke")} == {*offline, "nyuv2"}


def test_records_status_names_the_real_datasets_left_out(
    tmp_path: Path, results_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    monkeypatch.setenv("AUTOSCALE_DATA_ROOT", str(tmp_path))
    assert main(["records", "status", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "nyuv2" not in out.split("left out")[0]  # no rows for it
    assert "left out of the book here" in out and "download_nyuv2.py" in out and "download_cityscapes.py" in out


def test_help_and_the_parser_load_no_torch():
    loaded = _modules_after(
        "from autoscale.commands.cli import parser\n"
        "p = parser(); p.format_help()\n"
        "try:\n    p.parse_args(['--help'])\nexcept SystemExit:\n    pass\n"
        "p.parse_args(['sweep', '--benchmark', 'nyuv2'])"
    )
    heavy = {"torch", "numpy", "pandas", "scipy", "torchvision", "autoscale.training.trainer"}
    assert "autoscale.commands.cli" in loaded and not heavy & loaded


def test_a_stored_run_is_answered_without_the_trainer(results_root: Path):
    argv = ["train", "--benchmark", "multimnist", "--profile", "smoke", "--method", "unitary"]
    assert main(argv) == 0  # trains the record
    loaded = _modules_after(f"from autoscale.commands.cli import main\nassert main({argv!r}) == 0")
    assert "autoscale.experiments.store" in loaded
    assert not {"autoscale.training.trainer", "autoscale.experiments.runs", "torchvision"} & loaded
