"""Work spread over processes forked from the caller."""

from __future__ import annotations

import gc
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context
from typing import TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")


def can_fork() -> bool:
    """Whether worker processes are forked here (Linux).

    A forked worker starts from the caller's imported modules in milliseconds; a spawned one imports them again
    (most of a second for the chain's libraries). Elsewhere (macOS system libraries are not fork-safe) workers
    are spawned.
    """
    return sys.platform.startswith("linux") and "fork" in get_all_start_methods()


def map_in_processes(function: Callable[[_T], _R], items: Sequence[_T], processes: int,
                     block: int = 64) -> Iterator[_R]:
    """``function`` of each of ``items``, in order, computed by ``processes`` forked processes in blocks.

    ``function`` must be a module-level function whose results pickle. The work stays in this process where
    processes cannot be forked, for one process, or for no more items than one ``block``. At most two blocks
    per process are queued at a time, so an interrupted map ends after those. A block whose process died
    (killed, out of memory) is computed in this process, as are the blocks after it.

    Parameters
    ----------
    function
        Applied to each item.
    items
        The items, in the order of the results.
    processes
        Processes to fork, at most one per block.
    block
        Items sent to a process at a time.
    """
    if processes < 2 or len(items) <= block or not can_fork():
        yield from map(function, items)
        return
    all_blocks = [items[start:start + block] for start in range(0, len(items), block)]
    processes = min(processes, len(all_blocks))
    blocks = iter(all_blocks)
    pool = ProcessPoolExecutor(processes, mp_context=get_context("fork"), initializer=_init_process)
    queued: deque[tuple[Sequence[_T], Future[list[_R]] | None]] = deque()
    try:
        for _ in range(2 * processes):
            _queue(pool, function, blocks, queued)
        while queued:
            items_of_block, future = queued.popleft()
            try:
                if future is None:
                    raise BrokenExecutor
                results = future.result()
            except BrokenExecutor:
                results = [function(item) for item in items_of_block]
            _queue(pool, function, blocks, queued)
            yield from results
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _queue(pool: ProcessPoolExecutor, function: Callable[[_T], _R], blocks: Iterator[Sequence[_T]],
           queued: deque[tuple[Sequence[_T], Future[list[_R]] | None]]) -> None:
    """Queue the next block, if any; ``None`` as its future once the pool is broken."""
    items_of_block = next(blocks, None)
    if items_of_block is None:
        return
    try:
        queued.append((items_of_block, pool.submit(_apply, function, items_of_block)))
    except BrokenExecutor:
        queued.append((items_of_block, None))


def _apply(function: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    return [function(item) for item in items]


def _init_process() -> None:
    """Ctrl-C is the caller's to handle; what the process inherited stays out of its collector's reach (so that
    collections do not copy the caller's memory pages)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.freeze()
