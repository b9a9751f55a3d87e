"""Run records as versioned data: compact encoding, code fingerprint, per-profile manifest, checks.

A run record (the dict :class:`autoscale.training.trainer.Trainer` returns) is stored as one line of JSON
under ``<root>/<profile>/<benchmark>/<hash>.json``. Its per-step arrays (``steps``: losses,
weights, step times; ``metrics``: the MTO metric trajectories) are stored as packed arrays:

    {"packed": "<f4", "shape": [T, K], "zlib_b64": "..."}

(little-endian float32 or int32, zlib-compressed, base64), about a fifth of the size of the same
numbers as JSON text. Losses and weights are float32 in training, so float32 loses nothing there;
step times keep 7 significant digits, metric values (computed in float64) too. :func:`decode`
turns packed arrays back into nested lists, so a loaded record has the shape the trainer returns.

Provenance: :func:`stamp` adds ``fingerprint`` (:func:`autoscale.experiments.fingerprint.record_fingerprint`:
the code that the run executes), ``python_version``, ``threads``, ``cpu_kind`` (:func:`cpu_kind`) and
``wall_seconds``. A record whose
fingerprint differs from its run's current code is *stale*: still shown, and counted as such, until it
is retrained or restamped (:mod:`autoscale.experiments.restamp`).

Each profile has a manifest ``<root>/<profile>/manifest.json``: record path → sha256 of the
record file, commit, fingerprint, device, device name, torch and Python versions, wall time,
date (one line per record, so that git diffs and merges stay readable); the PBT searches' result
files with their sha256 (:func:`search_entry`); and the restamps made (commit, the re-derived
sample and its size). :func:`check_record`
names what is wrong with a file (unparseable, truncated, a merge-conflict marker, a sha256 that
does not match the manifest); the run store adds that the file holds the run its name says.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import platform
import zlib
from collections.abc import Iterator
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autoscale.experiments.fingerprint import record_fingerprint
from autoscale.training.files import atomic_write_bytes

PACKED_SECTIONS = ("steps", "metrics")
CONFLICT_MARKERS = (b"<<<<<<< ", b"=======\n", b">>>>>>> ")
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1


# -- compact encoding -------------------------------------------------------------------------


def _pack(value: Any) -> Any:
    """A packed array for a rectangular list of numbers (ints stay int32), else ``value``."""
    if not isinstance(value, list) or not value:
        return value
    try:
        array = np.asarray(value)
    except ValueError:  # ragged
        return value
    if array.dtype.kind in "iub" and np.all(np.abs(array) < 2**31):
        dtype = "<i4"
    elif array.dtype.kind in "iuf":
        dtype = "<f4"
    else:
        return value
    data = np.ascontiguousarray(array, dtype=dtype).tobytes()
    return {"packed": dtype, "shape": list(array.shape), "zlib_b64": base64.b64encode(zlib.compress(data, 9)).decode()}


def _unpack(value: Any) -> Any:
    if isinstance(value, dict) and "packed" in value:
        raw = zlib.decompress(base64.b64decode(value["zlib_b64"]))
        return np.frombuffer(raw, dtype=value["packed"]).reshape(value["shape"]).tolist()
    return value


def encode(record: dict) -> bytes:
    """The record as one line of JSON with packed per-step arrays (module docstring)."""
    out = dict(record)
    for section in PACKED_SECTIONS:
        if isinstance(out.get(section), dict):
            out[section] = {key: _pack(value) for key, value in out[section].items()}
    return json.dumps(out, separators=(",", ":"), allow_nan=True).encode() + b"\n"


def decode(data: bytes | str) -> dict:
    """The record of :func:`encode`'s output, per-step arrays as nested lists."""
    record = json.loads(data)
    for section in PACKED_SECTIONS:
        if isinstance(record.get(section), dict):
            record[section] = {key: _unpack(value) for key, value in record[section].items()}
    return record


# -- provenance -------------------------------------------------------------------------------


@cache
def cpu_kind() -> str:
    """The CPU's vendor and the vector instructions torch's kernels use here (``AuthenticAMD AVX2``).

    CPU training is deterministic given the seed and the thread count only on the same kind of CPU:
    the kernels (oneDNN, MKL) take other code paths with other instruction sets and vendors, which
    round differently. Seen here: the cpu records trained on one machine re-derive with
    differences in the fourth significant digit of the first epoch's losses on an AMD EPYC (AVX2).
    So a record carries its CPU kind, and exact re-derivation is asked of records of this kind only.
    """
    vendor = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("vendor_id"):
                vendor = line.split(":", 1)[1].strip()
                break
    return f"{vendor} {torch.backends.cpu.get_cpu_capability()}"


def stamp(record: dict, wall_seconds: float | None = None) -> dict:
    """``record`` with the provenance fields of the module docstring added (a new dict)."""
    out = dict(record)
    out["fingerprint"] = record_fingerprint(record)
    if device_kind(record) == "cpu":
        out["cpu_kind"] = cpu_kind()
    out["python_version"] = platform.python_version()
    out["threads"] = torch.get_num_threads()
    if wall_seconds is not None:
        out["wall_seconds"] = round(wall_seconds, 3)
    return out


def device_kind(record: dict) -> str:
    """``cpu`` or ``cuda``: the kind of device a record was trained on."""
    return str(record.get("device", "unknown")).split(":")[0]


def rederives_exactly_here(record: dict) -> bool:
    """Whether retraining ``record`` on this machine's CPU must give every number exactly: a CPU
    record of this machine's :func:`cpu_kind` (records from before CPU kinds were recorded count
    as another kind)."""
    return device_kind(record) == "cpu" and record.get("cpu_kind") == cpu_kind()


