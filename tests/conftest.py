"""Scheduling of the suite on pytest-xdist workers (``-n 2 --dist loadfile``, set in pyproject.toml).

Each test file is one unit of work, so module-scoped fixtures (generated series, tiny models, whole runs that
several tests read) are made once. The files under ``tests/container`` form a single unit: the base image is a
session fixture built once, not once per worker, and two image builds never run at the same time. PixelMed runs
are serialized by a lock (see :func:`tests.helpers.pixelmed_sr_validation`).

``--dist loadgroup`` with ``xdist_group`` marks would express the same, but pytest-xdist 3.8 marks a group by
rewriting ``item._nodeid``, which pytest 9.2 no longer reads: the groups are silently ignored.
"""

from __future__ import annotations

import pytest
from xdist.scheduler import LoadFileScheduling

CONTAINER_TESTS = "tests/container/"


class FileOrContainerScheduling(LoadFileScheduling):
    """``loadfile`` scheduling in which every file under ``tests/container`` belongs to one unit."""

    def _split_scope(self, nodeid: str) -> str:
        if nodeid.startswith(CONTAINER_TESTS):
            return CONTAINER_TESTS
        return super()._split_scope(nodeid)


def pytest_xdist_make_scheduler(config: pytest.Config, log) -> LoadFileScheduling | None:
    """Use :class:`FileOrContainerScheduling` for ``--dist loadfile``; other modes keep pytest-xdist's."""
    if config.getvalue("dist") == "loadfile":
        return FileOrContainerScheduling(config, log)
    return None
