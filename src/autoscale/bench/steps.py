"""Step-time benchmark of every method: ``python -m autoscale.bench`` (step time is
wall-clock per training step at steady state, relative to unitary, as in the paper's Table 7).

Per benchmark model (the models of the profiles, on synthetic batches of the benchmarks' shapes, so
no data is read or rendered) the same training step as :class:`autoscale.training.step.TrainStep` is timed
for every registered method (AutoScale's two phases apart, IMTL-G also with each cheap Gramian),
next to:

- **forward** F (forward and task losses) and **forward+backward** F + B (backward of sum_i L_i),
  giving the FLOP floor of an exact Gramian step relative to unitary, (F + K·B) / (F + B): no
  implementation that back-propagates each task through the whole model can do less work;
- the **per-task backward loop**, how most MTL libraries (LibMTL's ``_compute_grad``) take task
  gradients: K backward passes of the stacked losses with ``retain_graph``, each flattened into a
  row of a (K, P) gradient matrix, the method's weights from its shared block, the update w^T J
  written back into ``.grad``; with IMTL-G, like the exact-Gramian step it is compared with;
- **gramian + backward**, this package's previous step (:func:`autoscale.gramian.compute_gramian`,
  then one more backward of sum_i w_i L_i);
- three implementations of the Gramian alone over the shared parameters (forward included): **K
  passes** (:func:`autoscale.gramian.compute_gramian`, accumulated per tensor, the one the package
  uses), **one batched pass** (a vmapped backward, ``is_grads_batched=True``, what
  ``torchjd.autojac.jac`` does) and **naive** (the (K x P)(P x K) product of the flattened Jacobian,
  :func:`autoscale.gramian.naive_gramian`);
- whole **runs** of T steps of AutoScale (default α = 0.2) and of unitary on the 3-task model, with
  the exact and with the cheap Gramian.

Every variant is advanced one step per round, round robin, so that load from other processes on a
shared machine hits all of them alike; the statistic is the median over rounds after a warm-up.
On a GPU the device is synchronised around each step and the peak allocated memory of each
variant's step is recorded; on the CPU memory is not measured (torch's CPU allocator is invisible
to ``tracemalloc``, and the process RSS only grows), so those entries are null.

The run ends with the four key ratios (on the 3-task model when it is benchmarked, else on the first
benchmark), written to a JSON file only where told (``--out PATH``): a quick look never changes
the committed results. The runtime chapter reads ``results/full/bench/<device>[-<profile>].json``;
``--out`` with that path refreshes it. ``--cheap-study`` instead runs :mod:`autoscale.bench.cheap`
and adds its results to the file ``--out`` names (which it then needs).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

import autoscale
from autoscale.experiments.profiles import profile_config
from autoscale.gramian import compute_gramian, naive_gramian
from autoscale.methods import Weighting, available_methods
from autoscale.methods.autoscale import DEFAULTS
from autoscale.training.config import RunConfig
from autoscale.training.datasets.scene_datasets import SCENE_SIZES
from autoscale.training.device import describe_device, git_commit, sync
from autoscale.training.files import atomic_write_json
from autoscale.training.models import MultiTaskModel, build_model
from autoscale.training.state import RunState
from autoscale.training.step import TrainStep
from autoscale.training.tasks import Task, build_tasks, stack_losses
from autoscale.training.trainer import build_optimizer, build_run_method


def profile_shape(benchmark: str, profile: str = "cpu") -> dict[str, Any]:
    """Batch size, input shape and model options of the benchmark at ``profile``: by default the
    steps the book trains on a CPU; ``--profile full`` / ``gpuday`` times the GPU profiles' models."""
    config = profile_config(benchmark, profile)
    if benchmark == "multimnist":
        shape = (1, 28, 28)
    else:
        sizes = SCENE_SIZES[config.data["profile"]]
        shape = (3, sizes["height"], sizes["width"])
    return {"batch_size": config.batch_size, "input": shape, "model": dict(config.model)}


BENCHED = ("multimnist", "scenes-street", "scenes-indoor")
# The shapes being timed (profile_shape); ``use_profile`` switches them for a whole benchmark run.
BENCHMARKS: dict[str, dict[str, Any]] = {b: profile_shape(b) for b in BENCHED}


def use_profile(profile: str) -> None:
    """Time the models and batch sizes of ``profile`` from now on (the default is ``cpu``)."""
    BENCHMARKS.update({b: profile_shape(b, profile) for b in BENCHED})


