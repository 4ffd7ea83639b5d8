"""map_in_processes: results in order, computed on forked processes, a dead process's block redone here."""

from __future__ import annotations

import os

import pytest

from mhubio.core import forking
from mhubio.core.forking import can_fork, map_in_processes

CALLER = os.getpid()
DIES_ON = 13

pytestmark = pytest.mark.skipif(not can_fork(), reason="processes are not forked on this platform")


def _with_pid(item: int) -> tuple[int, int]:
    return item, os.getpid()


def _dies_on_one_item_elsewhere(item: int) -> tuple[int, int]:
    if item == DIES_ON and os.getpid() != CALLER:
        os._exit(7)
    return item, os.getpid()


def test_results_come_in_order_from_forked_processes():
    results = list(map_in_processes(_with_pid, list(range(50)), processes=2, block=4))
    assert [item for item, _ in results] == list(range(50))
    pids = {pid for _, pid in results}
    assert CALLER not in pids and 1 <= len(pids) <= 2


def test_the_block_of_a_dead_process_is_computed_here():
    results = list(map_in_processes(_dies_on_one_item_elsewhere, list(range(40)), processes=2, block=4))
    assert [item for item, _ in results] == list(range(40))
    assert dict(results)[DIES_ON] == CALLER


@pytest.mark.parametrize(("items", "processes"), [(50, 1), (4, 2)], ids=["one-process", "one-block"])
def test_small_work_stays_in_this_process(items, processes):
    results = list(map_in_processes(_with_pid, list(range(items)), processes=processes, block=4))
    assert results == [(item, CALLER) for item in range(items)]


def test_without_fork_the_work_stays_in_this_process(monkeypatch):
    monkeypatch.setattr(forking, "can_fork", lambda: False)
    assert {pid for _, pid in map_in_processes(_with_pid, list(range(50)), processes=2, block=4)} == {CALLER}


def test_no_more_processes_are_forked_than_there_are_blocks(monkeypatch):
    sizes = []

    class Pool(forking.ProcessPoolExecutor):
        def __init__(self, max_workers, **kwargs):
            sizes.append(max_workers)
            super().__init__(max_workers, **kwargs)

    monkeypatch.setattr(forking, "ProcessPoolExecutor", Pool)
    results = list(map_in_processes(_with_pid, list(range(12)), processes=8, block=4))
    assert [item for item, _ in results] == list(range(12))
    assert sizes == [3]
