"""Series in worker processes: a local process pool (``--workers N``) or a Dask cluster (``--scheduler``).

The importer runs in the calling process.  Each eligible instance is then sent to a worker, which runs the
per-instance steps with :func:`~mhubio.core.runner.run_instance` on a chain it built once (from the same workflow
file and options, so models load once per worker in ``setup()``) and returns the updated instance.  The caller
prints progress as results arrive and assembles the same report and exit code as the sequential path.

At most one series per worker is in flight: with ``--fail-fast`` no new series starts after a failure, the
running ones finish and are reported, the others stay ``pending``.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
import traceback
from collections import deque
from collections.abc import Collection
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from multiprocessing.queues import SimpleQueue
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from mhubio.core.config import Chain
from mhubio.core.data import AlgorithmInfo, Failure, Instance, InstanceStatus
from mhubio.core.errors import MhubError
from mhubio.core.logs import ProgressPrinter, series_log_handler
from mhubio.core.report import RunReport
from mhubio.core.runner import RunOptions, prepare_chain, run_instance

WORKER_STEP = "worker"
"""Step name recorded when a series is lost with its worker (the worker process died or the task was lost)."""


@dataclass(frozen=True)
class ChainSpec:
    """What a worker needs to rebuild the validated chain of a run.

    Parameters
    ----------
    config_path:
        The workflow file; the same path must be readable by every worker.
    options:
        The run options (overrides, folders, weights folder).
    work_dir:
        Scratch folder of the run.
    """

    config_path: Path
    options: RunOptions
    work_dir: Path

    @classmethod
    def of(cls, chain: Chain, options: RunOptions) -> ChainSpec:
        """The spec of a chain built by :func:`~mhubio.core.runner.prepare_chain`."""
        source = chain.config.source
        if source is None:
            raise MhubError("the workflow was not read from a file, so workers cannot rebuild it")
        return cls(source.resolve(), replace(options, overrides=tuple(options.overrides)),
                   chain.importer.module.context.work_dir)


@dataclass
class SeriesResult:
    """What a worker sends back: the updated instance and the algorithms its items named."""

    instance: Instance
    algorithms: dict[str, AlgorithmInfo] = field(default_factory=dict)


_chains: dict[ChainSpec, Chain] = {}
_series_lock = threading.Lock()


def worker_chain(spec: ChainSpec) -> Chain:
    """The chain of ``spec`` in this process, built and preflighted on first use, then reused."""
    chain = _chains.get(spec)
    if chain is None:
        chain = prepare_chain(spec.config_path, spec.options, spec.work_dir)
        for step in chain.steps:
            step.module.preflight()
        _chains[spec] = chain
    return chain


def release_chain(spec: ChainSpec) -> None:
    """Tear down and forget the chain of ``spec`` in this process (no-op if it was never built)."""
    chain = _chains.pop(spec, None)
    if chain is not None:
        for step in chain.steps:
            step.module.teardown()


def release_all_chains() -> None:
    """Tear down every chain of this process (at worker exit)."""
    for spec in list(_chains):
        release_chain(spec)


def run_series(spec: ChainSpec, instance: Instance, log_dir: Path) -> SeriesResult:
    """The per-series task: run the per-instance steps of ``spec`` on ``instance`` in this worker.

    Series run one at a time per process (a Dask worker may have several threads; modules are not
    required to be thread-safe).  The series log goes to ``log_dir/<id>.log`` as in the sequential path.
    """
    with _series_lock:
        chain = worker_chain(spec)
        algorithms: dict[str, AlgorithmInfo] = {}
        with series_log_handler(instance, log_dir):
            run_instance(chain.steps, instance, algorithms, ProgressPrinter(quiet=True))
    return SeriesResult(instance, algorithms)


class SeriesExecutor(Protocol):
    """Where :func:`run_series` tasks run: a local process pool or a Dask cluster.

    Used as a context manager; leaving it with an exception (interrupt, run-level error) stops the
    workers' remaining tasks without waiting for them.
    """

    def capacity(self) -> int:
        """How many series to keep in flight (one per worker)."""
        ...

    def submit(self, instance: Instance) -> Any:
        """Start :func:`run_series` on ``instance``; returns a future with ``result()``."""
        ...

    def wait_any(self, futures: Collection[Any]) -> set[Any]:
        """Wait until one of ``futures`` finished (or a short while); return those finished."""
        ...

    def __enter__(self) -> SeriesExecutor: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


class ProcessPoolSeriesExecutor:
    """``workers`` spawned processes on this machine, each building the chain once.

    Workers ignore Ctrl-C (the caller handles it and terminates them), limit their OpenMP threads to
    their share of the CPU cores unless ``OMP_NUM_THREADS`` is set, and tear their chain down when they
    exit normally.
    """

    def __init__(self, spec: ChainSpec, log_dir: Path, workers: int) -> None:
        context = get_context("spawn")
        self._spec, self._log_dir, self._workers = spec, log_dir, workers
        self._pids: SimpleQueue = context.SimpleQueue()
        self._pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init_pool_worker, initargs=(self._pids, workers)
        )

    def capacity(self) -> int:
        """One series per worker process."""
        return self._workers

    def submit(self, instance: Instance) -> Future:
        """Queue ``instance`` for the next free worker."""
        try:
            return self._pool.submit(run_series, self._spec, instance, self._log_dir)
        except BrokenExecutor as exc:
            raise MhubError(f"the worker pool stopped after a worker process died ({exc})") from exc

    def wait_any(self, futures: Collection[Future]) -> set[Future]:
        """Block until at least one future finished."""
        return wait(futures, return_when=FIRST_COMPLETED).done

    def __enter__(self) -> ProcessPoolSeriesExecutor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self._pool.shutdown(wait=True)
            return
        self._pool.shutdown(wait=False, cancel_futures=True)
        while not self._pids.empty():
            try:
                os.kill(self._pids.get(), signal.SIGTERM)
            except ProcessLookupError:
                continue


def _init_pool_worker(pids: SimpleQueue, workers: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pids.put(os.getpid())
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    atexit.register(release_all_chains)


def make_executor(spec: ChainSpec, options: RunOptions, log_dir: Path, instances: int) -> SeriesExecutor:
    """A Dask executor when ``options.scheduler`` is set, else a process pool of ``options.workers``."""
    if options.scheduler is not None:
        from mhubio.distributed.dask_engine import DaskSeriesExecutor

        return DaskSeriesExecutor(spec, log_dir, options.scheduler)
    return ProcessPoolSeriesExecutor(spec, log_dir, min(options.workers, instances))


def run_in_workers(
    chain: Chain, options: RunOptions, instances: list[Instance], report: RunReport, progress: ProgressPrinter,
    log_dir: Path,
) -> None:
    """Run every instance on workers; ``instances`` are replaced in place by the workers' results."""
    total = len(instances)
    waiting = deque(range(total))
    running: dict[Any, int] = {}
    finished = 0
    stopping = False
    with make_executor(ChainSpec.of(chain, options), options, log_dir, total) as executor:
        while running or (waiting and not stopping):
            while waiting and not stopping and len(running) < executor.capacity():
                index = waiting.popleft()
                running[executor.submit(instances[index])] = index
            for future in sorted(executor.wait_any(running), key=running.__getitem__):
                index = running.pop(future)
                result = _result(future, instances[index])
                instances[index] = result.instance
                for step, algorithm in result.algorithms.items():
                    report.algorithms.setdefault(step, algorithm)
                finished += 1
                _print_series(progress, finished, total, result.instance)
                if options.fail_fast and result.instance.status is InstanceStatus.FAILED and not stopping:
                    stopping = True
                    progress.note("--fail-fast: no new series will start; waiting for the running ones")


def _result(future: Any, sent: Instance) -> SeriesResult:
    """The worker's result; a task lost with its worker marks the series failed."""
    try:
        return future.result()
    except MhubError:
        raise
    except Exception as exc:
        reason = "its worker process died (killed or crashed)" if isinstance(exc, BrokenExecutor) else (
            f"{type(exc).__name__}: {exc}")
        sent.status = InstanceStatus.FAILED
        sent.failure = Failure(WORKER_STEP, f"the series was lost: {reason}", traceback.format_exc())
        return SeriesResult(sent)


def _print_series(progress: ProgressPrinter, index: int, total: int, instance: Instance) -> None:
    progress.series_started(index, total, instance)
    failure = instance.failure
    for timing in instance.timings:
        if timing.status != "skipped":
            ok = timing.status == "done"
            progress.step_finished(timing.step, ok, timing.seconds, "" if ok or failure is None else failure.message)
    if failure is not None and failure.step == WORKER_STEP:
        progress.step_finished(WORKER_STEP, False, 0.0, failure.message)
    progress.series_finished(instance)
