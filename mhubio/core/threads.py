"""Compute threads of a worker process: N workers on one machine share its cores instead of each using all.

Without a limit, every worker's torch, SimpleITK and BLAS/OpenMP pools start one thread per core, so N workers
run N times more threads than cores and can be slower together than one worker alone.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

from threadpoolctl import threadpool_limits

THREAD_VARIABLES = (
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS",
)
"""Environment variables read by the thread pools of OpenMP, BLAS, numexpr and ITK when they start."""


CGROUP_CPU_LIMITS = (Path("/sys/fs/cgroup/cpu.max"), Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"))
"""Where Linux states a CPU quota (cgroup v2, cgroup v1), e.g. ``docker run --cpus 2``."""


def usable_cores() -> int:
    """Cores this process may use: its CPU affinity (e.g. a container's cpuset), capped by a cgroup CPU quota
    (e.g. ``docker run --cpus``), else all cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    return max(1, min(cores, math.ceil(quota))) if quota is not None else cores


def cgroup_cpu_quota(paths: tuple[Path, ...] = CGROUP_CPU_LIMITS) -> float | None:
    """The CPU quota of this process's cgroup in cores, or ``None`` when there is none (or it cannot be read)."""
    v2, v1 = paths
    try:
        if v2.is_file():
            limit, _, period = v2.read_text().partition(" ")
            return None if limit.strip() == "max" else int(limit) / int(period)
        if v1.is_file():
            microseconds = int(v1.read_text())
            per_period = int((v1.parent / "cpu.cfs_period_us").read_text())
            return None if microseconds <= 0 else microseconds / per_period
    except (OSError, ValueError, ZeroDivisionError):
        return None
    return None


def thread_share(workers: int, cores: int | None = None) -> int:
    """Threads for each of ``workers`` processes sharing ``cores`` cores (default: :func:`usable_cores`)."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    return max(1, (cores or usable_cores()) // workers)


def _omp_limit() -> int | None:
    """The thread limit ``OMP_NUM_THREADS`` states (at least 1), or ``None`` when it is unset or not a number."""
    limit = os.environ.get("OMP_NUM_THREADS", "")
    return max(1, int(limit)) if limit.isdigit() else None


def compute_threads() -> int:
    """Threads this process's own compute loops may use: its limit (``OMP_NUM_THREADS``, which
    :func:`limit_threads` sets in workers), else :func:`usable_cores`."""
    return _omp_limit() or usable_cores()


def limit_threads(threads: int, override: bool = False) -> int:
    """Limit this process's compute threads to ``threads``; returns the limit applied.

    Sets the thread variables for libraries loaded later and limits those already loaded (torch, SimpleITK,
    BLAS/OpenMP through threadpoolctl).  Unless ``override``, an ``OMP_NUM_THREADS`` set by the user wins.
    """
    if not override:
        threads = _omp_limit() or threads
    for name in THREAD_VARIABLES:
        if override:
            os.environ[name] = str(threads)
        else:
            os.environ.setdefault(name, str(threads))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if "SimpleITK" in sys.modules:
        sys.modules["SimpleITK"].ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    threadpool_limits(threads)
    return threads
