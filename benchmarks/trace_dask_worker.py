"""Where a Dask worker's memory goes over many series: RSS, Python objects and the largest growing allocations.

Run: ``.venv/bin/python benchmarks/trace_dask_worker.py [--series 200] [--traced 40] [--no-profile]``.
Generates ``--series`` small CT series and runs the thresholder on them with ``mhub run --scheduler`` on a
LocalCluster of one worker: once to warm up, then twice more, printing after each run the worker's RSS (after
``gc.collect()`` and ``malloc_trim``), its Python objects by type that grew, and the size of Dask's bounded logs.
Then it starts ``tracemalloc`` in the worker (through ``Client.run``), runs ``--traced`` series twice and prints the
allocation sites that grew most.  ``--no-profile`` starts the worker with Dask's statistical profiler off.
Asserts nothing: it is a tool to find out, the findings are in the README ("Scale, measured").
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import pickle
import shutil
import subprocess
import sys
import tempfile
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

import dask
import psutil
from distributed import Client, LocalCluster, Worker

from mhubio.synthetic import write_ct_series


def _worker_memory() -> dict[str, Any]:
    """In the worker: RSS in MB after collection and trim, objects by type, a tracemalloc snapshot if tracing."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    snapshot = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
    return {"rss": psutil.Process().memory_info().rss / 2**20,
            "objects": Counter(type(o).__name__ for o in gc.get_objects()),
            "snapshot": pickle.dumps(snapshot) if snapshot is not None else None}


def _dask_logs(dask_worker: Worker) -> dict[str, int]:
    """In the worker: the lengths of Dask's bounded histories and of its task and data stores."""
    return {"tasks": len(dask_worker.state.tasks), "data": len(dask_worker.data),
            "profile_history": len(dask_worker.profile_history), "stimulus_log": len(dask_worker.state.stimulus_log)}


def _start_tracing() -> None:
    tracemalloc.start(8)


def _run(input_dir: Path, output_dir: Path, scheduler: str) -> None:
    shutil.rmtree(output_dir, ignore_errors=True)
    done = subprocess.run([sys.executable, "-m", "mhubio", "run", "--model", "thresholder", "--input", str(input_dir),
                           "--output", str(output_dir), "--quiet", "--scheduler", scheduler],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"mhub run exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--traced", type=int, default=40)
    parser.add_argument("--no-profile", action="store_true", help="Dask's statistical profiler off in the worker")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mhub-trace-dask-") as tmp:
        root = Path(tmp)
        for seed in range(args.series):
            folder = root / "in" / f"ct{seed:05d}"
            write_ct_series(folder, shape=(12, 32, 32), seed=seed)
            if seed < args.traced:
                shutil.copytree(folder, root / "traced" / folder.name)
        with dask.config.set({"distributed.worker.profile.enabled": not args.no_profile}):
            cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None)
        client = Client(cluster)
        try:
            def in_worker(function: Any) -> Any:
                return next(iter(client.run(function).values()))

            _run(root / "in", root / "out", cluster.scheduler_address)
            before = in_worker(_worker_memory)
            for number in (1, 2):
                _run(root / "in", root / "out", cluster.scheduler_address)
                after = in_worker(_worker_memory)
                grown = (after["objects"] - before["objects"]).most_common(6)
                print(f"after {number + 1} runs of {args.series} series: worker RSS {after['rss']:.1f} MB "
                      f"({(after['rss'] - before['rss']) * 1024 / (number * args.series):+.1f} kB a series since "
                      f"the first run); objects grown: {grown}; Dask: {in_worker(_dask_logs)}", flush=True)
            client.run(_start_tracing)
            start = in_worker(_worker_memory)
            for _ in range(2):
                _run(root / "traced", root / "out", cluster.scheduler_address)
            end = in_worker(_worker_memory)
            stats = pickle.loads(end["snapshot"]).compare_to(pickle.loads(start["snapshot"]), "traceback")
            total = sum(s.size_diff for s in stats)
            print(f"traced, {2 * args.traced} series: {total / 1024:+.0f} kB, {total / (2 * args.traced):+.0f} B a "
                  "series; largest growing sites (innermost frames):")
            for stat in stats[:8]:
                frames = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(stat.traceback[-4:]))
                print(f"  {stat.size_diff / 1024:+8.1f} kB {stat.count_diff:+7d} blocks  {frames}")
        finally:
            client.close()
            cluster.close()


if __name__ == "__main__":
    main()
