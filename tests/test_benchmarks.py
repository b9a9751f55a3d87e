"""The benchmark registry: every benchmark declared once, found by name, and everything that used to
list benchmarks (datasets, task sets, models, profiles, seeds, data sources, the command line) read
from its declaration."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import autoscale.benchmarks as registry
from autoscale.benchmarks import Benchmark, Download, Offline, benchmark, benchmark_names, benchmarks
from autoscale.experiments.profiles import PROFILES, profile_config, profile_seeds

REPO = Path(__file__).resolve().parents[1]
# The benchmarks of the book and the paper; the tests below cover every declared one.
KNOWN = {"cityscapes", "cityscapes3", "multifashion", "multimnist", "nyuv2", "scenes-indoor", "scenes-street"}


def test_every_benchmark_is_declared_once_in_one_module() -> None:
    assert benchmark_names() == sorted(benchmark_names()) == [b.name for b in benchmarks()]
    assert set(benchmark_names()) >= KNOWN
    where: dict[str, list[str]] = {}
    for info in pkgutil.iter_modules(registry.__path__):
        module = importlib.import_module(f"autoscale.benchmarks.{info.name}")
        for value in {id(v): v for v in vars(module).values() if isinstance(v, Benchmark)}.values():
            where.setdefault(value.name, []).append(module.__name__)
    assert where == {name: [registry.declaration_module(name)] for name in benchmark_names()}


def test_a_benchmark_declared_twice_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "zz_copy.py").write_text("from autoscale.benchmarks.multimnist import MULTIMNIST  # noqa: F401\n")
    monkeypatch.setattr(registry, "__path__", [*registry.__path__, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "autoscale.benchmarks.zz_copy", raising=False)
    try:
        with pytest.raises(
            ValueError, match=r"'multimnist' is declared twice: in autoscale.benchmarks.multimnist and "
        ):
            registry._declared.__wrapped__()
    finally:
        sys.modules.pop("autoscale.benchmarks.zz_copy", None)


def test_unknown_names_raise_listing_the_valid_ones() -> None:
    from autoscale.commands.arguments import download_command
    from autoscale.training.datasets import build_dataset, has_data
    from autoscale.training.models import build_model
    from autoscale.training.tasks import build_tasks

    lookups = [
        lambda: benchmark("mnist"),
        lambda: build_dataset("mnist", "train"),
        lambda: build_tasks("mnist"),
        lambda: build_model("mnist", ["left"]),
        lambda: has_data("mnist"),
        lambda: profile_config("mnist", "smoke"),
        lambda: download_command("mnist"),
    ]
    for lookup in lookups:
        with pytest.raises(
            ValueError, match=r"unknown benchmark 'mnist'; valid benchmarks: cityscapes, .*scenes-street"
        ):
            lookup()
    with pytest.raises(ValueError, match=r"'multimnist' is not a downloaded dataset .*nyuv2"):
        download_command("multimnist")
    with pytest.raises(ValueError, match="'multifashion' has no gpuday profile"):
        profile_config("multifashion", "gpuday")


@pytest.mark.parametrize("name", benchmark_names())
def test_the_declaration_holds_only_known_profiles_and_its_configs_are_its_settings(name: str) -> None:
    declared = benchmark(name)
    assert declared.description and "\n" not in declared.description
    for field in (declared.profiles, declared.autoscale_window, declared.seeds):
        assert set(field) <= set(PROFILES)
    for profile, settings in declared.profiles.items():
        config = profile_config(name, profile).to_dict()
        assert {k: config[k] for k in settings} == settings
        seeds = profile_seeds(name, profile)
        assert seeds == list(range(len(seeds))) and len(seeds) == declared.seeds.get(profile, len(seeds))


@pytest.mark.parametrize("name", benchmark_names())
def test_the_training_lookups_build_what_the_declaration_builds(name: str) -> None:
    from autoscale.training.models import build_model
    from autoscale.training.tasks import build_tasks

    declared = benchmark(name)
    names = [t.name for t in declared.tasks()]
    assert [t.name for t in build_tasks(name)] == names
    assert [t.name for t in build_tasks(name, names[:1])] == names[:1]
    model = build_model(name, names, **profile_config(name, "smoke").model)
    assert list(model.heads) == names


def test_has_data_follows_the_data_source(tmp_path: Path) -> None:
    from autoscale.commands.arguments import download_command
    from autoscale.training.datasets import has_data

    for declared in benchmarks():
        if isinstance(declared.source, Offline):
            assert has_data(declared.name, str(tmp_path)) and not declared.downloaded
            continue
        assert isinstance(declared.source, Download) and declared.downloaded
        assert not has_data(declared.name, str(tmp_path))
        (tmp_path / declared.source.folder).mkdir(parents=True)
        assert has_data(declared.name, str(tmp_path))
        assert download_command(declared.name).startswith("python data_scripts/download_")
    assert {b.name for b in benchmarks() if b.downloaded} >= {"cityscapes", "cityscapes3", "nyuv2"}


def test_the_real_datasets_keep_one_seed_on_a_cpu_and_the_declared_counts_hold_elsewhere() -> None:
    assert profile_seeds("nyuv2", "cpu-long") == [0] == profile_seeds("cityscapes3", "cpu")
    assert len(profile_seeds("multimnist", "cpu-long")) == 11 == len(profile_seeds("multifashion", "cpu-long"))
    assert len(profile_seeds("scenes-street", "cpu-long")) == 5 and len(profile_seeds("scenes-street", "cpu")) == 3


def test_the_lists_of_benchmarks_derive_from_the_declarations() -> None:
    from autoscale.book.power import power_targets
    from autoscale.commands.cli import parser
    from autoscale.experiments.plans import CANDIDATE_BENCHMARKS, OFFLINE_BENCHMARKS, autoscale_window
    from autoscale.methods.autoscale import DEFAULTS

    commands = parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for command in ("sweep", "train", "pbt"):
        (option,) = [a for a in commands[command]._actions if "--benchmark" in a.option_strings]
        assert list(option.choices) == benchmark_names()
    assert CANDIDATE_BENCHMARKS == ("multimnist", "scenes-street", "scenes-indoor", "nyuv2", "cityscapes3")
    assert CANDIDATE_BENCHMARKS[:3] == OFFLINE_BENCHMARKS
    assert set(power_targets()) == {"multimnist", "scenes-street", "scenes-indoor"}
    for declared in benchmarks():
        for profile in PROFILES:
            expected = declared.autoscale_window.get(profile, DEFAULTS["window"])
            assert autoscale_window(declared.name, profile) == expected


def test_prepare_data_prepares_the_offline_benchmarks_that_declare_a_preparation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sys.path.insert(0, str(REPO / "data_scripts"))
    try:
        prepare_data = importlib.import_module("prepare_data")
    finally:
        sys.path.remove(str(REPO / "data_scripts"))
    calls = []
    fakes = [
        replace(b, source=Offline(prepare=lambda *a, n=b.name: calls.append((n, *a))))
        if isinstance(b.source, Offline) and b.source.prepare
        else b
        for b in benchmarks()
    ]
    monkeypatch.setattr(prepare_data, "benchmarks", lambda: fakes)
    assert prepare_data.main(["--root", str(tmp_path), "--profile", "cpu", "--workers", "1"]) == 0
    assert calls == [(name, tmp_path, ["smoke", "cpu"], 1) for name in ("multimnist", "scenes-indoor", "scenes-street")]


def test_the_registry_and_the_profiles_load_no_torch() -> None:
    code = (
        "import autoscale.benchmarks as b, autoscale.experiments.profiles as p\n"
        "[d.profiles for d in b.benchmarks()]; p.profile_seeds('nyuv2', 'cpu')\n"
        "import json, sys; print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "autoscale.benchmarks.scenes" in loaded and not {"torch", "numpy", "scipy", "pandas"} & loaded
