"""The from-scratch estimate's sample: spread over methods, per benchmark, seeded."""

from __future__ import annotations

from dataclasses import replace

from autoscale.bench.from_scratch import sample_configs
from autoscale.experiments.profiles import profile_config


def test_sample_spreads_over_methods_and_is_seeded():
    configs = [
        replace(profile_config(b, "smoke"), method=m, seed=s)
        for b in ("multimnist", "scenes-street")
        for m in ("unitary", "imtlg", "autoscale")
        for s in range(3)
    ]
    sample = sample_configs(configs, per_benchmark=4)
    assert [c.benchmark for c in sample].count("multimnist") == 4
    for benchmark in ("multimnist", "scenes-street"):
        methods = [c.method for c in sample if c.benchmark == benchmark]
        assert set(methods[:3]) == {"unitary", "imtlg", "autoscale"}  # every method before any repeat
    assert sample == sample_configs(configs, per_benchmark=4)
    assert sample != sample_configs(configs, per_benchmark=4, seed=1)
    assert len(sample_configs(configs, per_benchmark=100)) == len(configs)
