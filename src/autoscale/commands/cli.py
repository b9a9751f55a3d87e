"""Command line: ``python -m autoscale sweep ...`` runs the linear-scalarization sweep of a
benchmark (weight grid + single-task baselines) outside the notebooks, through the same run store,
so the book reuses what it trained; ``python -m autoscale train ...`` trains one configuration;
``python -m autoscale records ...`` looks after the committed run records (status, train what the
book is missing, verify by re-derivation, rebuild a manifest, clear a profile);
``python -m autoscale pbt ...`` searches the LS weights by population-based training (Ray Tune).

``sweep`` and ``train`` accept every declared benchmark (:mod:`autoscale.benchmarks`; their ``--help``
lists them), the real datasets (nyuv2, cityscapes, cityscapes3) included; those need their data
downloaded first, and the command says how when it is missing. The book's chapters add the real
datasets only where their data is present.

Bad input (a malformed --option, an option the method rejects, a device this machine lacks, a
damaged run record) ends a command as argparse's own errors do: one "error: ..." line on stderr
and exit status 2. It is checked before anything is trained; an error raised while training is
not bad input and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

# Only light modules at import: the parser is built from names (the profiles and the benchmarks'
# declarations import no torch), and the commands import the run store, plans and trainer when they
# run, so that ``--help`` answers at once.
from autoscale.benchmarks import benchmark_names, benchmarks
from autoscale.commands.arguments import UsageError, add_engine_arguments, check_device, download_command, engine_from
from autoscale.experiments.profiles import PROFILES

if TYPE_CHECKING:  # these modules load torch; `--help` must not
    from autoscale.training.config import RunConfig


class MethodNames:
    """The registered method names, read when argparse first checks or lists them: importing
    :mod:`autoscale.methods` loads torch, which building the parser must not."""

    def _names(self) -> list[str]:
        from autoscale.methods import available_methods

        return list(available_methods())

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())


def missing_data(benchmark: str) -> str | None:
    """None if ``benchmark``'s data can be built here, else an error naming the command that downloads it."""
    from autoscale.training.datasets import has_data
    from autoscale.training.paths import data_root

    if has_data(benchmark):
        return None
    return (
        f"error: the {benchmark} data is not in {data_root()} (a real dataset, downloaded separately; "
        "the data root is $AUTOSCALE_DATA_ROOT, else ./data). To fetch it run:\n"
        f"  {download_command(benchmark)}"
    )


# How a JSON number, list, object or string starts: a value starting so must parse as JSON.
JSON_STARTS = tuple('[{"-+.0123456789')


def _value(key: str, text: str) -> Any:
    """An ``--option`` value: JSON (numbers, lists, booleans, quoted strings), or else the text itself
    for a name (``explore=mgda``). Text that starts like a JSON number, list, object or string must
    parse: taken as a string, a mistyped list (``weights=[1,2``) would fail deep inside the method
    with a message that does not name the option."""
    if not text:
        raise UsageError(f"--option {key}= has no value")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        if text.startswith(JSON_STARTS):
            raise UsageError(
                f"--option {key}={text} is not valid JSON ({err.msg} at character {err.pos}); "
                "write numbers and lists as JSON, e.g. weights=[0.5,1.5] or alpha=0.3"
            ) from None
        return text


def _options(pairs: list[str]) -> dict[str, Any]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--option expects KEY=VALUE, got {pair!r}")
        options[key] = _value(key, value)
    return options


def train_config(args: argparse.Namespace) -> RunConfig:
    """The run ``train`` asks for, checked before anything is loaded or trained: its config and
    its method, built once with the ``--option`` values (their checks name the bad option)."""
    from autoscale.experiments.profiles import profile_config
    from autoscale.methods import build_method
    from autoscale.methods.base import RunContext
    from autoscale.training.tasks import build_tasks

    options = _options(args.option)
    try:
        config = profile_config(
            args.benchmark, args.profile, device=args.device, method=args.method, seed=args.seed, method_options=options
        )
        num_tasks = len(build_tasks(config.benchmark, config.tasks))
    except ValueError as err:
        raise UsageError(str(err)) from err
    # The run's length in steps is known once its data is loaded; the shortest run (one step per
    # epoch) stands in for it, as no method's checks of its options depend on the length.
    run = RunContext(total_steps=config.epochs, seed=config.seed)
    try:
        build_method(config.method, num_tasks, run=run, **config.method_options)
    except TypeError as err:  # build_method's message names the method
        raise UsageError(str(err)) from err
    except ValueError as err:
        raise UsageError(f"bad options for method {config.method!r}: {err}") from err
    return config


