"""Benchmarks of speed: ``python -m autoscale.bench`` times every method's training step and whole
runs (:mod:`~autoscale.bench.steps`); :mod:`~autoscale.bench.cheap` compares cheap Gramians with
the exact one."""
