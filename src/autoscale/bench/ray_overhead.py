"""What the Ray engine costs on this machine: start-up time of a local instance and the memory of
its processes.

    python -m autoscale.bench.ray_overhead

Prints JSON: seconds from ``ray.init`` to the first finished task, and the resident memory (MiB)
of every Ray process (this process excluded), read from /proc (Linux).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


def ray_processes_mib() -> float:
    """Resident memory of the processes whose command line names Ray, other than this one."""
    total = 0.0
    for status in Path("/proc").glob("[0-9]*/status"):
        if status.parent.name == str(os.getpid()):
            continue
        try:
            text = status.read_text()
            cmdline = (status.parent / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "ray" in cmdline and "VmRSS:" in text:
            total += int(text.split("VmRSS:")[1].split()[0]) / 1024
    return total


def main() -> int:
    import ray

    started = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    ray.get(ray.remote(lambda: None).remote())
    seconds = time.perf_counter() - started
    mib = ray_processes_mib()
    ray.shutdown()
    print(
        json.dumps(
            {"cpus": os.cpu_count(), "start_to_first_task_s": round(seconds, 2), "ray_processes_mib": round(mib)}
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