HEADLINE = "scenes-street"  # the 3-task model: the key ratios and whole runs use it
# Methods whose constructor needs an option; AutoScale is timed per phase (alpha 1: phase 1 only).
OPTIONS: dict[str, dict[str, Any]] = {"linear": {"weights": "ones"}}
PHASES = {"autoscale (phase 1)": {"alpha": 1.0}, "autoscale (phase 2)": {"alpha": 0.0}}
CHEAP_MODES = ("last_layer", "representation", "every:4")
DEFAULT_CHEAP = "every:4"  # closest to the exact weights in the cheap-Gramian study (bench_cheap)
GRAMIAN_METHOD = "imtlg"  # AutoScale's default explorer: the method of the exact-Gramian comparisons
KEY_LINES = (
    ("exact_over_loop", "exact Gramian step / per-task backward loop step"),
    ("exact_over_floor", "exact Gramian step / flop floor"),
    ("run_exact", "AutoScale run / unitary run (exact Gramian)"),
    ("run_cheap", "AutoScale run / unitary run (cheap Gramian)"),
)


@dataclass
class Settings:
    warmup: int = 5
    steps: int = 30
    run_steps: int = 250
    seed: int = 0


QUICK = Settings(warmup=2, steps=5, run_steps=50)


def synthetic_batch(benchmark: str, batch_size: int, device: torch.device, seed: int = 0) -> tuple[Tensor, dict]:
    """An input batch and valid targets of every task of ``benchmark`` (shapes: :mod:`autoscale.training.tasks`)."""
    gen = torch.Generator().manual_seed(seed)
    c, h, w = BENCHMARKS[benchmark]["input"]
    x = torch.rand(batch_size, c, h, w, generator=gen)
    targets: dict[str, Tensor] = {}
    for task in build_tasks(benchmark):
        shape = (batch_size, 1, h, w)
        if benchmark == "multimnist":
            targets[task.name] = torch.randint(0, 10, (batch_size,), generator=gen)
        elif task.name == "semantic":  # -1 marks ignored pixels
            targets[task.name] = torch.randint(-1, task.out_channels, (batch_size, h, w), generator=gen)
        elif task.name in ("depth", "disparity"):
            targets[task.name] = torch.rand(shape, generator=gen) * 10 * (torch.rand(shape, generator=gen) > 0.1)
        elif task.name == "normal":
            targets[task.name] = F.normalize(torch.randn(batch_size, 3, h, w, generator=gen), dim=1)
        elif task.name == "edge":
            targets[task.name] = (torch.rand(shape, generator=gen) > 0.9).float()
        elif task.name == "instance":  # (on-instance mask, dy, dx)
            mask = (torch.rand(shape, generator=gen) > 0.5).float()
            targets[task.name] = torch.cat([mask, 5 * torch.randn(batch_size, 2, h, w, generator=gen) * mask], 1)
        else:
            raise ValueError(f"no synthetic target for task {task.name!r} of {benchmark!r}")
    return x.to(device), {k: v.to(device) for k, v in targets.items()}


@dataclass
class Setup:
    """One model with its tasks, optimiser and method, ready to step."""

    model: MultiTaskModel
    tasks: list[Task]
    method: Weighting
    optimizer: torch.optim.Optimizer


def make_setup(benchmark: str, method: str, options: dict, device: torch.device, seed: int, total_steps: int) -> Setup:
    tasks = build_tasks(benchmark)
    if options.get("weights") == "ones":
        options = {**options, "weights": [1.0] * len(tasks)}
    config = RunConfig(benchmark=benchmark, method=method, method_options=options, seed=seed)
    torch.manual_seed(seed)
    model = build_model(benchmark, [t.name for t in tasks], **BENCHMARKS[benchmark]["model"]).to(device)
    weighting = build_run_method(config, len(tasks), total_steps).to(device)
    return Setup(model, tasks, weighting, build_optimizer(config, [*model.parameters(), *weighting.parameters()]))


def train_step(setup: Setup, gramian: str = "exact") -> TrainStep:
    return TrainStep(
        setup.model,
        setup.tasks,
        setup.method,
        setup.optimizer,
        gramian=gramian,
        max_grad_norm=setup.method.max_grad_norm,
    )


