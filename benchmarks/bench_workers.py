"""Series throughput of ``mhub run --workers N``: the thresholder model on generated CT series.

Run: ``.venv/bin/python benchmarks/bench_workers.py [--series 8] [--slices 48] [--size 128] [--workers 1,2]``.
Each run includes what a user waits for: import and QC in the main process, worker start-up (a spawned process
imports mhubio and builds the chain), conversion, thresholds, SEG encoding and the report.
Prints a table; it asserts nothing (speed is not a test).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from mhubio.core.config import workflow_path
from mhubio.core.exitcodes import ExitCode
from mhubio.core.logs import ProgressPrinter
from mhubio.core.runner import RunOptions, run_workflow
from mhubio.synthetic import write_ct_series


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=8)
    parser.add_argument("--slices", type=int, default=48)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    config = workflow_path("thresholder")
    rows = []
    with tempfile.TemporaryDirectory(prefix="mhub-bench-") as tmp:
        input_dir = Path(tmp) / "in"
        for seed in range(args.series):
            write_ct_series(input_dir / f"ct{seed}", shape=(args.slices, args.size, args.size), seed=seed)
        for workers in counts:
            options = RunOptions(input_dir, Path(tmp) / f"out{workers}", workers=workers)
            start = time.perf_counter()
            report = run_workflow(config, options, ProgressPrinter(quiet=True))
            seconds = time.perf_counter() - start
            if report.exit_code != ExitCode.SUCCESS:
                raise SystemExit(f"{workers} worker(s): exit {int(report.exit_code)}: {report.error}")
            steps = sum(t.seconds for i in report.instances for t in i.timings)
            rows.append((workers, seconds, steps))
    print(f"thresholder, {args.series} series of {args.slices}x{args.size}x{args.size}, {os.cpu_count()} CPU cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'workers':>7} {'wall s':>8} {'series/min':>10} {'speed-up':>8} {'sum of step s':>13}")
    base = rows[0][1]
    for workers, seconds, steps in rows:
        print(f"{workers:>7} {seconds:>8.2f} {60 * args.series / seconds:>10.1f} {base / seconds:>8.2f} {steps:>13.2f}")


if __name__ == "__main__":
    main()