def at_least(least: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``least`` (a count of runs, weights, epochs), so that a bad one
    is one of argparse's one-line errors instead of failing later inside the command."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"expected an integer >= {least}, got {value}")
        return value

    return parse


def benchmark_list() -> str:
    """The benchmarks, one a line with its description: the epilog of the commands that take one."""
    width = max(len(name) for name in benchmark_names())
    return "benchmarks:\n" + "\n".join(f"  {b.name:<{width}}  {b.description}" for b in benchmarks())


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m autoscale", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = top.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("sweep", "linear-scalarization weight sweep + single-task baselines"),
        ("train", "train one configuration"),
    ):
        sub = commands.add_parser(
            name, help=helptext, epilog=benchmark_list(), formatter_class=argparse.RawDescriptionHelpFormatter
        )
        sub.add_argument("--benchmark", required=True, choices=benchmark_names())
        sub.add_argument("--profile", default="cpu", choices=PROFILES)
        sub.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
        sub.add_argument("--results-root", help="run store root (default: $AUTOSCALE_RESULTS_ROOT or ./results)")
        sub.add_argument("--force", action="store_true", help="retrain even if the run store holds a record")
    commands.choices["sweep"].add_argument(
        "--n-weights", type=at_least(1), help="number of weight sets (default: profile's)"
    )
    commands.choices["sweep"].add_argument(
        "--workers", type=at_least(1), help="runs trained at once (default: $AUTOSCALE_WORKERS or 1)"
    )
    add_engine_arguments(commands.choices["sweep"])
    add_records_parser(commands)
    add_pbt_parser(commands)
    train = commands.choices["train"]
    train.add_argument(
        "--method", default="unitary", choices=MethodNames(), metavar="METHOD", help="one of: %(choices)s"
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="method option, value as JSON (e.g. weights=[0.5,1.5], alpha=0.3) or a name (explore=mgda); repeatable",
    )
    return top


