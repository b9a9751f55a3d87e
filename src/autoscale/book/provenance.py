"""The provenance line of a book page: profile, device, seeds, commit and staleness of its records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from autoscale.experiments.run_record import RunRecord

Record = RunRecord | dict[str, Any]


def provenance(records: Iterable[Record]) -> dict[str, str]:
    """Profile, device, seeds, commit and staleness of a set of run records (views or the store's
    dicts), for the page's provenance line: ``stale`` says how many were trained by other code
    than the current (:attr:`RunRecord.is_stale`) and at which commits."""
    runs = [RunRecord.of(r) for r in records]
    if not runs:
        return {"profile": "-", "device": "-", "seeds": "-", "commit": "-", "runs": "0", "stale": "-"}

    def distinct(values: Iterable[Any]) -> str:
        return ", ".join(str(v) for v in sorted(set(values), key=str))

    stale = [r for r in runs if r.is_stale]
    return {
        "profile": distinct(r.profile for r in runs),
        "device": distinct(r.device for r in runs),
        "seeds": distinct(r.seed for r in runs),
        "commit": distinct(r.git_commit for r in runs),
        "runs": str(len(runs)),
        "stale": (
            f"{len(stale)} of {len(runs)} stale (trained by other code, at commit "
            f"{distinct(r.git_commit for r in stale)})"
            if stale
            else "none stale"
        ),
    }


def unique_runs(records: Iterable[Record]) -> list[RunRecord]:
    """The records as views, each run once (a run read by several tables of a page counts once)."""
    return list({r.config_hash or id(r.data): r for r in map(RunRecord.of, records)}.values())


def provenance_line(records: Iterable[Record], what: str = "runs") -> str:
    """The page's provenance line (Markdown): profile, device, seeds, commit, runs, staleness.
    A run read by several of the page's tables counts once."""
    p = provenance(unique_runs(records))
    return (
        f"*Provenance: profile {p['profile']}; device {p['device']}; seeds {p['seeds']}; commit {p['commit']}; "
        f"{p['runs']} {what}; {p['stale']}.*"
    )
