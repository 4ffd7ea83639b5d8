"""Where the series of a run execute: one protocol, three executors, one loop that drives them.

:class:`SeriesExecutor` is implemented by :class:`SequentialExecutor` (here, in this process),
:class:`~mhubio.core.parallel.ProcessPoolSeriesExecutor` (``--workers N``) and
:class:`~mhubio.distributed.dask_engine.DaskSeriesExecutor` (``--scheduler``).  :func:`run_series_on` feeds
one executor, reports progress as results arrive and applies ``--fail-fast`` the same way for all three:
at most :meth:`SeriesExecutor.capacity` series are in flight; after a failure no new series starts, the
running ones finish and are reported, the others stay ``pending``.

Worker processes run :func:`run_series`, which builds the chain of a :class:`~mhubio.core.workflow.ChainSpec`
once per process (models load once per worker) and runs the per-series steps of :mod:`mhubio.core.steps`.
"""

from __future__ import annotations

import threading
import traceback
from collections import deque
from collections.abc import Collection
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from mhubio.cohort.hooks import worker_table_rows
from mhubio.core.collector import freeze_long_lived
from mhubio.core.config import Chain
from mhubio.core.data import AlgorithmInfo, Failure, Instance, InstanceStatus
from mhubio.core.logs import ProgressPrinter, series_log_handler
from mhubio.core.steps import run_instance
from mhubio.core.threads import cgroup_cpu_quota, limit_threads, usable_cores
from mhubio.core.workflow import ChainSpec

WORKER_STEP = "worker"
"""Step name recorded when a series is lost with its worker (the worker process died or the task was lost)."""


@dataclass
class SeriesResult:
    """What an executor returns for a series: the updated instance and the algorithms its items named."""

    instance: Instance
    algorithms: dict[str, AlgorithmInfo] = field(default_factory=dict)


class SeriesLost(Exception):
    """A series never came back from its worker (the process died, the task was lost)."""


class SeriesExecutor(Protocol):
    """Runs series; used as a context manager.

    Leaving the context normally waits for the workers and releases them; leaving it with an exception
    (interrupt, run-level error) stops the remaining series without waiting for them.
    """

    def capacity(self) -> int:
        """How many series to keep in flight."""
        ...

    def submit(self, instance: Instance) -> Any:
        """Start the steps on ``instance``; returns a handle for :meth:`wait_any` and :meth:`result`."""
        ...

    def wait_any(self, handles: Collection[Any]) -> set[Any]:
        """Block until at least one of ``handles`` finished; return every finished one."""
        ...

    def result(self, handle: Any) -> SeriesResult:
        """The outcome of a finished series.

        Raises :class:`SeriesLost` when the series was lost with its worker and
        :class:`~mhubio.core.errors.MhubError` for run-level errors (weights missing on a worker), which end
        the run.
        """
        ...

    def __enter__(self) -> SeriesExecutor: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


def run_series_on(
    executor: SeriesExecutor, instances: list[Instance], algorithms: dict[str, AlgorithmInfo],
    progress: ProgressPrinter, fail_fast: bool = False,
) -> None:
    """Run every instance on ``executor``; ``instances`` are replaced in place by the executor's results.

    ``algorithms`` collects, per step, the first algorithm reported for it.
    """
    waiting = deque(range(len(instances)))
    running: dict[Any, int] = {}
    stopping = False
    with executor:
        while running or (waiting and not stopping):
            while waiting and not stopping and len(running) < executor.capacity():
                index = waiting.popleft()
                running[executor.submit(instances[index])] = index
            for handle in sorted(executor.wait_any(running), key=running.__getitem__):
                index = running.pop(handle)
                result = _result(executor, handle, instances[index])
                instances[index] = result.instance
                for step, algorithm in result.algorithms.items():
                    algorithms.setdefault(step, algorithm)
                progress.series_finished(result.instance)
                if fail_fast and result.instance.status is InstanceStatus.FAILED and not stopping:
                    stopping = True
                    progress.note("--fail-fast: no new series will start"
                                  + ("; waiting for the running ones" if running else ""))


