"""Population-based training (PBT) of linear-scalarization weights with Ray Tune.

    python -m autoscale pbt --benchmark multimnist --profile cpu --population 8

The weight search of Royer et al., "Scalarization for Multi-Task and Multi-Domain Learning at
Scale" (NeurIPS 2023, Sec. 4): a population of LS runs trains side by side; every ``ready`` epochs
(synchronously) the members in the bottom quantile by validation Δm (against the single-task
baselines) copy the exact state of a member of the top quantile (PBT's *exploit*, Jaderberg et al.
2017) and perturb its weights (*explore*). Ray Tune's
:class:`~ray.tune.schedulers.PopulationBasedTraining` makes the decisions; the members train with
this package's trainer, whose own checkpoint (model, optimiser, scheduler, RNG states, logs) is
what an exploit copies, so the copy continues exactly where its donor stopped.

Explore: each weight is multiplied by 1.2^u, u uniform on [-1, 1] per task, and the vector is
renormalised to sum K. Tune's default perturbation (×1.2 or ×0.8 per value) would leave the
simplex {w >= 0, sum w = K} the rest of the package searches on.

Reproducibility: the initial weights are :func:`~autoscale.experiments.plans.random_weight_sets`
(seeded); every member trains from the same seed (initialisation and data order), so members differ
by their weights alone; Tune draws each exploit's donor from Python's ``random``, seeded here per
decision (:func:`seeded_pbt`); the perturbations come from their own seeded generator, called in
the scheduler's fixed order (best members first); so in synchronous mode every decision depends
only on the scores, which CPU training reproduces exactly (one torch thread per member).

Where it runs: a local Ray instance by default, each member on one CPU, or with ``device="cuda"``
on one CPU and a share of a GPU (:func:`member_resources`). Tune keeps the members' checkpoints in a
temporary folder of the driver, so ``address`` may name a cluster only where every node sees that
folder (one machine, or a shared filesystem mounted at the same path); a multi-node search
without shared storage is not supported yet.

The result, one JSON per PBT config under ``<results>/<profile>/<benchmark>/pbt/`` (beside the run
records, not among them), holds every member's reports (collected by a named Ray actor, so they
survive Tune pausing and reusing the members' processes: epoch, weights, validation Δm, which member
it copied), the final weights and the test Δm of every member's final model; the best member is
the one with the lowest final validation Δm.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from autoscale.evaluate import delta_m, directions, primary_metrics, single_task_baseline
from autoscale.experiments.plans import PBTConfig, ls_sweep_plan, random_weight_sets
from autoscale.experiments.profiles import profile_config
from autoscale.experiments.records import now
from autoscale.experiments.store import RunStore, warn_record
from autoscale.training.config import RunConfig
from autoscale.training.device import git_commit
from autoscale.training.files import atomic_write_bytes, load_checkpoint, save_checkpoint

TRAINER_FILE = "trainer.pt"
OWNER_FILE = "owner.json"


def perturb_weights(weights: list[float], factor: float = 1.2, rng: random.Random | None = None) -> list[float]:
    """w_i factor^u_i with u_i uniform on [-1, 1] (a step of at most log factor in log space per
    task), renormalised to sum K (the simplex). Continuous u: with signs alone, K = 2 tasks scaled
    alike (half the draws) would renormalise back to the same weights."""
    rng = rng or random
    scaled = [w * factor ** rng.uniform(-1.0, 1.0) for w in weights]
    total = sum(scaled)
    return [len(weights) * w / total for w in scaled]


def _member_index(trial_name: str) -> int:
    """Tune names trials ``<trainable>_<experiment id>_<index>``; the index is stable across repeats."""
    return int(trial_name.rsplit("_", 1)[1])


def _transplant(donor: Path, target: Path, config: RunConfig) -> None:
    """The donor's trainer checkpoint, continued under ``config`` (new weights): LS keeps no method
    state, so only the config the trainer checks on resume changes."""
    ckpt = load_checkpoint(donor, "cpu")
    ckpt["configs"] = [config.to_dict()]
    save_checkpoint(target, ckpt)


class ReportLog:
    """Collects every member's report rows (a Ray actor of the driver, reachable by name)."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, row: dict) -> None:
        self.rows.append(row)

    def all(self) -> list[dict]:
        return self.rows


