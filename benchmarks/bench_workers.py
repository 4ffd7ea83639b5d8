"""Series throughput of ``mhub run --workers N``: the thresholder model on generated CT series.

Run: ``.venv/bin/python benchmarks/bench_workers.py [--series 10] [--slices 48] [--size 128] [--workers 1,2]
[--repeat 3]``.
Each run is a fresh ``mhub run`` process, so the time is what a user waits for: start-up, import and QC in the
main process (the headers parsed on N processes), worker start-up (a forked process builds the chain),
conversion, thresholds, SEG encoding and the report.  The worker counts run in turn ``--repeat`` times; the
table shows the fastest run of each (on a shared machine the others measure the neighbours), with the CPU
seconds (user and system) that the run's processes used: N workers that use more than one does cost overhead.
Prints a table and whether two workers reach 1.6x the throughput of one; it asserts nothing (speed is not a test).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mhubio.synthetic import write_ct_series

TARGET_RATIO = 1.6
"""Issue 16's target: two workers give at least this throughput of one, on two cores."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10)
    parser.add_argument("--slices", type=int, default=48)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each worker count; the fastest is shown")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    best: dict[int, tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="mhub-bench-") as tmp:
        input_dir = Path(tmp) / "in"
        for seed in range(args.series):
            write_ct_series(input_dir / f"ct{seed}", shape=(args.slices, args.size, args.size), seed=seed)
        for run, workers in enumerate(counts * args.repeat):
            output_dir = Path(tmp) / f"out{run}"
            command = [sys.executable, "-m", "mhubio", "run", "--model", "thresholder", "--input", str(input_dir),
                       "--output", str(output_dir), "--workers", str(workers), "--quiet"]
            start, cpu_start = time.perf_counter(), _children_cpu_seconds()
            done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
            seconds, cpu = time.perf_counter() - start, _children_cpu_seconds() - cpu_start
            if done.returncode != 0:
                raise SystemExit(f"{workers} worker(s): exit {done.returncode}:\n{done.stdout}")
            report = json.loads((output_dir / "mhub_report.json").read_text())
            steps = sum(t["seconds"] for s in report["series"] for t in s["steps"])
            best[workers] = min(best.get(workers, (seconds, steps, cpu)), (seconds, steps, cpu))
    print(f"thresholder, {args.series} series of {args.slices}x{args.size}x{args.size}, {os.cpu_count()} CPU cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'workers':>7} {'wall s':>8} {'series/min':>10} {'speed-up':>8} {'sum of step s':>13} {'CPU s':>6}")
    base = best[counts[0]][0]
    for workers, (seconds, steps, cpu) in best.items():
        print(f"{workers:>7} {seconds:>8.2f} {60 * args.series / seconds:>10.1f} {base / seconds:>8.2f} {steps:>13.2f} "
              f"{cpu:>6.2f}")
    if 1 in best and 2 in best:
        ratio = best[1][0] / best[2][0]
        print(f"--workers 2 / --workers 1 throughput = {ratio:.2f}; target >= {TARGET_RATIO:g}x: "
              f"{'met' if ratio >= TARGET_RATIO else 'NOT met'} on this batch")


def _children_cpu_seconds() -> float:
    """User and system CPU seconds of this process's finished children (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