def is_stale(record: dict) -> bool:
    """Whether the code the record's run executes changed since it was trained or restamped."""
    return record.get("fingerprint") != record_fingerprint(record)


def manifest_entry(record: dict, data: bytes, relative: str) -> dict[str, Any]:
    config = record["config"]
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "benchmark": config["benchmark"],
        "method": config["method"],
        "seed": config["seed"],
        "commit": record.get("git_commit"),
        "restamped": record.get("restamped"),
        "fingerprint": record.get("fingerprint"),
        "device": device_kind(record),
        "device_name": record.get("device"),
        "cpu_kind": record.get("cpu_kind"),
        "threads": record.get("threads"),
        "torch": record.get("torch_version"),
        "python": record.get("python_version"),
        "wall_s": record.get("wall_seconds"),
        "date": record.get("finished_at"),
        "path": relative,
    }


# -- checks -----------------------------------------------------------------------------------


class RecordProblem(ValueError):
    """What is wrong with a record file, and what to do about it."""

    def __init__(self, path: Path, problem: str, advice: str) -> None:
        super().__init__(f"run record {path}: {problem}; {advice}")
        self.path, self.problem, self.advice = path, problem, advice


def has_conflict_markers(data: bytes) -> bool:
    return any(line.startswith(CONFLICT_MARKERS) for line in data.splitlines(keepends=True))


def check_record(path: Path, data: bytes, expected_sha256: str | None) -> dict:
    """The decoded record, or :class:`RecordProblem` naming what is wrong with the file (whether
    it holds the run its name says is the run store's check: it owns the config hash)."""
    restore = f"restore the committed version with 'git checkout -- {path}' or let the run be retrained"
    if has_conflict_markers(data):
        raise RecordProblem(path, "contains git merge-conflict markers", restore)
    try:
        record = decode(data)
    except (ValueError, zlib.error, TypeError) as err:
        problem = "is truncated or not valid JSON" if isinstance(err, json.JSONDecodeError) else "cannot be decoded"
        raise RecordProblem(path, f"{problem} ({err})", restore) from err
    if expected_sha256 is not None and hashlib.sha256(data).hexdigest() != expected_sha256:
        problem = "its sha256 does not match the profile's manifest (edited or replaced since it was trained)"
        raise RecordProblem(path, problem, restore)
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise RecordProblem(path, "is not a run record (no 'config')", restore)
    return record


# -- manifest ---------------------------------------------------------------------------------


def write_manifest(
    path: Path, entries: dict[str, dict], restamps: list[dict] | None = None, searches: dict[str, dict] | None = None
) -> None:
    """One line per record, sorted, so that concurrent additions merge line by line; then one line
    per PBT search (:func:`search_entry`) and per restamp. The searches and restamps already in the
    manifest are kept unless ``searches`` or ``restamps`` replace them."""
    restamps = read_restamps(path) if restamps is None else restamps
    searches = read_searches(path) if searches is None else searches

    def block(items: dict[str, dict]) -> str:
        return ",\n".join(json.dumps(key) + ": " + json.dumps(items[key], sort_keys=True) for key in sorted(items))

    text = f'{{"format": {MANIFEST_FORMAT}, "records": {{\n' + block(entries) + "\n}"
    if searches:
        text += ', "searches": {\n' + block(searches) + "\n}"
    if restamps:
        text += ', "restamps": [\n' + ",\n".join(json.dumps(r, sort_keys=True) for r in restamps) + "\n]"
    atomic_write_bytes(path, (text + "}\n").encode())


def _section(path: Path, name: str, empty: Any) -> Any:
    try:
        return type(empty)(json.loads(path.read_bytes()).get(name, empty))
    except (OSError, ValueError, AttributeError, TypeError):
        return empty


def read_restamps(path: Path) -> list[dict]:
    """The restamps a manifest lists (:mod:`autoscale.experiments.restamp`); [] if none or unreadable
    (a damaged manifest is named by :func:`read_manifest`)."""
    return _section(path, "restamps", [])


def read_searches(path: Path) -> dict[str, dict]:
    """The PBT searches a manifest lists, by result path (``<benchmark>/pbt/<key>.json``); {} if none."""
    return _section(path, "searches", {})


def search_entry(result: dict, data: bytes, relative: str) -> dict[str, Any]:
    """A PBT search's manifest line: the result file's sha256 and what the search was."""
    config = result.get("config", {})
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "benchmark": config.get("benchmark"),
        "seed": config.get("seed"),
        "population": config.get("population"),
        "commit": result.get("git_commit"),
        "wall_s": result.get("wall_seconds"),
        "path": relative,
    }


def read_manifest(path: Path) -> dict[str, dict]:
    """The manifest's entries ({} if there is none); :class:`RecordProblem` if it is damaged."""
    if not path.is_file():
        return {}
    data = path.read_bytes()
    advice = (
        f"rebuild it from the records with 'python -m autoscale records rebuild-manifest --profile "
        f"{path.parent.name}' (after resolving any merge)"
    )
    if has_conflict_markers(data):
        raise RecordProblem(path, "the manifest contains git merge-conflict markers", advice)
    try:
        manifest = json.loads(data)
        return dict(manifest["records"])
    except (ValueError, KeyError, TypeError) as err:
        raise RecordProblem(path, f"the manifest cannot be read ({err})", advice) from err


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside ``path`` (parallel sweep workers update one manifest)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
