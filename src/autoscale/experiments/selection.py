"""Choosing linear-scalarization weights on the validation split (the paper's "searched weights").

A search trains one LS run per candidate weight set and keeps the set with the lowest mean
validation Δm (each task's validation metric against the single-task models' validation metric);
the test split is never looked at. Both of the book's searches use it: the grid of the LS sweep and
the paper's best of 20 random trials (:mod:`autoscale.experiments.plans`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from autoscale.evaluate import delta_m, directions, single_task_baseline
from autoscale.experiments.run_record import RunRecord


def weight_label(weights: Sequence[float]) -> str:
    """A weight set as the book prints it, e.g. ``(1.50, 0.50)``."""
    return "(" + ", ".join(f"{w:.2f}" for w in weights) + ")"


def by_weight_set(ls_records: Iterable[RunRecord]) -> dict[str, list[RunRecord]]:
    """Linear-scalarization runs grouped by weight set (its seeds together), keyed by
    :func:`weight_label`, in the order the weight sets first appear."""
    groups: dict[str, list[RunRecord]] = {}
    for record in ls_records:
        groups.setdefault(weight_label(record.weights), []).append(record)
    return groups


def choose_on_validation(
    ls_records: Sequence[RunRecord], stl_records: Sequence[RunRecord]
) -> tuple[list[float], pd.DataFrame]:
    """The LS weight set with the lowest mean validation Δm (against the single-task models'
    validation metrics), and the selection table (validation and test Δm of every weight set).

    The choice never looks at the test split; the test column is shown to judge the choice.
    """
    higher = directions(r.data for r in ls_records)
    baselines = {split: single_task_baseline((r.data for r in stl_records), split) for split in ("val", "test")}
    rows = []
    for label, runs in by_weight_set(ls_records).items():
        dms = {split: [delta_m(r.metrics(split), baselines[split], higher) for r in runs] for split in ("val", "test")}
        rows.append(
            {
                "weight set": label,
                "weights": runs[0].weights,
                "seeds": len(runs),
                "val Δm": np.mean(dms["val"]),
                "test Δm": np.mean(dms["test"]),
            }
        )
    table = pd.DataFrame(rows).set_index("weight set")
    table["chosen"] = table["val Δm"] == table["val Δm"].min()
    best = table.index[table["chosen"].to_numpy().argmax()]
    return list(table.loc[best, "weights"]), table.sort_values("val Δm")
