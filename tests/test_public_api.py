"""The public names that the README, the book and users' code rely on keep working after the package
was split into layers (a moved name must stay importable from its public path)."""

from __future__ import annotations

import subprocess
import sys

import autoscale


def test_short_public_paths() -> None:
    from autoscale.autoscale import AutoScale, predict, solve_window, window_cost
    from autoscale.data.scenes import render
    from autoscale.evaluate import delta_m, delta_m_pos, mean_rank
    from autoscale.gramian import compute_gramian
    from autoscale.methods import available_methods, build_method
    from autoscale.metrics import summarize_step

    assert isinstance(build_method("autoscale", 2, total_steps=10), AutoScale)
    assert "autoscale" in available_methods() and "imtlg" in available_methods()
    assert all(callable(f) for f in (predict, solve_window, window_cost, render, delta_m, delta_m_pos, mean_rank))
    assert callable(compute_gramian) and callable(summarize_step)


def test_top_level_re_exports_are_the_same_objects() -> None:
    from autoscale.gramian import compute_gramian
    from autoscale.methods.autoscale import AutoScale

    assert autoscale.AutoScale is AutoScale and autoscale.compute_gramian is compute_gramian
    assert set(autoscale.__all__) <= set(dir(autoscale))
    for name in autoscale.__all__:
        assert getattr(autoscale, name) is not None


def test_data_alias_shares_module_objects() -> None:
    import autoscale.data.scenes
    import autoscale.training.datasets.scenes

    assert autoscale.data.scenes is autoscale.training.datasets.scenes


def test_module_entry_points_answer_help() -> None:
    for module in ("autoscale", "autoscale.bench"):
        result = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and "usage:" in result.stdout, (module, result.stderr[-500:])