def _result(executor: SeriesExecutor, handle: Any, sent: Instance) -> SeriesResult:
    """The executor's result; a series lost with its worker is marked failed."""
    try:
        return executor.result(handle)
    except SeriesLost as exc:
        sent.status = InstanceStatus.FAILED
        sent.failure = Failure(WORKER_STEP, f"the series was lost: {exc}", traceback.format_exc())
        return SeriesResult(sent)


def series_lost(exc: Exception) -> SeriesLost:
    """The loss of a series whose task raised ``exc`` outside the steps (which record their own failures)."""
    return SeriesLost(f"{type(exc).__name__}: {exc}")


class SequentialExecutor:
    """Runs each series in this process, on the chain already built, one after the other.

    Parameters
    ----------
    chain:
        The validated chain; its per-instance steps are torn down when the executor closes.
    log_dir:
        Folder of the per-series log files.
    progress:
        Told of each step as it starts.
    """

    def __init__(self, chain: Chain, log_dir: Path, progress: ProgressPrinter) -> None:
        self._chain, self._log_dir, self._progress = chain, log_dir, progress
        if cgroup_cpu_quota() is not None:
            # under a CPU quota (docker run --cpus) the libraries would still start one thread per host core
            limit_threads(usable_cores())

    def capacity(self) -> int:
        """One series at a time."""
        return 1

    def submit(self, instance: Instance) -> Future[SeriesResult]:
        """Run the steps on ``instance`` now; returns a finished future."""
        algorithms: dict[str, AlgorithmInfo] = {}
        with series_log_handler(instance, self._log_dir):
            run_instance(self._chain.steps, instance, algorithms, self._progress.step_started)
        future: Future[SeriesResult] = Future()
        future.set_result(SeriesResult(instance, algorithms))
        return future

    def wait_any(self, handles: Collection[Future[SeriesResult]]) -> set[Future[SeriesResult]]:
        """Every handle: they finished in :meth:`submit`."""
        return set(handles)

    def result(self, handle: Future[SeriesResult]) -> SeriesResult:
        """The result of a finished series."""
        return handle.result()

    def __enter__(self) -> SequentialExecutor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        release_steps(self._chain)


def release_steps(chain: Chain) -> None:
    """Tear down the per-instance steps of ``chain`` (release models)."""
    for step in chain.steps:
        step.module.teardown()


_chains: dict[ChainSpec, Chain] = {}
_series_lock = threading.Lock()


def worker_chain(spec: ChainSpec) -> Chain:
    """The chain of ``spec`` in this process, built and preflighted on first use, then reused."""
    chain = _chains.get(spec)
    if chain is None:
        chain = spec.build()
        for step in chain.steps:
            step.module.preflight()
        _chains[spec] = chain
        freeze_long_lived()
    return chain


def release_chain(spec: ChainSpec) -> None:
    """Tear down and forget the chain of ``spec`` in this process (no-op if it was never built)."""
    chain = _chains.pop(spec, None)
    if chain is not None:
        release_steps(chain)


def release_all_chains() -> None:
    """Tear down every chain of this process (at worker exit)."""
    for spec in list(_chains):
        release_chain(spec)


def run_series(spec: ChainSpec, instance: Instance, log_dir: Path) -> SeriesResult:
    """The task of a worker process: run the per-instance steps of ``spec`` on ``instance``.

    Series run one at a time per process (a Dask worker may have several threads; modules are not
    required to be thread-safe).  The series log goes to ``log_dir/<id>.log`` as in sequential runs.  The
    table rows of a done series are computed here too (:func:`~mhubio.cohort.hooks.worker_table_rows`).
    """
    with _series_lock:
        chain = worker_chain(spec)
        algorithms: dict[str, AlgorithmInfo] = {}
        with series_log_handler(instance, log_dir):
            run_instance(chain.steps, instance, algorithms)
            worker_table_rows(chain, spec.options, instance)
    return SeriesResult(instance, algorithms)