def pbt_member(tune_config: dict[str, Any]) -> None:
    """One member of the population, run by Ray Tune: trains ``ready`` epochs at a time, reporting
    the validation Δm with a checkpoint after each, from a donor's checkpoint after an exploit."""
    import ray
    from ray import tune

    from autoscale.training.trainer import Trainer

    torch.set_num_threads(1)
    base = RunConfig.from_dict(tune_config["base"])
    config = replace(base, method="linear", method_options={"weights": list(tune_config["weights"])})
    me = _member_index(tune.get_context().get_trial_name())
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / TRAINER_FILE
        copied_from = None
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            with checkpoint.as_directory() as folder:
                owner = json.loads((Path(folder) / OWNER_FILE).read_text())["member"]
                copied_from = owner if owner != me else None
                _transplant(Path(folder) / TRAINER_FILE, path, config)
        trainer = Trainer(config, path, progress=False)
        while True:
            record = trainer.run(stop_after_epochs=tune_config["ready"])
            higher = directions([record])
            row = {
                "member": me,
                "epoch": record["final"]["epoch"],
                "weights": list(tune_config["weights"]),
                "val_delta_m": delta_m(primary_metrics(record, "val"), tune_config["baseline"]["val"], higher),
                "copied_from": copied_from,
            }
            if record["complete"]:
                test = primary_metrics(record, "test")
                row.update(test=test, test_delta_m=delta_m(test, tune_config["baseline"]["test"], higher))
            # The rows go to the driver's ReportLog, not through Tune's result history: with reused
            # actors Tune drops a member's reports from before an exploit.
            ray.get(ray.get_actor(tune_config["log"]).add.remote(row))
            report = {"epoch": row["epoch"], "val_delta_m": row["val_delta_m"], "done": int(record["complete"])}
            copied_from = None
            with tempfile.TemporaryDirectory() as out:
                shutil.copy(path, Path(out) / TRAINER_FILE)
                (Path(out) / OWNER_FILE).write_text(json.dumps({"member": me}))
                tune.report(report, checkpoint=tune.Checkpoint.from_directory(out))
            if record["complete"]:
                return


def seeded_pbt(base: type, seed: int) -> type:
    """Tune's PBT scheduler class ``base`` with each exploit's donor drawn from ``random`` seeded by
    (seed, member, time). Tune draws the donor with the module ``random``, which Tune itself also
    uses elsewhere (differently with and without reused actors), so seeding it once at the start
    left the donors to chance; seeded per decision they depend only on the scores."""

    class SeededPBT(base):
        def _checkpoint_or_exploit(self, trial, tune_controller, upper_quantile, lower_quantile):
            time_now = self._trial_state[trial].last_perturbation_time
            random.seed(f"{seed}-{_member_index(str(trial))}-{time_now}")
            return super()._checkpoint_or_exploit(trial, tune_controller, upper_quantile, lower_quantile)

    return SeededPBT


def member_resources(config: PBTConfig, gpus_per_member: float | None = None) -> dict[str, float]:
    """What Tune reserves per member: one CPU, and on CUDA a share of a GPU (default 1 / population)."""
    if config.device != "cuda":
        if gpus_per_member:
            raise ValueError(f"gpus_per_member={gpus_per_member} needs device='cuda', not {config.device!r}")
        return {"cpu": 1}
    share = gpus_per_member or 1 / config.population
    if not 0 < share <= 1:
        raise ValueError(f"gpus_per_member must be in (0, 1], got {share}")
    return {"cpu": 1, "gpu": share}


def result_path(store: RunStore, config: PBTConfig) -> Path:
    return store.root / config.profile / config.benchmark / "pbt" / f"{config.key()}.json"


def parse_result(data: bytes) -> dict:
    """The PBT result stored as ``data``; ValueError if it is not valid JSON or not a PBT result."""
    result = json.loads(data)  # a JSONDecodeError or UnicodeDecodeError is a ValueError
    if not isinstance(result, dict) or "best" not in result or "reports" not in result:
        raise ValueError("it is not a PBT result (no 'best' or 'reports')")
    return result


def load_pbt(config: PBTConfig, store: RunStore | None = None) -> dict | None:
    """The stored result of ``config``, or None if absent or damaged (then moved to the profile's
    ``corrupt/`` folder with a warning that names it, and searched again)."""
    store = store or RunStore()
    path = result_path(store, config)
    if not path.is_file():
        return None
    try:
        result = parse_result(path.read_bytes())
    except ValueError as err:
        target = store.root / config.profile / "corrupt" / f"pbt-{path.stem}.{now()}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        warn_record(f"PBT result {path} is damaged ({err}). It was moved to {target}, and the search will run again.")
        return None
    return result


