"""``--workers N``: series in a pool of worker processes on this machine.

The importer runs in the calling process; each eligible instance is sent to a worker, which runs
:func:`~mhubio.core.execution.run_series` on a chain it built once (models load once per worker) and returns
the updated instance.

On Linux the workers are forked from the caller, which has imported the chain's modules by then: a worker
starts in milliseconds, where a spawned one spends most of a second importing them again (on two cores that
start-up alone cost more than a second worker gains on small series). Before the fork, each step loads the
read-only tables it needs (:meth:`~mhubio.core.module.Module.preload`: highdicom's tables of the standard,
0.3 s and about 70 MB a process), which the workers then share instead of each loading its own. Elsewhere they
are spawned.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Collection, Iterable
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, ProcessPoolExecutor, wait
from multiprocessing import active_children, get_context, util
from pathlib import Path
from types import TracebackType

from mhubio.core.collector import freeze_long_lived, own_process
from mhubio.core.data import Instance
from mhubio.core.errors import MhubError
from mhubio.core.execution import SeriesLost, SeriesResult, release_all_chains, run_series, series_lost
from mhubio.core.forking import can_fork
from mhubio.core.module import Module
from mhubio.core.threads import limit_threads, thread_share
from mhubio.core.workflow import ChainSpec


class ProcessPoolSeriesExecutor:
    """``workers`` processes on this machine (forked on Linux, else spawned), each building the chain once.

    Workers ignore Ctrl-C (the caller handles it and terminates them), limit their compute threads (torch,
    SimpleITK, BLAS/OpenMP) to their share of the CPU cores unless ``OMP_NUM_THREADS`` is set, and tear their
    chain down when they exit normally.
    """

    STOP_GRACE_S = 5.0
    """How long stopped workers get to exit after SIGTERM before they are killed."""
    WAIT_SLICE_S = 0.25
    """Longest time the caller's main thread waits for results without running Python code (signals)."""

    def __init__(self, spec: ChainSpec, log_dir: Path, workers: int, preload: Iterable[Module] = ()) -> None:
        """``preload``: modules of the chain whose :meth:`~mhubio.core.module.Module.preload` runs here first
        when the workers are forked, so that they inherit what it loads."""
        self._spec, self._log_dir, self._workers = spec, log_dir, workers
        self._other_children = {p.pid for p in active_children()}
        method = start_method()
        if method == "fork":
            for module in preload:
                module.preload()
            freeze_long_lived()
        self._pool = ProcessPoolExecutor(
            workers, mp_context=get_context(method), initializer=_init_pool_worker, initargs=(workers,)
        )

    def capacity(self) -> int:
        """One series per worker process."""
        return self._workers

    def submit(self, instance: Instance) -> Future[SeriesResult]:
        """Queue ``instance`` for the next free worker."""
        try:
            return self._pool.submit(run_series, self._spec, instance, self._log_dir)
        except BrokenExecutor as exc:
            raise MhubError(f"the worker pool stopped after a worker process died ({exc})") from exc

    def wait_any(self, handles: Collection[Future[SeriesResult]]) -> set[Future[SeriesResult]]:
        """Block until at least one future finished.

        The wait wakes every :attr:`WAIT_SLICE_S`: a Ctrl-C that the kernel delivers to one of the pool's
        threads instead of the main thread is only acted on (``KeyboardInterrupt``) when the main thread runs
        Python code again, so an unbounded wait would hold it until a series finishes.
        """
        while True:
            done = wait(handles, timeout=self.WAIT_SLICE_S, return_when=FIRST_COMPLETED).done
            if done:
                return done

    def result(self, handle: Future[SeriesResult]) -> SeriesResult:
        """The worker's result; a series whose worker died is lost."""
        try:
            return handle.result()
        except BrokenExecutor as exc:
            raise SeriesLost("its worker process died (killed or crashed)") from exc
        except MhubError:
            raise
        except Exception as exc:
            raise series_lost(exc) from exc

    def __enter__(self) -> ProcessPoolSeriesExecutor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self._pool.shutdown(wait=True)
            return
        self._stop_workers()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _stop_workers(self) -> None:
        """Terminate every worker process, started or still starting, and wait until they are gone.

        The workers are the child processes started since the pool was made, so that a worker that had not
        run its initializer yet when the run was interrupted is stopped too. Once they are dead the pool's
        manager thread sees a broken pool and ends at once, instead of waiting for the series that were
        running; the caller then joins it, as it reaps the workers too: until it has, a worker it reaped first
        would still be listed by :func:`multiprocessing.active_children`.
        """
        workers = [p for p in active_children() if p.pid not in self._other_children]
        for process in workers:
            process.terminate()
        for process in workers:
            process.join(self.STOP_GRACE_S)
            if process.is_alive():
                process.kill()
                process.join()


def start_method() -> str:
    """How workers start: ``fork`` where :func:`~mhubio.core.forking.can_fork`, else ``spawn``.

    Also ``spawn`` once this process has initialised CUDA (a module that touched the GPU while the chain was
    checked): CUDA cannot be used again in a forked child.
    """
    return "fork" if can_fork() and not _cuda_initialized() else "spawn"


def _cuda_initialized() -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and bool(torch.cuda.is_initialized())


def _init_pool_worker(workers: int) -> None:
    """Set up a worker before its first series.

    A forked worker's objects inherited from the caller (its modules, the index of the input) are frozen at
    once, so that the worker's collections neither traverse them nor copy their memory pages. The chain's
    teardown is a multiprocessing finalizer: forked workers leave with :func:`os._exit`, which skips ``atexit``.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    own_process()
    freeze_long_lived()
    limit_threads(thread_share(workers))
    util.Finalize(None, release_all_chains, exitpriority=0)
