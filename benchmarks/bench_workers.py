"""Series throughput of ``mhub run --workers N``: the thresholder model on generated CT series.

Run: ``.venv/bin/python benchmarks/bench_workers.py [--series 10] [--slices 48] [--size 128] [--workers 1,2]
[--repeat 3] [--no-marginal]``.
Each run is a fresh ``mhub run`` process, so the time is what a user waits for: start-up, import and QC in the
main process (the headers parsed on N processes), worker start-up (a forked process builds the chain),
conversion, thresholds, SEG encoding and the report.  The worker counts run in turn ``--repeat`` times; the
table shows the fastest run of each (on a shared machine the others measure the neighbours), with the CPU
seconds (user and system) that the run's processes used: N workers that use more than one does cost overhead.
Prints a table and whether two workers reach 1.6x the throughput of one; it asserts nothing (speed is not a test).

With ``--marginal`` (the default) each worker count also runs a batch of twice the series, which splits a run's
time into a fixed part (start-up, imports, the report: what no worker count divides) and a time per series:
``wall = fixed + series x per-series``.  It prints both, the steady throughput (series per minute once running, the
figure that counts for a long batch) and the most two workers could give on each batch with one worker's fixed
part and time per series, ``(fixed + n p) / (fixed + n p / 2)`` (Amdahl's law).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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
    parser.add_argument("--marginal", action=argparse.BooleanOptionalAction, default=True,
                        help="also run twice the series, to split the time into a fixed part and a time per series")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    batches = [args.series, 2 * args.series] if args.marginal else [args.series]
    best: dict[tuple[int, int], tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="mhub-bench-") as tmp:
        inputs = {batch: Path(tmp) / f"in{batch}" for batch in batches}
        for seed in range(batches[-1]):
            write_ct_series(inputs[batches[-1]] / f"ct{seed}", shape=(args.slices, args.size, args.size), seed=seed)
        if args.marginal:
            for seed in range(args.series):
                name = f"ct{seed}"
                shutil.copytree(inputs[batches[-1]] / name, inputs[args.series] / name, copy_function=os.link)
        runs = [(workers, batch) for batch in batches for workers in counts] * args.repeat
        for run, (workers, batch) in enumerate(runs):
            best[workers, batch] = min(best.get((workers, batch), (float("inf"), 0.0, 0.0)),
                                       _timed_run(inputs[batch], Path(tmp) / f"out{run}", workers))
    print(f"thresholder, {args.series} series of {args.slices}x{args.size}x{args.size}, {os.cpu_count()} CPU cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'series':>6} {'workers':>7} {'wall s':>8} {'series/min':>10} {'speed-up':>8} {'sum of step s':>13} "
          f"{'CPU s':>6}")
    for batch in batches:
        base = best[counts[0], batch][0]
        for workers in counts:
            seconds, steps, cpu = best[workers, batch]
            print(f"{batch:>6} {workers:>7} {seconds:>8.2f} {60 * batch / seconds:>10.1f} {base / seconds:>8.2f} "
                  f"{steps:>13.2f} {cpu:>6.2f}")
    if args.marginal:
        _print_marginal(best, counts, args.series)
    if 1 in counts and 2 in counts:
        ratio = best[1, args.series][0] / best[2, args.series][0]
        print(f"--workers 2 / --workers 1 throughput = {ratio:.2f}; target >= {TARGET_RATIO:g}x: "
              f"{'met' if ratio >= TARGET_RATIO else 'NOT met'} on this batch")


def _timed_run(input_dir: Path, output_dir: Path, workers: int) -> tuple[float, float, float]:
    """Wall seconds, the sum of the report's step seconds and the CPU seconds of one ``mhub run``."""
    command = [sys.executable, "-m", "mhubio", "run", "--model", "thresholder", "--input", str(input_dir),
               "--output", str(output_dir), "--workers", str(workers), "--quiet"]
    start, cpu_start = time.perf_counter(), _children_cpu_seconds()
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    seconds, cpu = time.perf_counter() - start, _children_cpu_seconds() - cpu_start
    if done.returncode != 0:
        raise SystemExit(f"{workers} worker(s): exit {done.returncode}:\n{done.stdout}")
    report = json.loads((output_dir / "mhub_report.json").read_text())
    steps = sum(t["seconds"] for s in report["series"] for t in s["steps"])
    shutil.rmtree(output_dir)
    return seconds, steps, cpu


def _print_marginal(best: dict[tuple[int, int], tuple[float, float, float]], counts: list[int], series: int) -> None:
    """The fixed part and the time per series of each worker count, from the n- and 2n-series batches (a
    difference of two timings: on a shared machine it carries the noise of both)."""
    print(f"fixed part and time per series, from the {series}- and {2 * series}-series batches:")
    print(f"{'workers':>7} {'fixed s':>8} {'s/series':>9} {'steady series/min':>17}")
    split = {}
    for workers in counts:
        short, long = best[workers, series][0], best[workers, 2 * series][0]
        per_series = (long - short) / series
        split[workers] = (short - series * per_series, per_series)
        steady = f"{60 / per_series:.1f}" if per_series > 0 else "n/a (noise)"
        print(f"{workers:>7} {split[workers][0]:>8.2f} {per_series:>9.3f} {steady:>17}")
    if 1 in split and split[1][1] > 0:
        fixed, per_series = split[1]
        bounds = [(fixed + n * per_series) / (fixed + n * per_series / 2) for n in (series, 2 * series)]
        print(f"with one worker's fixed part, two workers can give at most {bounds[0]:.2f}x on {series} series and "
              f"{bounds[1]:.2f}x on {2 * series} (Amdahl's law)")


def _children_cpu_seconds() -> float:
    """User and system CPU seconds of this process's finished children (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