def loop_step(setup: Setup, x: Tensor, targets: dict[str, Tensor]) -> None:
    """The common baseline step: K retained backward passes flattened into J (K, P), then w^T J."""
    model, method = setup.model, setup.method
    shared = model.shared_parameters()
    params = [*shared, *model.task_parameters()]
    sizes = [p.numel() for p in params]
    num_shared = sum(sizes[: len(shared)])
    losses = stack_losses(setup.tasks, model(x), targets)
    k = losses.shape[0]
    jac = torch.stack(
        [
            torch.cat(
                [
                    g.reshape(-1)
                    for g in torch.autograd.grad(
                        losses[i], params, retain_graph=i < k - 1, allow_unused=True, materialize_grads=True
                    )
                ]
            )
            for i in range(k)
        ]
    )
    gramian = jac[:, :num_shared] @ jac[:, :num_shared].T
    weights = method.weights(losses.detach(), gramian)
    setup.optimizer.zero_grad(set_to_none=True)
    for p, g in zip(params, (weights.detach() @ jac).split(sizes), strict=True):
        p.grad = g.view_as(p)
    setup.optimizer.step()


def previous_step(setup: Setup, x: Tensor, targets: dict[str, Tensor]) -> None:
    """This package's previous step: the Gramian from K retained passes, then a backward of sum w_i L_i."""
    model, method = setup.model, setup.method
    losses = stack_losses(setup.tasks, model(x), targets)
    weights = method.weights(losses.detach(), compute_gramian(losses, model.shared_parameters()))
    setup.optimizer.zero_grad(set_to_none=True)
    method.objective(losses, weights).backward()
    setup.optimizer.step()


def batched_gramian(losses: Tensor, inputs: list[Tensor]) -> Tensor:
    """G = J J^T with J from one vmapped backward pass (``is_grads_batched``), accumulated per tensor:
    the alternative to K reverse passes that the Gramian-implementation rows compare."""
    k = losses.shape[0]
    eye = torch.eye(k, dtype=losses.dtype, device=losses.device)
    grads = torch.autograd.grad(losses, inputs, grad_outputs=eye, is_grads_batched=True, retain_graph=True)
    return sum(g.reshape(k, -1) @ g.reshape(k, -1).T for g in grads)


GRAMIAN_IMPLEMENTATIONS: dict[str, Callable[[Tensor, list[Tensor]], Tensor]] = {
    "gramian: K passes": compute_gramian,
    "gramian: one batched pass": batched_gramian,
    "gramian: naive (K x P)(P x K)": naive_gramian,
}


def forward_only(setup: Setup, x: Tensor, targets: dict[str, Tensor]) -> None:
    stack_losses(setup.tasks, setup.model(x), targets)


def forward_backward(setup: Setup, x: Tensor, targets: dict[str, Tensor]) -> None:
    setup.optimizer.zero_grad(set_to_none=True)
    stack_losses(setup.tasks, setup.model(x), targets).sum().backward()


