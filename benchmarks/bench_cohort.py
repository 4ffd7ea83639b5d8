"""Cohort scale: many small generated CT series through the thresholder, memory per series and table/report time.

Run: ``.venv/bin/python benchmarks/bench_cohort.py [--series 1000] [--slices 12] [--size 32] [--dask]``.
Runs ``mhub run --workers 2`` (and, with ``--dask``, ``mhub run --scheduler`` on a 2-worker Dask LocalCluster;
with ``--dask-no-profile``, on one whose workers have Dask's statistical profiler off) as a user would, sampling
every half second the memory of the run's processes and the number of finished series (state files): the
caller's resident memory (RSS) and the workers' proportional set size (PSS: a page shared by several processes
counts by its share, so forked workers, which share pages with the caller, are not counted twice).  Prints, per
executor: wall time, series per minute, the caller's RSS and the workers' PSS at 10 %, 50 % and 100 % of the
series, their growth per 1,000 series fitted over the second half (flat memory: close to 0),
the time from the last series to the end of the run (tables and HTML report), and the
time to rewrite the tables and the report alone.  Asserts nothing: speed and memory are measured, not tested.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

from mhubio.cohort.layout import STATE_DIR_NAME
from mhubio.cohort.state import StateStore
from mhubio.report_html import write_html_report
from mhubio.synthetic import write_ct_series
from mhubio.tables.writer import write_part

MB = 1024 * 1024


@dataclass
class Samples:
    """(seconds, series done, caller RSS MB, workers PSS MB) over a run."""

    rows: list[tuple[float, int, float, float]] = field(default_factory=list)

    def at_fraction(self, total: int, fraction: float) -> tuple[float, float]:
        """Caller RSS and workers PSS at the first sample with at least ``fraction`` of the series done."""
        for _, done, caller, workers in self.rows:
            if done >= fraction * total:
                return caller, workers
        return self.rows[-1][2], self.rows[-1][3]

    def growth_per_1000(self, total: int, column: int) -> float:
        """Memory slope (MB per 1,000 series) over the samples taken while the second half of the series ran."""
        half = [(done, row[column]) for row in self.rows if total / 2 <= (done := row[1]) < total]
        if len({d for d, _ in half}) < 2:
            return float("nan")
        x, y = np.array(half, dtype=float).T
        return float(np.polyfit(x, y, 1)[0] * 1000)


def _megabytes(processes: list[psutil.Process], measure: Callable[[psutil.Process], int]) -> float:
    """``measure`` summed over ``processes`` in MB; a process that ended meanwhile counts 0."""
    total = 0
    for process in processes:
        try:
            total += measure(process)
        except psutil.Error:
            continue
    return total / MB


def _rss(process: psutil.Process) -> int:
    return int(process.memory_info().rss)


def _pss(process: psutil.Process) -> int:
    return int(process.memory_full_info().pss)


def _sample(run: subprocess.Popen, states: Path, worker_root: psutil.Process | None, stop: threading.Event,
            samples: Samples) -> None:
    start = time.perf_counter()
    caller = psutil.Process(run.pid)
    while not stop.is_set():
        try:  # a Dask cluster's processes are the benchmark's children, like the caller: leave the caller out
            workers = [p for p in (worker_root or caller).children(recursive=True) if p.pid != caller.pid]
        except psutil.Error:
            workers = []
        done = sum(1 for _ in os.scandir(states)) if states.is_dir() else 0
        samples.rows.append((time.perf_counter() - start, done, _megabytes([caller], _rss), _megabytes(workers, _pss)))
        stop.wait(0.5)


def measure(command: list[str], output_dir: Path, worker_root: psutil.Process | None) -> tuple[float, Samples, float]:
    """Wall seconds, samples, and seconds from the last finished series to the end of the run."""
    samples = Samples()
    states = output_dir / STATE_DIR_NAME / "thresholder"
    stop = threading.Event()
    start = time.perf_counter()
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = threading.Thread(target=_sample, args=(run, states, worker_root, stop, samples), daemon=True)
    sampler.start()
    output, _ = run.communicate()
    wall = time.perf_counter() - start
    stop.set()
    sampler.join()
    if run.returncode != 0:
        raise SystemExit(f"exit {run.returncode}:\n{output[-3000:]}")
    last = max(p.stat().st_mtime for p in states.iterdir())
    finish = (output_dir / "mhub_report.html").stat().st_mtime - last
    return wall, samples, finish


def tables_and_report_seconds(output_dir: Path) -> tuple[float, float]:
    """Seconds to rewrite the tables from the state files, and to render the HTML report."""
    start = time.perf_counter()
    write_part(output_dir, "thresholder", (s.rows for s in StateStore(output_dir, "thresholder")))
    tables = time.perf_counter() - start
    start = time.perf_counter()
    write_html_report(output_dir)
    return tables, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--slices", type=int, default=12)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dask", action="store_true", help="also run on a Dask LocalCluster of --workers workers")
    parser.add_argument("--dask-no-profile", action="store_true",
                        help="also run on a LocalCluster whose workers have Dask's statistical profiler off")
    parser.add_argument("--no-pool", action="store_true", help="leave out the --workers run")
    parser.add_argument("--work", type=Path, help="folder for inputs and outputs (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mhub-bench-cohort-", dir=args.work) as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        for seed in range(args.series):
            write_ct_series(root / "in" / f"ct{seed:05d}", shape=(args.slices, args.size, args.size), seed=seed)
        print(f"generated {args.series} series of {args.slices}x{args.size}x{args.size} in "
              f"{time.perf_counter() - start:.0f} s", flush=True)
        base = [sys.executable, "-m", "mhubio", "run", "--model", "thresholder", "--input", str(root / "in"),
                "--quiet"]
        runs: list[tuple[str, bool | None]] = [] if args.no_pool else [(f"--workers {args.workers}", None)]
        dask_runs = ((args.dask, "Dask LocalCluster", True), (args.dask_no_profile, "Dask, no profiler", False))
        runs += [(name, profile) for flag, name, profile in dask_runs if flag]
        print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}")
        print(f"{'executor':<18} {'wall s':>7} {'series/min':>10} {'caller MB 10/50/100%':>21} "
              f"{'workers PSS MB 10/50/100%':>26} {'MB/1000 series c/w':>19} {'finish s':>8} {'tables s':>8} "
              f"{'html s':>6}")
        for number, (name, profile) in enumerate(runs):
            output_dir = root / f"run{number}"
            command = [*base, "--output", str(output_dir)]
            with _cluster(args.workers, profile) as scheduler:
                if scheduler is None:
                    command += ["--workers", str(args.workers)]
                    wall, samples, finish = measure(command, output_dir, None)
                else:  # the cluster's worker processes are this process's children (its nannies run here)
                    wall, samples, finish = measure([*command, "--scheduler", scheduler], output_dir, psutil.Process())
            tables, html = tables_and_report_seconds(output_dir)
            caller = "/".join(f"{samples.at_fraction(args.series, f)[0]:.0f}" for f in (0.1, 0.5, 1.0))
            workers = "/".join(f"{samples.at_fraction(args.series, f)[1]:.0f}" for f in (0.1, 0.5, 1.0))
            growth = (f"{samples.growth_per_1000(args.series, 2):+.0f}/"
                      f"{samples.growth_per_1000(args.series, 3):+.0f}")
            print(f"{name:<18} {wall:>7.0f} {60 * args.series / wall:>10.1f} {caller:>21} {workers:>26} "
                  f"{growth:>19} {finish:>8.1f} {tables:>8.2f} {html:>6.2f}", flush=True)


@contextmanager
def _cluster(workers: int, profile: bool | None) -> Iterator[str | None]:
    """The address of a local Dask cluster of ``workers`` processes (``None``: no cluster), Dask's statistical
    profiler on or off in its workers."""
    if profile is None:
        yield None
        return
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.worker.profile.enabled": profile}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()

if __name__ == "__main__":
    main()
