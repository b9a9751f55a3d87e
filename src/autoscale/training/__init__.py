"""The training layer: a run from its :class:`~autoscale.training.config.RunConfig` to its record.

- :mod:`~autoscale.training.config`: the run's configuration and the errors a run stops with;
- :mod:`~autoscale.training.step`: one training step, stage by stage;
- :mod:`~autoscale.training.trainer`: epochs, evaluation, checkpoints and the run record;
- :mod:`~autoscale.training.stacked`: M runs trained as one (vmap over stacked parameters);
- :mod:`~autoscale.training.device`, :mod:`~autoscale.training.device_data`,
  :mod:`~autoscale.training.step_log`: the device, data kept on it, and per-step logs;
- :mod:`~autoscale.training.tasks`, :mod:`~autoscale.training.models`,
  :mod:`~autoscale.training.datasets`: the benchmarks' code, and the lookups of the builders each
  benchmark declares (:mod:`autoscale.benchmarks`).

It depends on the core (:mod:`autoscale.gramian`, :mod:`autoscale.metrics`, :mod:`autoscale.methods`)
and on the benchmarks' declarations only.
"""