def add_pbt_parser(commands: argparse._SubParsersAction) -> None:
    pbt = commands.add_parser(
        "pbt",
        help="population-based training of the LS weights (Ray Tune)",
        epilog=benchmark_list(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pbt.add_argument("--benchmark", required=True, choices=benchmark_names())
    pbt.add_argument("--profile", default="cpu", choices=PROFILES)
    pbt.add_argument("--population", type=at_least(1), default=8, help="members trained side by side (default 8)")
    pbt.add_argument(
        "--ready-epochs", type=at_least(1), default=1, help="epochs between exploit/explore steps (default 1)"
    )
    pbt.add_argument("--epochs", type=at_least(1), help="epochs per member (default: the profile's)")
    pbt.add_argument("--seed", type=int, default=0, help="the members' training seed (default 0)")
    pbt.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where members train (default cpu)")
    pbt.add_argument(
        "--gpus-per-member", type=float, help="share of a GPU per member with --device cuda (default 1/population)"
    )
    pbt.add_argument("--address", help="Ray cluster to join ('auto'); its nodes must share the driver's temp folder")
    pbt.add_argument("--results-root", help="run store root (default: $AUTOSCALE_RESULTS_ROOT or ./results)")
    pbt.add_argument("--force", action="store_true", help="search again even if the store holds the result")


def pbt(args: argparse.Namespace) -> int:
    """One PBT search; its result is stored beside the benchmark's run records."""
    from autoscale.experiments.pbt import member_resources, result_path, run_pbt
    from autoscale.experiments.plans import PBTConfig
    from autoscale.experiments.store import RunStore

    store = RunStore(args.results_root)
    config = PBTConfig(
        args.benchmark,
        args.profile,
        args.population,
        args.ready_epochs,
        epochs=args.epochs,
        seed=args.seed,
        device=args.device,
    )
    try:
        member_resources(config, args.gpus_per_member)
    except ValueError as err:
        raise UsageError(f"--gpus-per-member: {err}") from err
    result = run_pbt(config, store, force=args.force, address=args.address, gpus_per_member=args.gpus_per_member)
    best = result["best"]
    weights = ", ".join(f"{w:.2f}" for w in best["weights"])
    print(
        f"PBT on {args.benchmark} [{args.profile}], population {args.population}: {result['exploits']} exploits; "
        f"best member {best['member']}: weights ({weights}), validation Δm {best['val_delta_m']:.2f}, "
        f"test Δm {best['test_delta_m']:.2f}; stored at {result_path(store, config)}"
    )
    return 0


def add_records_parser(commands: argparse._SubParsersAction) -> None:
    records = commands.add_parser("records", help="status, training, verification of the run records")
    actions = records.add_subparsers(dest="action", required=True)
    helps = {
        "status": "per chapter and benchmark: runs present, missing, stale, corrupt",
        "train": "train every run the book's chapters miss, in one batch",
        "verify": "re-train a sample of records here and compare every stored number",
        "restamp": "after a change that keeps numbers: re-derive one stale cpu record per benchmark x method "
        "family exactly, and only if all are identical, give every stale cpu record the current fingerprint",
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
    actions.choices["status"].add_argument(
        "--fresh", action="store_true", help="exit 1 on a stale or corrupt record (missing runs allowed)"
    )
    actions.choices["train"].add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    actions.choices["train"].add_argument(
        "--workers", type=at_least(1), help="runs at once (default: $AUTOSCALE_WORKERS or 1)"
    )
    add_engine_arguments(actions.choices["train"])
    verify = actions.choices["verify"]
    verify.add_argument("--sample", type=at_least(0), default=0, help="records drawn at random (default 0)")
    verify.add_argument("--cheapest", type=at_least(0), default=0, help="records with the lowest wall time (default 0)")
    verify.add_argument("--seed", type=int, help="seed of the random draw (default: a new one, printed)")
    verify.add_argument("--benchmark", help="only records of this benchmark")
    verify.add_argument("--method", help="only records of this method")
    verify.add_argument("--max-seconds", type=float, help="only records that trained within this wall time")
    verify.add_argument("--device", default="cpu", help="device to re-derive on (default: cpu)")
    verify.add_argument(
        "--same-cpu-kind",
        action="store_true",
        help="only records trained on this machine's kind of CPU, which re-derive exactly here; none is not an error",
    )
    actions.choices["restamp"].add_argument(
        "--dry-run", action="store_true", help="list the strata and the sample, re-derive nothing"
    )
    actions.choices["restamp"].add_argument(
        "--baseline",
        help="the commit whose code trained the stale records: sampled records of another CPU kind are "
        "retrained here by it and by the current code, which must agree exactly",
    )
    actions.choices["import"].add_argument("folder", help="the GPU session's output folder (records-*.tar.gz)")


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` (default: ``sys.argv``) asks for; its exit status. Bad input ends it
    as argparse's own errors do: an ``error:`` line on stderr, then SystemExit with status 2
    (:class:`UsageError`); a damaged run record (RecordProblem) is reported the same way."""
    args = parser().parse_args(argv)
    from autoscale.experiments.records import RecordProblem  # loads torch, which --help must not

    try:
        return command(args)
    except UsageError as err:
        print_error(err)
        raise
    except RecordProblem as err:
        print_error(err)
        raise UsageError(str(err)) from err


def print_error(err: BaseException) -> None:
    """``err`` as one ``error:`` line on stderr (a message's line breaks become spaces)."""
    print("error: " + " ".join(str(err).splitlines()), file=sys.stderr)


def command(args: argparse.Namespace) -> int:
    """Dispatch the parsed command line to its command."""
    if args.command == "records":
        from autoscale.commands.record_commands import records_command

        return records_command(args)
    problem = missing_data(args.benchmark)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    if args.command == "sweep":
        return sweep(args)
    if args.command == "pbt":
        return pbt(args)
    return train(args)


def sweep(args: argparse.Namespace) -> int:
    """The benchmark's LS sweep; the trainer is loaded only when the store misses some of its runs."""
    from autoscale.experiments.plans import ls_sweep_plan, stored_sweep_plan
    from autoscale.experiments.store import RunStore

    store = RunStore(args.results_root)
    plan = ls_sweep_plan(args.benchmark, args.profile, device=args.device, n_weights=args.n_weights)
    stored = None if args.force else stored_sweep_plan(plan, store)
    if stored is None:
        from autoscale.experiments.runs import run_sweep_plan

        check_device(args.device)
        stored = run_sweep_plan(plan, store, force=args.force, workers=args.workers, engine=engine_from(args))
    ls, stl = stored
    print(
        f"{len(ls)} weight-set runs and {len(stl)} single-task runs of {args.benchmark} "
        f"[{args.profile}] are in {store.root}"
    )
    return 0


def train(args: argparse.Namespace) -> int:
    """One run; the trainer is loaded only when the store does not hold its record."""
    from autoscale.experiments.store import RunStore

    config = train_config(args)
    store = RunStore(args.results_root)
    record = None if args.force else store.load(config)
    if record is None:
        from autoscale.experiments.runs import run

        check_device(config.device)
        record = run(config, store, force=args.force)
    print(json.dumps({"record": str(store.path(config)), "test": record["final"]["test"]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
