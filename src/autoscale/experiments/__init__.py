"""The experiments layer: which runs to train, where their records live, and the engines that train them.

- :mod:`~autoscale.experiments.profiles`: the profiles, each benchmark's run config at each (the settings
  its declaration holds, :mod:`autoscale.benchmarks`) and its seeds;
- :mod:`~autoscale.experiments.plans`: the runs each experiment and each chapter needs;
- :mod:`~autoscale.experiments.store`, :mod:`~autoscale.experiments.records`,
  :mod:`~autoscale.experiments.fingerprint`: the run store, its record files and the code fingerprint;
- :mod:`~autoscale.experiments.run_record`: a typed, read-only view of one record (what chapters read);
- :mod:`~autoscale.experiments.runs`: one run, a stack of runs, a sweep over worker processes;
- :mod:`~autoscale.experiments.record_status`, :mod:`~autoscale.experiments.verify`: what the store
  holds against the plan, and re-derivations of committed records.

It depends on the training layer, the benchmarks beside it and the core only.
"""
