"""The GPU session: one command that turns a lent GPU's minutes into importable run records.

    python -m autoscale.commands.gpu_session --out DIR --minutes 8 --commit SHA

runs the tiers in order until the deadline, skipping every run whose record is already in the
results root (committed records travel with the working tree), so the next session resumes at
the first incomplete tier:

- tier 0: the step-time table of every method on the ``full`` profile's models
  (``python -m autoscale.bench --profile full``), the weight solves of stacks one run after another
  against batched (:mod:`autoscale.bench.solvers`), a short calibration (:data:`CALIBRATION`: one run
  against stacks of 8 to 64, float32 against bf16 autocast, unitary against IMTL-G, eager against
  captured, each with the GPU's utilisation) and one notebook executed by papermill with
  ``device="cuda"`` at ``smoke`` (the reader's path: re-executing a chapter on a GPU);
- tier 1: MultiMNIST at ``full`` (all 50k training images, 30 epochs): the 19-point LS sweep,
  single-task runs, every method of the main table and AutoScale (tau = 50), 3 seeds;
- tier 2: both scene benchmarks at ``full`` (64x80, 5000 steps: AutoScale explores 20 windows);
- tier 3: the ablations at ``full`` on every benchmark and the window-count study, 3 seeds;
- tier 4: the ``gpuday`` main table on the scenes (dilated ResNet-18 at 128x160).

Runs train in stacks (:mod:`autoscale.training.stacked`) sized to the time left
(:class:`autoscale.experiments.stack_budget.StackBudget`): a kind of run never timed before, here or
in a committed ``session.json`` of the same device, starts with a probe of 4; otherwise a stack
holds as many runs as its estimated time fits before the deadline, so a session ends with whole
stacks. A stack that still overruns stops after the first epoch that ends
past the deadline; its checkpoint stays on the machine and nothing of it is saved. After every finished
stack the output folder is rewritten, so a command killed at its time limit still leaves what
finished: ``session.json`` (per tier: wall time, runs, runs per hour, GPU utilisation; per stack: its
methods, size, wall time, runs per hour and GPU utilisation, :func:`stack_table`), the bench
JSON and one tarball of records per profile and benchmark (``records import`` reads them back).
``--tiny`` runs every tier at ``smoke`` (the CPU test of this script).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from autoscale.experiments.plans import (
    EXTRA_METHODS,
    ablation_groups,
    main_groups,
    window_study_benchmarks,
    window_study_configs,
)
from autoscale.experiments.runs import run_stack
from autoscale.experiments.stack_budget import StackBudget
from autoscale.experiments.store import RunStore, unique_configs
from autoscale.methods import method_class
from autoscale.training.config import RunConfig
from autoscale.training.files import atomic_write_bytes
from autoscale.training.stacked import stack_groups

TIER_NAMES = {
    0: "step times, calibration, a notebook on the GPU",
    1: "MultiMNIST at full",
    2: "scenes at full",
    3: "ablations and the window-count study at full",
    4: "scenes at gpuday (ResNet-18)",
}
SCENES = ("scenes-street", "scenes-indoor")
NOTEBOOK = "ls_multimnist.ipynb"
# Gramian stacks are kept small so that some finish before a deadline (each step waits for M
# host-side weight solves); loss-based and fixed-weight stacks only batch GPU work.
GRAMIAN_STACK = 12


def tier_configs(tier: int, device: str, tiny: bool = False) -> list[RunConfig]:
    """The runs of ``tier`` (``tiny``: at ``smoke``, MultiMNIST and one scene benchmark)."""
    full, gpuday = ("smoke", "smoke") if tiny else ("full", "gpuday")
    scenes = SCENES[:1] if tiny else SCENES
    if tier == 1:
        groups = main_groups(["multimnist"], full, device)
    elif tier == 2:
        groups = main_groups(scenes, full, device)
    elif tier == 3:
        groups = ablation_groups(["multimnist", *scenes], full, device)
        for b in ("multimnist", *scenes):
            if b in window_study_benchmarks(full):
                groups.update({(b, *k): c for k, c in window_study_configs(b, full, device).items()})
    elif tier == 4:
        groups = main_groups(scenes, gpuday, device)
    else:
        return []
    return unique_configs(c for configs in groups.values() for c in configs)


def needs_gramian(config: RunConfig) -> bool:
    """Whether the method ever takes a Gramian (AutoScale's flag is a property: it does)."""
    return bool(getattr(method_class(config.method), "needs_gramian", False))


def ordered_groups(configs: list[RunConfig], max_size: int) -> list[tuple[list[RunConfig], int]]:
    """Groups of runs that stack together, each with its most runs per stack, cheapest first:
    fixed-weight and loss-based runs, then Gramian methods in small stacks, AutoScale's first, then
    the paper's other methods, then the extra rows (a deadline that stops a session cuts the runs
    the book needs least)."""
    cheap = [c for c in configs if not needs_gramian(c)]
    gramian = [c for c in configs if needs_gramian(c)]
    classes = (
        [c for c in gramian if c.method == "autoscale"],
        [c for c in gramian if c.method != "autoscale" and c.method not in EXTRA_METHODS],
        [c for c in gramian if c.method in EXTRA_METHODS],
    )
    whole = max(len(configs), 2)
    size = min(max_size, GRAMIAN_STACK)
    return [(g, max_size) for g in stack_groups(cheap, whole)] + [
        (g, size) for group in classes for g in stack_groups(group, whole)
    ]


def run_kind(config: RunConfig) -> tuple[str, str, bool]:
    """What a run's GPU time depends on: its benchmark and profile (model, data, length) and
    whether each step waits for host-side weight solves."""
    return config.benchmark, config.profile, needs_gramian(config)


class GpuMonitor:
    """Samples GPU utilisation (%) and memory (MiB) with nvidia-smi once a second, in a thread."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        query = ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits"]
        while not self._stop.is_set():
            try:
                out = subprocess.run(query, capture_output=True, text=True, timeout=5).stdout.split(",")
                self.samples.append((time.time(), float(out[0]), float(out[1])))
            except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
                return  # no nvidia-smi (a CPU test): no samples
            self._stop.wait(1.0)

    def start(self) -> GpuMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def summary(self, since: float, until: float) -> dict[str, float | None]:
        window = [s for s in self.samples if since <= s[0] <= until]
        if not window:
            return {"gpu_util_mean": None, "gpu_memory_max_mib": None}
        return {
            "gpu_util_mean": sum(s[1] for s in window) / len(window),
            "gpu_memory_max_mib": max(s[2] for s in window),
        }


def package(store: RunStore, out: Path, profiles: list[str]) -> list[str]:
    """One ``records-<profile>-<benchmark>.tar.gz`` per benchmark with records (paths relative to the
    results root); returns the file names written. Called after every finished stack; one tarball
    per benchmark keeps each file under the 16 MiB a GPU machine returns (records are 50-300 KB)."""
    names = []
    for profile in profiles:
        by_benchmark: dict[str, list[Path]] = {}
        for path in store.record_paths(profile):
            by_benchmark.setdefault(path.parent.name, []).append(path)
        for benchmark, files in sorted(by_benchmark.items()):
            name = f"records-{profile}-{benchmark}.tar.gz"
            tmp = out / f".{name}.tmp"
            with tarfile.open(tmp, "w:gz") as tar:
                for path in files:
                    tar.add(path, arcname=str(path.relative_to(store.root)))
            os.replace(tmp, out / name)
            names.append(name)
    return names


# Tier 0's calibration: what one step costs alone and in stacks of growing size, for a loss-only
# method (the GPU's own work) and a Gramian method (each step also solves every run's weights),
# eager and captured (the stacked trainer's ``compile_backend``), so that a session shows where the
# time goes before it trains anything. Each variant: (method, runs, precision, compile backend).
CALIBRATION = {
    "single fp32": ("unitary", 1, "fp32", None),
    "stack of 8 fp32": ("unitary", 8, "fp32", None),
    "stack of 32 fp32": ("unitary", 32, "fp32", None),
    "stack of 64 fp32": ("unitary", 64, "fp32", None),
    "stack of 32 bf16": ("unitary", 32, "bf16", None),
    "stack of 32 fp32 captured": ("unitary", 32, "fp32", "inductor"),
    "IMTL-G single fp32": ("imtlg", 1, "fp32", None),
    "IMTL-G stack of 8 fp32": ("imtlg", 8, "fp32", None),
    "IMTL-G stack of 32 fp32": ("imtlg", 32, "fp32", None),
    "IMTL-G stack of 32 fp32 captured": ("imtlg", 32, "fp32", "inductor"),
}
TINY_CALIBRATION = {
    "single fp32": ("unitary", 1, "fp32", None),
    "stack of 4 fp32": ("unitary", 4, "fp32", None),
    "IMTL-G stack of 4 fp32": ("imtlg", 4, "fp32", None),
}


def calibrate(
    device: str, seconds: float = 30.0, tiny: bool = False, monitor: GpuMonitor | None = None
) -> dict[str, Any]:
    """Run-steps per second of MultiLeNet (full profile) alone and stacked, eager and captured
    (:data:`CALIBRATION`), each variant with its throughput over one run of its method, its warm-up
    (build and compile) time and the mean GPU utilisation while it ran (``monitor``; None without
    nvidia-smi)."""
    from autoscale.experiments.profiles import profile_config
    from autoscale.training.stacked import StackedTrainer
    from autoscale.training.state import RunState

    profile = "smoke" if tiny else "full"
    variants = TINY_CALIBRATION if tiny else CALIBRATION
    budget = seconds / len(variants)
    result = {}
    for name, (method, size, precision, backend) in variants.items():
        base = profile_config("multimnist", profile, device=device, method=method)
        configs = [replace(base, seed=s, precision=precision) for s in range(size)]
        built = time.perf_counter()
        trainer = StackedTrainer(configs, progress=False, compile_backend=backend)
        states = [RunState() for _ in configs]
        train = trainer.data["train"]
        n, batch = len(train), base.batch_size
        steps, started, step = 0, None, 0
        while True:
            indices = torch.randint(0, n, (size, batch), device=train.inputs.device)
            x, targets = train.batch(indices)
            trainer._step(x.to(trainer.device), {k: v.to(trainer.device) for k, v in targets.items()}, step, states)
            step += 1
            if step == 5:  # warm-up (cuDNN autotuning, first kernels)
                if trainer.device.type == "cuda":
                    torch.cuda.synchronize()
                started = time.perf_counter()
                wall_started = time.time()
                warm_up_s = started - built  # building the stack, and compiling a captured step
            elif started is not None:
                steps += 1
                if steps % 20 == 0:
                    if trainer.device.type == "cuda":
                        torch.cuda.synchronize()
                    if time.perf_counter() - started > budget:
                        break
        elapsed = time.perf_counter() - started
        result[name] = {
            "method": method,
            "runs": size,
            "captured": backend,
            "warm_up_s": warm_up_s,
            "step_s": elapsed / steps,
            "run_steps_per_s": size * steps / elapsed,
            **(monitor.summary(wall_started, time.time()) if monitor else {}),
        }
        trainer.log.flush()
    single = {row["method"]: row["run_steps_per_s"] for row in result.values() if row["runs"] == 1}
    for row in result.values():
        reference = single.get(row["method"], single.get("unitary"))
        row["throughput_over_single"] = row["run_steps_per_s"] / reference
    return result


def run_notebook(device: str) -> dict[str, Any]:
    """Execute one chapter with papermill at ``smoke`` on ``device`` (the reader's path)."""
    root = Path(__file__).resolve().parents[3]
    notebook = root / "notebooks" / NOTEBOOK
    target = Path(tempfile.mkdtemp()) / NOTEBOOK  # not brought back: at most 8 files return
    command = [
        sys.executable, "-m", "papermill", "--kernel", "python3", "--cwd", str(root / "notebooks"),
        "-p", "profile", "smoke", "-p", "device", device, str(notebook), str(target),
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    return {
        "notebook": NOTEBOOK,
        "ok": done.returncode == 0,
        "seconds": time.perf_counter() - started,
        "error_tail": None if done.returncode == 0 else done.stderr[-2000:],
    }


def guarded(what: str, say: Callable[[str], None], fn: Callable[[], Any]) -> Any:
    """``fn()``, or None after printing the traceback: one failing part must not cost the session."""
    try:
        return fn()
    except Exception:
        say(f"{what} failed:\n{traceback.format_exc()}")
        return None


def tier0(device: str, out: Path, tiny: bool, say: Callable[[str], None], monitor: GpuMonitor) -> dict[str, Any]:
    result: dict[str, Any] = {}
    result["bench_file"] = guarded("the step-time table", say, lambda: step_table(device, out, tiny, say))
    say("tier 0: weight solves of stacks of 8 to 64 runs, one run after another against batched")
    result["solver_bench"] = guarded("the weight-solve benchmark", say, lambda: solver_table(device, tiny, say))
    say("tier 0: calibration (one run against stacks of 8 to 64, fp32 against bf16, eager against captured)")
    result["calibration"] = guarded("calibration", say, lambda: calibrate(device, 6.0 if tiny else 40.0, tiny, monitor))
    say(json.dumps(result["calibration"], indent=1))
    say(f"tier 0: papermill {NOTEBOOK} at smoke on {device}")
    result["notebook"] = run_notebook(device)
    say(json.dumps({k: v for k, v in result["notebook"].items() if k != "error_tail"}))
    if not result["notebook"]["ok"]:
        say(result["notebook"]["error_tail"] or "")
    return result


def step_table(device: str, out: Path, tiny: bool, say: Callable[[str], None]) -> str:
    from autoscale.bench import steps as bench
    from autoscale.methods import available_methods

    profile = "smoke" if tiny else "full"
    bench.use_profile(profile)
    settings = (
        bench.Settings(warmup=2, steps=3, run_steps=10) if tiny else bench.Settings(warmup=5, steps=20, run_steps=200)
    )
    benchmarks = ["multimnist"] if tiny else list(bench.BENCHED)
    say(f"tier 0: step times of every method on the {profile} models ({', '.join(benchmarks)})")
    table = bench.run_bench(benchmarks, available_methods(), torch.device(device), settings, progress=say)
    table["profile"] = profile
    bench_name = f"bench-{bench.device_kind(torch.device(device))}-{profile}.json"
    atomic_write_bytes(out / bench_name, json.dumps(table, indent=1).encode())
    say(bench.format_table(table))
    return bench_name


def solver_table(device: str, tiny: bool, say: Callable[[str], None]) -> list[dict[str, Any]]:
    """:mod:`autoscale.bench.solvers` on ``device``: per-run against batched weight solves, K = 3."""
    from autoscale.bench import solvers

    sizes, repeats = ((2,), 1) if tiny else ((8, 32, 64), 5)
    rows = []
    for row in solvers.rows(torch.device(device), sizes, repeats=repeats):
        say(f"{row['method']} x {row['runs']}: per-run / batched {row['per_run_over_batched']:.2f}")
        rows.append(row)
    return rows


def prepare_scenes(tiny: bool, say: Callable[[str], None]) -> None:
    """Render the scene splits the tiers need (16 processes on the GPU machine)."""
    from autoscale.training.datasets.scene_datasets import SCENE_SIZES, ensure_scenes
    from autoscale.training.paths import data_root

    workers = max(1, (os.cpu_count() or 2) - 1)
    profiles = ["smoke"] if tiny else ["full"]
    for profile in profiles:
        sizes = SCENE_SIZES[profile]
        for kind in ("street", "indoor"):
            for split in ("train", "val", "test"):
                started = time.perf_counter()
                ensure_scenes(data_root(), kind, split, sizes[split], sizes["height"], sizes["width"], 0, workers)
                say(f"scenes-{kind} {split} at {profile}: {time.perf_counter() - started:.1f} s")


def session_files(directory: Path | None = None) -> dict[str, dict]:
    """The committed summaries of earlier GPU sessions (``results/full/gpu_sessions/*.json`` of the
    repository, beside the committed benchmark files), by name."""
    directory = directory or Path(__file__).resolve().parents[3] / "results" / "full" / "gpu_sessions"
    return {path.stem: json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))}


def session_table(sessions: dict[str, dict]) -> pd.DataFrame:
    """One row per session and tier: status, wall time, runs trained and left, runs per hour, GPU use."""
    rows = []
    for name, session in sessions.items():
        for tier, entry in session["tiers"].items():
            rows.append({
                "session": name, "device": session["device"], "tier": int(tier), "what": entry["name"],
                "status": entry["status"], "wall (s)": entry.get("wall_s"), "runs trained": entry.get("runs_trained"),
                "runs left": entry.get("runs_left"), "runs / hour": entry.get("runs_per_hour"),
                "GPU util (%)": entry.get("gpu_util_mean"), "GPU memory (MiB)": entry.get("gpu_memory_max_mib"),
            })  # fmt: skip
    return pd.DataFrame(rows).set_index(["session", "tier"]) if rows else pd.DataFrame()


def stack_table(sessions: dict[str, dict]) -> pd.DataFrame:
    """One row per stack the sessions trained (finished, or stopped at the deadline): its methods,
    benchmark, size, wall time, runs per hour and the GPU's mean utilisation meanwhile: where a
    session's minutes went, stack by stack."""
    rows = []
    for name, session in sessions.items():
        for tier, entry in session["tiers"].items():
            for finished, stacks in ((True, entry.get("stacks", [])), (False, entry.get("stopped_stacks", []))):
                for row in stacks:
                    if "methods" not in row:  # sessions before per-stack summaries
                        continue
                    rows.append({
                        "session": name, "tier": int(tier), "benchmark": row["benchmark"],
                        "methods": ", ".join(row["methods"]), "runs": row["runs"], "finished": finished,
                        "wall (s)": row["seconds"], "runs / hour": row["runs_per_hour"] if finished else None,
                        "GPU util (%)": row.get("gpu_util_mean"), "GPU memory (MiB)": row.get("gpu_memory_max_mib"),
                    })  # fmt: skip
    return pd.DataFrame(rows).set_index(["session", "tier"]) if rows else pd.DataFrame()


def stack_methods(stack: list[RunConfig]) -> list[str]:
    """The methods a stack trains, sorted, each once."""
    return sorted({c.method for c in stack})


def stack_row(stack: list[RunConfig], seconds: float, monitor: GpuMonitor, since: float) -> dict[str, Any]:
    """What a session keeps of a stack beside its timing: methods, benchmark, profile, runs per
    hour and the GPU's utilisation and memory while it trained."""
    return {
        "methods": stack_methods(stack),
        "benchmark": stack[0].benchmark,
        "profile": stack[0].profile,
        "runs_per_hour": len(stack) / seconds * 3600,
        **monitor.summary(since, since + seconds),
    }


def train_groups(
    groups: list[tuple[list[RunConfig], int]],
    store: RunStore,
    deadline: float,
    say: Callable[[str], None],
    saved: Callable[[], None],
    entry: dict[str, Any],
    budget: StackBudget,
    monitor: GpuMonitor,
) -> int:
    """Trains each group in stacks sized by ``budget`` until the deadline; returns the number of
    runs trained. Every finished stack's timing and summary (:func:`stack_row`) goes to
    ``entry["stacks"]``, then ``saved`` is called; a stack stopped at the deadline goes to
    ``entry["stopped_stacks"]`` (its time is not a stack's cost, so the budget does not learn it)."""
    trained = 0
    for group, cap in groups:
        while group:
            left = deadline - time.time()
            size = budget.size(group[0], left, cap)
            if size == 0:
                need = budget.estimate(run_kind(group[0]), 1)
                method = group[0].method
                say(f"deadline: a stack of one more {method} run takes about {need:.0f} s, {left:.0f} s are left")
                return trained
            stack, group = group[:size], group[size:]
            stack_start = time.time()
            summary = f"a stack of {len(stack)} {stack_methods(stack)}"
            records = guarded(summary, say, lambda s=stack: run_stack(s, store, False, deadline))
            if records is None:
                entry["failed_stacks"] = entry.get("failed_stacks", 0) + 1
                continue
            seconds = time.time() - stack_start
            if records[0] is None:
                row = budget.row(stack, seconds) | stack_row(stack, seconds, monitor, stack_start)
                entry.setdefault("stopped_stacks", []).append(row)
                say(f"deadline: a stack of {len(stack)} stopped unfinished (its checkpoint is kept)")
                return trained
            row = budget.record(stack, seconds) | stack_row(stack, seconds, monitor, stack_start)
            entry.setdefault("stacks", []).append(row)
            trained += len(stack)
            util = row["gpu_util_mean"]
            busy = "" if util is None else f", GPU {util:.0f}% busy"
            say(f"{summary} done in {seconds:.1f} s ({row['runs_per_hour']:.0f} runs/hour{busy})")
            saved()
    return trained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autoscale.commands.gpu_session", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the files to bring back")
    parser.add_argument("--minutes", type=float, default=8.0, help="deadline, from the start of this command")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--commit", help="the commit of this working tree (a copy without .git)")
    parser.add_argument("--tiers", default="0,1,2,3,4", help="comma-separated tiers to run, in order")
    parser.add_argument("--tiny", action="store_true", help="every tier at smoke (a quick CPU test)")
    parser.add_argument("--stack", type=int, default=64, help="most runs per stack")
    args = parser.parse_args(argv)
    started = time.time()
    deadline = started + args.minutes * 60
    if args.commit:
        os.environ["AUTOSCALE_GIT_COMMIT"] = args.commit
    args.out.mkdir(parents=True, exist_ok=True)
    store = RunStore()
    profiles = ["smoke"] if args.tiny else ["full", "gpuday"]
    monitor = GpuMonitor().start()
    session: dict[str, Any] = {
        "commit": args.commit,
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "minutes": args.minutes,
        "tiny": args.tiny,
        "tiers": {},
    }

    def say(message: str) -> None:
        print(f"[{time.time() - started:6.1f} s] {message}", flush=True)

    def write_session() -> None:
        session["wall_s"] = time.time() - started
        session["packages"] = package(store, args.out, profiles)
        atomic_write_bytes(args.out / "session.json", json.dumps(session, indent=1).encode())

    budget = StackBudget(kind=run_kind)
    budget.add_sessions(session_files(store.root / "full" / "gpu_sessions").values(), session["device"])
    tiers = [int(t) for t in args.tiers.split(",") if t.strip()]
    if any(t in (2, 3, 4) for t in tiers):
        prepare_scenes(args.tiny, say)
    for tier in tiers:
        tier_start = time.time()
        entry: dict[str, Any] = {"name": TIER_NAMES[tier], "status": "running"}
        session["tiers"][str(tier)] = entry
        if tier == 0:
            entry.update(tier0(args.device, args.out, args.tiny, say, monitor))
            entry["status"] = "done"
        else:
            configs = [c for c in tier_configs(tier, args.device, args.tiny) if store.load(c) is None]
            groups = ordered_groups(configs, args.stack)
            say(f"tier {tier} ({TIER_NAMES[tier]}): {len(configs)} runs to train in {len(groups)} groups")
            trained = train_groups(groups, store, deadline, say, write_session, entry, budget, monitor)
            entry["runs_trained"] = trained
            entry["runs_left"] = len(configs) - trained
            entry["status"] = "done" if trained == len(configs) else "partial"
        entry["wall_s"] = time.time() - tier_start
        if entry.get("runs_trained"):
            entry["runs_per_hour"] = entry["runs_trained"] / entry["wall_s"] * 3600
        entry.update(monitor.summary(tier_start, time.time()))
        write_session()
        say(f"tier {tier}: {entry['status']} in {entry['wall_s']:.1f} s")
        if entry["status"] != "done" or time.time() > deadline:
            break
    monitor.stop()
    write_session()
    say(f"session done; files in {args.out}: {sorted(p.name for p in args.out.iterdir())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
