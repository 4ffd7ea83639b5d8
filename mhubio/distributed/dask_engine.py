"""Dask distributed backend of ``mhub run --scheduler ADDRESS``.

The caller connects a :class:`distributed.Client` to an existing scheduler and submits
:func:`mhubio.core.execution.run_series` once per series.  Each Dask worker process builds the chain on its
first series and keeps it (models load once per worker); :class:`ChainPlugin` tears it down when the run
ends or the worker closes.  The workflow file, the input, output and work folders must be visible at the
same paths to the caller and every worker (one host, or the same shared mounts in every container).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Collection, Mapping
from pathlib import Path
from types import TracebackType

from distributed import Client, Future, Worker, as_completed
from distributed.comm import get_address_host
from distributed.diagnostics.plugin import WorkerPlugin

from mhubio.core.data import Instance
from mhubio.core.errors import ConfigError, MhubError
from mhubio.core.execution import SeriesResult, release_chain, run_series, series_lost
from mhubio.core.threads import limit_threads, thread_share
from mhubio.core.workflow import ChainSpec


class ChainPlugin(WorkerPlugin):
    """Shares a host's cores among its workers; tears down a run's chain when the plugin is removed or the
    worker closes.

    The chain itself is built lazily by the first series a worker runs (in a task thread, not in the
    worker's event loop, so that loading models does not stall the worker's heartbeats).

    Parameters
    ----------
    spec:
        The chain of the run.
    workers_per_host:
        Host -> number of worker processes on it when the run started.  Each worker limits its compute
        threads to its share of its host's cores, replacing the one thread per worker that Dask's nanny sets
        (a host missing from the map counts one worker).
    """

    def __init__(self, spec: ChainSpec, workers_per_host: Mapping[str, int]) -> None:
        self.spec = spec
        self.workers_per_host = dict(workers_per_host)

    def setup(self, worker: Worker) -> None:
        """Limit this worker's compute threads to its share of the host's cores."""
        limit_threads(thread_share(self.workers_per_host.get(get_address_host(worker.address), 1)), override=True)

    def teardown(self, worker: object) -> None:
        """Release the chain (models) of this run in the worker process."""
        release_chain(self.spec)


class DaskSeriesExecutor:
    """Runs series on the workers of the Dask scheduler at ``address``.

    One series per worker is in flight; series that exceed Dask's ``allowed-failures`` because their
    workers died come back as failed series.
    """

    def __init__(self, spec: ChainSpec, log_dir: Path, address: str) -> None:
        self._spec, self._log_dir = spec, log_dir
        try:
            self._client = Client(address, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
        self._plugin = f"mhub-chain-{uuid.uuid4().hex}"
        try:
            hosts = Counter(get_address_host(address) for address in self._client.nthreads())
            self._client.register_plugin(ChainPlugin(spec, hosts), name=self._plugin)
        except Exception as exc:
            self._client.close()
            raise MhubError(
                f"the workers of the Dask scheduler at {address} cannot load mhubio ({exc}); start them from the "
                "model image so that they run the same mhubio as this process"
            ) from exc
        self._completed = as_completed(loop=self._client.loop)
        self._running: set[Future] = set()

    def capacity(self) -> int:
        """One series per connected worker (at least one, which waits for a worker to join)."""
        return max(1, len(self._client.nthreads()))

    def submit(self, instance: Instance) -> Future:
        """Submit :func:`run_series` for ``instance``."""
        future = self._client.submit(
            run_series, self._spec, instance, self._log_dir, key=f"mhub-series-{instance.id}-{uuid.uuid4().hex[:8]}",
            pure=False,
        )
        self._running.add(future)
        self._completed.add(future)
        return future

    def wait_any(self, handles: Collection[Future]) -> set[Future]:
        """Block until at least one submitted series finished; return every finished one."""
        finished = {next(self._completed), *self._completed.next_batch(block=False)}
        self._running -= finished
        return finished

    def result(self, handle: Future) -> SeriesResult:
        """The worker's result; a task that failed on the Dask side (its workers died) lost the series."""
        try:
            return handle.result()
        except MhubError:
            raise
        except Exception as exc:
            raise series_lost(exc) from exc

    def __enter__(self) -> DaskSeriesExecutor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc_type is not None:
                self._client.cancel(list(self._running), force=True)
            self._client.unregister_worker_plugin(self._plugin)
        finally:
            self._client.close()
