"""Ray as the execution engine of a sweep: every missing run is a Ray task, on one machine or a cluster.

    python -m autoscale sweep --benchmark multimnist --profile cpu --engine ray [--address auto]

Each task trains one run in a scratch store on whatever node Ray places it and sends the stored
record back (its exact bytes); the driver writes it to its own run store, so the nodes need no
shared filesystem, only the package and the benchmark data under their ``$AUTOSCALE_DATA_ROOT``
(MultiMNIST is built from MNIST files, the scenes are rendered, NYUv2/CityScapes must be
downloaded on every node). Runs the store already has are skipped. A task gets one CPU (torch
uses one thread in it) or, with ``gpus_per_run``, a fraction of a GPU.

Failures: a worker process that dies (killed, out of memory, a lost node) is reported and its run
is submitted once more; a second death, or an error raised by the training itself (a NaN, bad
data: retrying would fail the same way), is reported and the sweep goes on with the other runs,
then raises naming every run that failed. Finished runs are in the store, so running the sweep
again continues from there.

Ray is imported here only: the rest of the package, and the local engine, do not need it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from autoscale.experiments.execute import run
from autoscale.experiments.store import RunStore
from autoscale.training.config import RunConfig
from autoscale.training.device import git_commit

RETRIES_AFTER_A_WORKER_DIES = 1


@dataclass(frozen=True)
class RayEngine:
    """Where a sweep's runs go when they train on Ray: the cluster's ``address`` (None: a local
    instance with ``num_cpus`` CPUs, default all) and each run's share of a GPU."""

    address: str | None = None
    gpus_per_run: float = 0.0
    num_cpus: int | None = None


def train_record(config: dict[str, Any]) -> tuple[dict, bytes]:
    """Trains ``config`` in a scratch store (one torch thread) and returns its stored record and
    the record file's bytes. Runs inside a Ray worker."""
    import torch

    torch.set_num_threads(1)
    run_config = RunConfig.from_dict(config)
    with tempfile.TemporaryDirectory() as scratch:
        store = RunStore(scratch)
        record = run(run_config, store, force=True, progress=False)
        return record, store.path(run_config).read_bytes()


def start_ray(address: str | None = None, num_cpus: int | None = None) -> Callable[[], None]:
    """Connects to the cluster at ``address`` (``"auto"``: the one this node belongs to) or starts
    a local instance with ``num_cpus`` CPUs; returns what to call to disconnect (nothing when Ray
    was already initialised by the caller)."""
    import ray

    if ray.is_initialized():
        return lambda: None
    ray.init(
        address=address,
        num_cpus=None if address else num_cpus,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"AUTOSCALE_GIT_COMMIT": git_commit()}},
    )
    return ray.shutdown


def _label(config: RunConfig) -> str:
    return f"{config.benchmark}/{config.method} {config.method_options or ''} seed {config.seed}".strip()


def sweep_ray(
    configs: Sequence[RunConfig],
    store: RunStore,
    force: bool = False,
    progress: bool = True,
    desc: str = "runs",
    engine: RayEngine = RayEngine(),
    train: Callable[[dict[str, Any]], tuple[dict, bytes]] = train_record,
) -> list[dict]:
    """Records of every config (in order), training the missing ones as Ray tasks (module doc).

    ``train`` is what a task runs on a config's dict (tests swap it for one that kills its worker).
    """
    import ray
    from ray.exceptions import RayTaskError

    records: list[dict | None] = [None if force else store.load(c) for c in configs]
    missing = [i for i, r in enumerate(records) if r is None]
    if not missing:
        return records  # type: ignore[return-value]
    stop = start_ray(engine.address, engine.num_cpus)
    task = ray.remote(num_cpus=1, num_gpus=engine.gpus_per_run, max_retries=0)(train)
    failed: dict[int, str] = {}
    deaths: dict[int, int] = {}
    try:
        pending = {task.remote(configs[i].to_dict()): i for i in missing}
        with tqdm(total=len(configs), initial=len(configs) - len(missing), desc=desc, disable=not progress) as bar:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                i = pending.pop(done[0])
                try:
                    record, data = ray.get(done[0])
                except RayTaskError as err:  # the training raised: it would fail again
                    failed[i] = f"{_label(configs[i])}: {err.cause!r}"
                    tqdm.write(f"failed: {failed[i]}")
                    bar.update(1)
                    continue
                except ray.exceptions.RayError as err:  # the worker died or its node was lost
                    deaths[i] = deaths.get(i, 0) + 1
                    if deaths[i] <= RETRIES_AFTER_A_WORKER_DIES:
                        tqdm.write(f"the worker training {_label(configs[i])} died ({type(err).__name__}); retrying")
                        pending[task.remote(configs[i].to_dict())] = i
                    else:
                        failed[i] = f"{_label(configs[i])}: its worker died {deaths[i]} times ({type(err).__name__})"
                        tqdm.write(f"failed: {failed[i]}")
                        bar.update(1)
                    continue
                path = store.save_encoded(store.path(configs[i]), record, data)
                records[i] = store.read(path)
                bar.update(1)
    finally:
        stop()
    if failed:
        lines = "\n".join(f"- {failed[i]}" for i in sorted(failed))
        raise RuntimeError(
            f"{len(failed)} of {len(missing)} runs failed on Ray:\n{lines}\n"
            "The other runs are in the store; running the sweep again trains only what is missing."
        )
    return records  # type: ignore[return-value]
