"""Command line: ``python -m autoscale sweep ...`` runs the linear-scalarization sweep of a
benchmark (weight grid + single-task baselines) outside the notebooks, through the same run store,
so the book reuses what it trained; ``python -m autoscale train ...`` trains one configuration;
``python -m autoscale records ...`` looks after the committed run records (status, train what the
book is missing, verify by re-derivation, rebuild a manifest, clear a profile).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from autoscale.experiments.plans import ls_sweep_plan
from autoscale.experiments.profiles import PROFILES, benchmarks, profile_config
from autoscale.experiments.runs import run, run_sweep_plan
from autoscale.experiments.store import RunStore
from autoscale.methods import available_methods


def _value(text: str) -> Any:
    """A command-line option value: JSON if it parses (numbers, lists, booleans), else a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _options(pairs: list[str]) -> dict[str, Any]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: --option expects KEY=VALUE, got {pair!r}")
        options[key] = _value(value)
    return options


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m autoscale", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = top.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("sweep", "linear-scalarization weight sweep + single-task baselines"),
        ("train", "train one configuration"),
    ):
        sub = commands.add_parser(name, help=helptext)
        sub.add_argument("--benchmark", required=True, choices=benchmarks())
        sub.add_argument("--profile", default="cpu", choices=PROFILES)
        sub.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
        sub.add_argument("--results-root", help="run store root (default: $AUTOSCALE_RESULTS_ROOT or ./results)")
        sub.add_argument("--force", action="store_true", help="retrain even if the run store holds a record")
    commands.choices["sweep"].add_argument("--n-weights", type=int, help="number of weight sets (default: profile's)")
    commands.choices["sweep"].add_argument(
        "--workers", type=int, help="runs trained at once (default: $AUTOSCALE_WORKERS or 1)"
    )
    add_records_parser(commands)
    train = commands.choices["train"]
    train.add_argument("--method", default="unitary", choices=available_methods())
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="method option, value as JSON (e.g. weights=[0.5,1.5], alpha=0.3); repeatable",
    )
    return top


def add_records_parser(commands: argparse._SubParsersAction) -> None:
    records = commands.add_parser("records", help="status, training, verification of the run records")
    actions = records.add_subparsers(dest="action", required=True)
    helps = {
        "status": "per chapter and benchmark: runs present, missing, stale, corrupt",
        "train": "train every run the book's chapters miss, in one batch",
        "verify": "re-train a sample of records here and compare every stored number",
        "rebuild-manifest": "rebuild a profile's manifest from its record files",
        "clear": "move a profile's records aside (to retrain it from scratch)",
        "default-profile": "print the strongest profile whose records are complete",
        "import": "add the records a GPU session brought back (its output folder) to the run store",
    }
    for action, helptext in helps.items():
        sub = actions.add_parser(action, help=helptext)
        sub.add_argument("--results-root", help="run store root (default: $AUTOSCALE_RESULTS_ROOT or ./results)")
        if action not in ("default-profile", "import"):
            sub.add_argument("--profile", default="cpu", choices=PROFILES)
    actions.choices["status"].add_argument("--strict", action="store_true", help="exit 1 unless complete and fresh")
    actions.choices["train"].add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    actions.choices["train"].add_argument("--workers", type=int, help="runs at once (default: $AUTOSCALE_WORKERS or 1)")
    verify = actions.choices["verify"]
    verify.add_argument("--sample", type=int, default=0, help="records drawn at random (default 0)")
    verify.add_argument("--cheapest", type=int, default=0, help="records with the lowest wall time (default 0)")
    verify.add_argument("--seed", type=int, help="seed of the random draw (default: a new one, printed)")
    verify.add_argument("--benchmark", help="only records of this benchmark")
    verify.add_argument("--method", help="only records of this method")
    verify.add_argument("--max-seconds", type=float, help="only records that trained within this wall time")
    verify.add_argument("--device", default="cpu", help="device to re-derive on (default: cpu)")
    actions.choices["import"].add_argument("folder", help="the GPU session's output folder (records-*.tar.gz)")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "records":
        from autoscale.commands.record_commands import records_command

        return records_command(args)
    store = RunStore(args.results_root)
    if args.command == "sweep":
        plan = ls_sweep_plan(args.benchmark, args.profile, device=args.device, n_weights=args.n_weights)
        ls, stl = run_sweep_plan(plan, store, force=args.force, workers=args.workers)
        print(
            f"{len(ls)} weight-set runs and {len(stl)} single-task runs of {args.benchmark} "
            f"[{args.profile}] are in {store.root}"
        )
        return 0
    config = profile_config(
        args.benchmark,
        args.profile,
        device=args.device,
        method=args.method,
        seed=args.seed,
        method_options=_options(args.option),
    )
    record = run(config, store, force=args.force)
    print(json.dumps({"record": str(store.path(config)), "test": record["final"]["test"]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