def round_robin(
    variants: dict[str, Callable[[int], None]], rounds: int, device: torch.device, memory: bool
) -> tuple[dict[str, list[float]], dict[str, float | None]]:
    """Step every variant once per round; per-step seconds and (CUDA) peak MiB per variant."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    peaks: dict[str, float | None] = dict.fromkeys(variants)
    for r in range(rounds):
        for name, step in variants.items():
            if memory:
                torch.cuda.reset_peak_memory_stats(device)
            sync(device)
            start = time.perf_counter()
            step(r)
            sync(device)
            times[name].append(time.perf_counter() - start)
            if memory:
                peaks[name] = max(peaks[name] or 0.0, torch.cuda.max_memory_allocated(device) / 2**20)
    return times, peaks


def step_variants(benchmark: str, device: torch.device, settings: Settings, methods: list[str]) -> dict:
    """Callables (round index -> one step) of every variant of the per-method table."""
    x, targets = synthetic_batch(benchmark, BENCHMARKS[benchmark]["batch_size"], device, settings.seed)
    horizon = 10 * (settings.warmup + settings.steps)
    variants: dict[str, Callable[[int], None]] = {}

    def add(name: str, method: str, options: dict | None = None, gramian: str = "exact") -> None:
        stepper = train_step(make_setup(benchmark, method, options or {}, device, settings.seed, horizon), gramian)
        state = RunState()
        variants[name] = lambda r: stepper(x, targets, r, state)

    for method in methods:
        if method == "autoscale":
            for name, options in PHASES.items():
                add(name, method, options)
        else:
            add(method, method, OPTIONS.get(method))
    for mode in CHEAP_MODES:
        add(f"{GRAMIAN_METHOD} [{mode}]", GRAMIAN_METHOD, gramian=mode)
    for name, fn in (
        ("forward", forward_only),
        ("forward+backward", forward_backward),
        ("per-task backward loop", loop_step),
        ("gramian + backward", previous_step),
    ):
        setup = make_setup(benchmark, GRAMIAN_METHOD, {}, device, settings.seed, horizon)
        variants[name] = lambda r, fn=fn, setup=setup: fn(setup, x, targets)
    setup = make_setup(benchmark, "unitary", {}, device, settings.seed, horizon)
    for name, gramian_of in GRAMIAN_IMPLEMENTATIONS.items():

        def gramian_only(r: int, gramian_of=gramian_of) -> None:
            losses = stack_losses(setup.tasks, setup.model(x), targets)
            gramian_of(losses, setup.model.shared_parameters())

        variants[name] = gramian_only
    return variants


def bench_steps(benchmark: str, device: torch.device, settings: Settings, methods: list[str]) -> dict:
    """The per-method table of one benchmark, the baseline comparison and the FLOP floor."""
    variants = step_variants(benchmark, device, settings, methods)
    times, peaks = round_robin(variants, settings.warmup + settings.steps, device, device.type == "cuda")
    median = {name: statistics.median(t[settings.warmup :]) for name, t in times.items()}
    unitary = median["unitary"]
    rows = {
        name: {"median_s": median[name], "ratio_to_unitary": median[name] / unitary, "peak_memory_mib": peaks[name]}
        for name in variants
    }
    k = len(build_tasks(benchmark))
    forward, backward = median["forward"], median["forward+backward"] - median["forward"]
    floor = (forward + k * backward) / (forward + backward)
    exact = median[GRAMIAN_METHOD] / unitary
    setup = make_setup(benchmark, "unitary", {}, torch.device("cpu"), 0, 1)
    return {
        "num_tasks": k,
        "batch_size": BENCHMARKS[benchmark]["batch_size"],
        "input_shape": list(BENCHMARKS[benchmark]["input"]),
        "model": BENCHMARKS[benchmark]["model"] or {"arch": "multilenet"},
        "shared_parameters": sum(p.numel() for p in setup.model.shared_parameters()),
        "head_parameters": sum(p.numel() for p in setup.model.task_parameters()),
        "steps": rows,
        "floor": {
            "forward_s": forward,
            "backward_s": backward,
            "floor_ratio": floor,
            "exact_ratio": exact,
            "exact_over_floor": exact / floor,
        },
        "exact_over_loop": median[GRAMIAN_METHOD] / median["per-task backward loop"],
    }


def bench_runs(benchmark: str, device: torch.device, settings: Settings, cheap: str) -> dict:
    """Whole runs of ``run_steps`` steps: unitary, AutoScale (α = 0.2) exact and cheap, interleaved."""
    x, targets = synthetic_batch(benchmark, BENCHMARKS[benchmark]["batch_size"], device, settings.seed)
    runs = {"unitary": ("unitary", "exact"), "exact": ("autoscale", "exact"), "cheap": ("autoscale", cheap)}
    variants = {}
    for name, (method, gramian) in runs.items():
        stepper = train_step(make_setup(benchmark, method, {}, device, settings.seed, settings.run_steps), gramian)
        state = RunState()
        variants[name] = lambda r, stepper=stepper, state=state: stepper(x, targets, r, state)
    # Warm the code paths on throw-away models: the timed runs themselves are complete runs from step 0.
    for method in ("unitary", GRAMIAN_METHOD):
        warm, state = train_step(make_setup(benchmark, method, {}, device, settings.seed, 1)), RunState()
        for r in range(settings.warmup):
            warm(x, targets, r, state)
    times, _ = round_robin(variants, settings.run_steps, device, memory=False)
    total = {name: sum(t) for name, t in times.items()}
    return {
        "benchmark": benchmark,
        "steps": settings.run_steps,
        "alpha": DEFAULTS["alpha"],
        "cheap_gramian": cheap,
        "total_s": total,
        "run_exact": total["exact"] / total["unitary"],
        "run_cheap": total["cheap"] / total["unitary"],
    }


def device_kind(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device).lower().replace(" ", "-")
    return f"cpu-{torch.get_num_threads()}thread"


def run_bench(
    benchmarks: list[str],
    methods: list[str],
    device: torch.device,
    settings: Settings,
    cheap: str = DEFAULT_CHEAP,
    progress: Callable[[str], None] = print,
) -> dict:
    """The whole benchmark as a JSON-serialisable dict (see the module docstring)."""
    started = time.perf_counter()
    load_before = os.getloadavg()
    result: dict[str, Any] = {
        "version": autoscale.__version__,
        "git_commit": git_commit(),
        "device": describe_device(device),
        "device_kind": device_kind(device),
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "settings": dict(vars(settings), gramian_method=GRAMIAN_METHOD),
        "memory_note": None if device.type == "cuda" else "peak memory is measured on CUDA only",
        "benchmarks": {},
    }
    for benchmark in benchmarks:
        progress(f"timing steps on {benchmark} ...")
        result["benchmarks"][benchmark] = bench_steps(benchmark, device, settings, methods)
    headline = HEADLINE if HEADLINE in benchmarks else benchmarks[0]
    progress(f"timing whole runs on {headline} ...")
    result["runs"] = bench_runs(headline, device, settings, cheap)
    steps = result["benchmarks"][headline]
    result["key_ratios"] = {
        "benchmark": headline,
        "exact_over_loop": steps["exact_over_loop"],
        "exact_over_floor": steps["floor"]["exact_over_floor"],
        "run_exact": result["runs"]["run_exact"],
        "run_cheap": result["runs"]["run_cheap"],
    }
    result["load_average"] = {"before": list(load_before), "after": list(os.getloadavg())}
    result["wall_s"] = time.perf_counter() - started
    return result


def format_table(result: dict) -> str:
    """The per-method table: median step (ms) and ratio to unitary per benchmark."""
    names = list(next(iter(result["benchmarks"].values()))["steps"])
    header = f"{'step':30s}" + "".join(f"{b + ' ms':>20s}{'x':>7s}" for b in result["benchmarks"])
    lines = [header]
    for name in names:
        cells = "".join(
            f"{r['steps'][name]['median_s'] * 1e3:20.1f}{r['steps'][name]['ratio_to_unitary']:7.2f}"
            for r in result["benchmarks"].values()
        )
        lines.append(f"{name:30s}{cells}")
    floors = "".join(f"{'':20s}{r['floor']['floor_ratio']:7.2f}" for r in result["benchmarks"].values())
    lines.append(f"{'flop floor (F+K·B)/(F+B)':30s}{floors}")
    return "\n".join(lines)


def key_lines(key_ratios: dict) -> list[str]:
    return [f"{label}: {key_ratios[key]:.2f}" for key, label in KEY_LINES]


def committed_results(directory: Path | None = None) -> dict[str, dict]:
    """The committed benchmark files (``results/full/bench/*.json`` of the repository), by name."""
    directory = directory or Path(__file__).resolve().parents[3] / "results" / "full" / "bench"
    return {path.stem: json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m autoscale.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmark", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    parser.add_argument("--methods", nargs="+", choices=available_methods(), default=available_methods())
    parser.add_argument("--quick", action="store_true", help="few steps: about 3 minutes on a 2-core CPU")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, help="timed steps per variant (after the warm-up)")
    parser.add_argument("--profile", default="cpu", help="whose models and batch sizes to time (cpu, full, gpuday)")
    parser.add_argument("--cheap", default=DEFAULT_CHEAP, help="cheap Gramian of the AutoScale run")
    parser.add_argument("--cheap-study", action="store_true", help="run the cheap-Gramian study instead")
    parser.add_argument(
        "--out",
        type=Path,
        help="write the results to this JSON file (the runtime chapter reads "
        "results/full/bench/<device>[-<profile>].json); without it nothing is written",
    )
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    use_profile(args.profile)
    out: Path | None = args.out
    if args.cheap_study and out is None:
        parser.error("--cheap-study adds its results to a benchmark file: name it with --out PATH")
    previous = json.loads(out.read_text()) if out is not None and out.is_file() else {}
    if args.cheap_study:
        assert out is not None
        from autoscale.bench.cheap import run_study

        previous["cheap_study"] = run_study(device=args.device, quick=args.quick)
        atomic_write_json(out, previous)
        print(f"wrote {out}")
        return
    settings = QUICK if args.quick else Settings()
    if args.steps:
        settings = dataclasses.replace(settings, steps=args.steps)
    if "unitary" not in args.methods or GRAMIAN_METHOD not in args.methods:
        parser.error(f"--methods must include unitary and {GRAMIAN_METHOD} (the table's reference points)")
    result = run_bench(args.benchmark, args.methods, device, settings, cheap=args.cheap)
    result["profile"] = args.profile
    if "cheap_study" in previous:
        result["cheap_study"] = previous["cheap_study"]
    print(format_table(result))
    if out is None:
        where = f"not written (--out PATH writes it; the runtime chapter reads results/full/bench/{device_kind(device)}"
        print(where + ("" if args.profile == "cpu" else f"-{args.profile}") + ".json)")
    else:
        atomic_write_json(out, result)
        print(f"wrote {out}")
    print(f"load average {result['load_average']}; {result['wall_s']:.0f} s")
    print(f"key ratios on {result['key_ratios']['benchmark']}:")
    print("\n".join(key_lines(result["key_ratios"])))
