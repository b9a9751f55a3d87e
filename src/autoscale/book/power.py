"""How many seeds a comparison needs: the power of the book's paired t interval.

Every "A vs B" statement of the book is a paired t interval over seeds (:mod:`autoscale.book.paired`):
the difference is *resolved* when its two-sided ``level`` interval excludes 0, i.e. when the paired
t test rejects d = 0 at 1 - level. For n seeds whose per-seed differences have standard deviation
σ_d, a true difference δ is resolved with probability (the power)

    P(|T| > t_{1-(1-level)/2, n-1}),   T ~ noncentral t(df = n - 1, nc = δ √n / σ_d),

the textbook power of the one-sample t test applied to the differences (e.g. Cohen 1988, ch. 2).
:func:`required_seeds` is the smallest n with power >= ``power`` (80% by convention);
:func:`resolvable_difference` inverts it: the smallest δ that n seeds resolve with that power.

σ_d is estimated from committed runs (:func:`paired_sd`): a table of Δm by row and seed, with the
rows trained on the same seeds, is a two-way layout; removing the row means and the seed means leaves
residuals e_rs with (R - 1)(S - 1) degrees of freedom, whose pooled variance s² estimates the
per-run noise, and a paired difference of two rows has variance 2 s². For two rows this is exactly the
sample variance of their per-seed differences; with many rows it pools every pair's evidence, which
three seeds per row cannot give one pair alone.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from autoscale.benchmarks import PowerTarget, benchmarks
from autoscale.book.paired import LEVEL
from autoscale.book.results import MainResults, delta_m_by_seed
from autoscale.evaluate import primary_metrics

POWER = 0.8


def paired_power(delta: float, sd: float, n: int, level: float = LEVEL) -> float:
    """Probability that n paired seeds resolve a true difference ``delta`` (module docstring)."""
    if n < 2:
        return 0.0
    if sd <= 0:
        raise ValueError(f"the standard deviation of a paired difference must be positive, got {sd}")
    df = n - 1
    crit = stats.t.ppf(1 - (1 - level) / 2, df)
    nc = abs(delta) * math.sqrt(n) / sd
    return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))


def required_seeds(delta: float, sd: float, power: float = POWER, level: float = LEVEL, limit: int = 10_000) -> int:
    """The smallest number of seeds (>= 2) whose paired interval resolves ``delta`` with ``power``."""
    if delta == 0:
        raise ValueError("a difference of 0 cannot be resolved; give the smallest difference that matters")
    for n in range(2, limit + 1):
        if paired_power(delta, sd, n, level) >= power:
            return n
    raise ValueError(f"more than {limit} seeds needed to resolve {delta} at sd {sd}")


def resolvable_difference(sd: float, n: int, power: float = POWER, level: float = LEVEL) -> float:
    """The smallest difference that ``n`` paired seeds resolve with ``power`` (nan below 2 seeds)."""
    if n < 2:
        return float("nan")
    upper = sd
    while paired_power(upper, sd, n, level) < power:
        upper *= 2
    return float(optimize.brentq(lambda d: paired_power(d, sd, n, level) - power, 0.0, upper, xtol=1e-10))


def paired_sd(table: Mapping[str, Mapping[int, float]]) -> tuple[float, int]:
    """(σ_d, degrees of freedom) from Δm by row and seed (module docstring); rows must share their seeds."""
    rows = list(table)
    if len(rows) < 2:
        raise ValueError(f"need at least two rows to estimate a paired spread, got {rows}")
    seeds = sorted(table[rows[0]])
    if any(sorted(table[r]) != seeds for r in rows):
        raise ValueError("every row must have the same seeds: " + ", ".join(f"{r}: {sorted(table[r])}" for r in rows))
    if len(seeds) < 2:
        raise ValueError("need at least two seeds to estimate a spread")
    values = np.array([[table[r][s] for s in seeds] for r in rows], dtype=float)
    residual = values - values.mean(axis=1, keepdims=True) - values.mean(axis=0, keepdims=True) + values.mean()
    df = (len(rows) - 1) * (len(seeds) - 1)
    return float(math.sqrt(2 * (residual**2).sum() / df)), df


def power_targets() -> dict[str, PowerTarget]:
    """The benchmarks of the estimate, with the smallest paired Δm difference their tables should
    resolve and their minimum seed counts (each benchmark declares its own: ``Benchmark.power``)."""
    return {b.name: b.power for b in benchmarks() if b.power is not None}


# The frozen estimate ships with the package, beside the paper's tables: the book reads it wherever
# its runs are stored.
ESTIMATE_PATH = Path(__file__).resolve().parent / "reference" / "power_estimate.json"
# The published calibration (Kurin et al., "In Defense of the Unitary Scalarization for Deep
# Multi-Task Learning", NeurIPS 2022, MultiMNIST): 10 runs per method, 95% intervals of the average
# task accuracy between these half-widths (points of accuracy) over their methods.
KURIN_RUNS = 10
KURIN_HALF_WIDTHS = (0.20, 0.44)


def accuracy_half_widths(results: MainResults, runs: int = KURIN_RUNS, level: float = LEVEL) -> dict[str, float]:
    """Per row (AutoScale left out, :func:`spread_table`), the half-width of the ``level`` t interval
    of the mean average task accuracy that ``runs`` seeds would give at the row's seed-to-seed standard
    deviation: t_{1-(1-level)/2, runs-1} · s / √runs, our spread put on Kurin et al.'s footing."""
    crit = stats.t.ppf(1 - (1 - level) / 2, runs - 1)
    out = {}
    for row, records in results.groups().items():
        if row == "autoscale":
            continue
        accuracy = [float(np.mean(list(primary_metrics(r.data).values()))) for r in records]
        out[row] = float(crit * np.std(accuracy, ddof=1) / math.sqrt(runs))
    return out