def run_pbt(
    config: PBTConfig,
    store: RunStore | None = None,
    force: bool = False,
    address: str | None = None,
    gpus_per_member: float | None = None,
) -> dict:
    """The PBT result of ``config``: from the store, else searched now (module doc). The single-task
    baselines are trained first where the store misses them (local engine). On ``device="cuda"``
    each member holds ``gpus_per_member`` of a GPU (default 1 / population: the whole population
    shares one GPU) and one CPU."""
    import ray
    from ray import tune
    from ray.tune.schedulers import PopulationBasedTraining

    from autoscale.experiments.ray_engine import start_ray
    from autoscale.experiments.runs import sweep

    store = store or RunStore()
    if not force and (stored := load_pbt(config, store)) is not None:
        return stored
    plan = ls_sweep_plan(config.benchmark, config.profile, device=config.device)
    stl = sweep(plan.stl_configs, store, desc="single-task baselines")
    baseline = {split: single_task_baseline(stl, split) for split in ("val", "test")}
    base = profile_config(config.benchmark, config.profile, device=config.device, method="linear", seed=config.seed)
    if config.epochs is not None:
        base = replace(base, epochs=config.epochs)
    num_tasks = len(baseline["val"])
    initial = random_weight_sets(num_tasks, config.population, seed=config.search_seed)
    rng = random.Random(config.search_seed)

    def explore(tune_config: dict[str, Any]) -> dict[str, Any]:
        return {**tune_config, "weights": perturb_weights(tune_config["weights"], config.perturbation, rng)}

    scheduler = seeded_pbt(PopulationBasedTraining, config.search_seed)(
        time_attr="epoch",
        metric="val_delta_m",
        mode="min",
        perturbation_interval=config.ready_epochs,
        quantile_fraction=config.quantile,
        hyperparam_mutations={},
        custom_explore_fn=explore,
        synch=True,
    )
    stop = start_ray(address)
    started = time.perf_counter()
    log_name = f"autoscale-pbt-{config.key()}"
    try:
        log = ray.remote(ReportLog).options(name=log_name).remote()
        with tempfile.TemporaryDirectory() as storage:
            tuner = tune.Tuner(
                tune.with_resources(pbt_member, member_resources(config, gpus_per_member)),
                param_space={
                    "weights": tune.grid_search(initial),
                    "base": base.to_dict(),
                    "baseline": baseline,
                    "ready": config.ready_epochs,
                    "log": log_name,
                },
                # Reused actors keep a member's process, with torch and the package imported, across its pauses.
                tune_config=tune.TuneConfig(scheduler=scheduler, reuse_actors=True),
                run_config=tune.RunConfig(
                    storage_path=storage,
                    name="pbt",
                    verbose=0,
                    # A finished member stops before the scheduler sees its last report, so no
                    # exploit replaces a final model.
                    stop={"done": 1},
                    checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
                ),
            )
            tuner.fit()
            reports = ray.get(log.all.remote())
            ray.kill(log)  # its name is free for the next search in the same Ray session
    finally:
        stop()
    result = summarize(config, reports, initial)
    result.update({"wall_seconds": round(time.perf_counter() - started, 1), "git_commit": git_commit()})
    path = result_path(store, config)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(result, indent=1, sort_keys=True).encode()
    atomic_write_bytes(path, data)
    store.add_search(path, result, data)
    return result


def summarize(config: PBTConfig, reports: list[dict], initial: list[list[float]]) -> dict:
    """The stored form of a search: its config, every member's reports in (member, epoch) order,
    the number of exploits, each member's final weights and test Δm, and the best member."""
    rows = sorted(reports, key=lambda r: (r["member"], r["epoch"]))
    finals = {r["member"]: r for r in rows if "test_delta_m" in r}
    best = min(finals.values(), key=lambda r: r["val_delta_m"])
    return {
        "config": asdict(config),
        "initial_weights": initial,
        "reports": rows,
        "exploits": sum(r["copied_from"] is not None for r in rows),
        "final": [finals[m] for m in sorted(finals)],
        "best": best,
    }
