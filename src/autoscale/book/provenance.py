"""The provenance line of a book page: profile, device, seeds, commit and staleness of its records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from autoscale.experiments import records as record_files


def provenance(records: Iterable[dict]) -> dict[str, str]:
    """Profile, device, seeds, commit and staleness of a set of run records, for the page's
    provenance line: ``stale`` says how many were trained by other code than the current
    (:func:`autoscale.experiments.records.is_stale`) and at which commits."""
    records = list(records)
    if not records:
        return {"profile": "-", "device": "-", "seeds": "-", "commit": "-", "runs": "0", "stale": "-"}

    def distinct(values: Iterable[Any]) -> str:
        return ", ".join(str(v) for v in sorted(set(values), key=str))

    stale = [r for r in records if record_files.is_stale(r)]
    return {
        "profile": distinct(r["config"]["profile"] for r in records),
        "device": distinct(r["device"] for r in records),
        "seeds": distinct(r["config"]["seed"] for r in records),
        "commit": distinct(r["git_commit"] for r in records),
        "runs": str(len(records)),
        "stale": (
            f"{len(stale)} of {len(records)} stale (trained by other code, at commit "
            f"{distinct(r['git_commit'] for r in stale)})"
            if stale
            else "none stale"
        ),
    }


def provenance_line(records: Iterable[dict], what: str = "runs") -> str:
    """The page's provenance line (Markdown): profile, device, seeds, commit, runs, staleness.
    A run read by several of the page's tables counts once."""
    unique = list({r.get("config_hash") or id(r): r for r in records}.values())  # one per run
    p = provenance(unique)
    return (
        f"*Provenance: profile {p['profile']}; device {p['device']}; seeds {p['seeds']}; commit {p['commit']}; "
        f"{p['runs']} {what}; {p['stale']}.*"
    )