def spread_table(results: MainResults) -> dict[str, dict[int, float]]:
    """Test Δm by row and seed of a main table, AutoScale left out: its short-exploration runs switch
    tasks off on some seeds, a failure of that setting rather than seed-to-seed noise."""
    return {row: delta_m_by_seed(runs, results.stl) for row, runs in results.groups().items() if row != "autoscale"}


def estimate(results: Mapping[str, MainResults], power: float = POWER, level: float = LEVEL) -> dict[str, Any]:
    """The seed counts each benchmark's tables need (module docstring), from its committed main
    table: per benchmark the Δm table it was estimated from, σ_d, its degrees of freedom, the target
    difference and the seeds that resolve it with ``power``."""
    out: dict[str, Any] = {"power": power, "level": level, "benchmarks": {}}
    for benchmark, result in results.items():
        table = spread_table(result)
        sd, df = paired_sd(table)
        target = power_targets()[benchmark]
        delta = target.difference
        out["benchmarks"][benchmark] = {
            "profile": result.plan.profile,
            "seeds": result.plan.seeds,
            "delta_m": {row: {str(s): v for s, v in by_seed.items()} for row, by_seed in table.items()},
            "paired_sd": sd,
            "df": df,
            "target_difference": delta,
            "required_seeds": required_seeds(delta, sd, power, level),
            "minimum_seeds": target.minimum_seeds,
        }
    if "multimnist" in results:
        out["benchmarks"]["multimnist"]["accuracy_half_widths"] = accuracy_half_widths(results["multimnist"])
    return out


def read_estimate(path: Path = ESTIMATE_PATH) -> dict[str, Any]:
    """The frozen estimate (written once, before the tables' runs were trained, by ``main``)."""
    return json.loads(path.read_text())


def main(argv: Sequence[str] | None = None) -> int:
    """Write the estimate of the committed main tables at ``--profile`` to the package's
    ``reference/power_estimate.json`` (once, before the runs whose seeds it fixes are trained)."""
    from autoscale.book.results import stored_main_results
    from autoscale.experiments.plans import TABLE_METHODS
    from autoscale.experiments.store import RunStore
    from autoscale.training.device import git_commit

    parser = argparse.ArgumentParser(prog="python -m autoscale.book.power", description=main.__doc__)
    parser.add_argument("--profile", default="cpu")
    args = parser.parse_args(argv)
    store = RunStore()
    results = {}
    for benchmark in power_targets():
        result = stored_main_results(benchmark, args.profile, "cpu", store, methods=TABLE_METHODS)
        if result is None:
            print(
                f"error: the {args.profile} main table of {benchmark} is not complete in {store.root}", file=sys.stderr
            )
            return 2
        results[benchmark] = result
    out = {"records_commit": git_commit(), **estimate(results)}
    ESTIMATE_PATH.write_text(json.dumps(out, indent=1) + "\n")
    widths = out["benchmarks"]["multimnist"]["accuracy_half_widths"].values()
    print(
        f"multimnist: 95% half-widths of the average accuracy at {KURIN_RUNS} seeds {min(widths):.2f} to "
        f"{max(widths):.2f} (Kurin et al.: {KURIN_HALF_WIDTHS[0]} to {KURIN_HALF_WIDTHS[1]})"
    )
    for benchmark, entry in out["benchmarks"].items():
        print(
            f"{benchmark}: sigma_d {entry['paired_sd']:.3f} ({entry['df']} df); resolving "
            f"{entry['target_difference']} needs {entry['required_seeds']} seeds"
        )
    print(f"wrote {ESTIMATE_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def seed_table(estimate: Mapping[str, Any], seeds: Mapping[str, int]) -> pd.DataFrame:
    """Per benchmark of the frozen ``estimate``: σ_d and where it came from, the target difference,
    the seeds it needs, the minimum, the seeds trained (``seeds``), and the difference those resolve."""
    rows = []
    for benchmark, entry in estimate["benchmarks"].items():
        trained = seeds.get(benchmark)
        rows.append(
            {
                "benchmark": benchmark,
                "σ_d (Δm)": entry["paired_sd"],
                "estimated from": f"{len(entry['delta_m'])} rows x {len(entry['seeds'])} seeds ({entry['df']} df)",
                "target difference": entry["target_difference"],
                "seeds needed": entry["required_seeds"],
                "minimum": entry["minimum_seeds"],
                "seeds trained": trained,
                "resolvable at the seeds trained": (
                    resolvable_difference(entry["paired_sd"], trained, estimate["power"], estimate["level"])
                    if trained
                    else float("nan")
                ),
            }
        )
    return pd.DataFrame(rows).set_index("benchmark")


def calibration_table(estimate: Mapping[str, Any]) -> pd.DataFrame:
    """Our MultiMNIST seed spread beside Kurin et al.'s: the half-widths of the 95% interval of the
    average accuracy at their 10 runs per method, lowest and highest over the rows."""
    widths = list(estimate["benchmarks"]["multimnist"]["accuracy_half_widths"].values())
    return pd.DataFrame(
        [
            {
                "source": "ours (earlier cpu records, spread put on 10 seeds)",
                "lowest": min(widths),
                "highest": max(widths),
            },
            {
                "source": "Kurin et al. 2022 (10 runs per method)",
                "lowest": KURIN_HALF_WIDTHS[0],
                "highest": KURIN_HALF_WIDTHS[1],
            },
        ]
    ).set_index("source")
