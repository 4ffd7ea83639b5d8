"""Scheduling of the suite on pytest-xdist workers (``-n 2 --dist loadfile``, set in pyproject.toml).

Each test file is one unit of work, so module-scoped fixtures (generated series, tiny models, whole runs that
several tests read) are made once. The files under ``tests/container`` form a single unit: the base image is a
session fixture built once, not once per worker, and two image builds never run at the same time. PixelMed runs
are serialized by a lock (see :func:`tests.helpers.pixelmed_sr_validation`).

The runs the tests start write their scratch folders under pytest's own temporary tree (``TMPDIR``), so a run a
test kills on purpose leaves nothing in the machine's shared ``/tmp``.

``--dist loadgroup`` with ``xdist_group`` marks would express the same, but pytest-xdist 3.8 marks a group by
rewriting ``item._nodeid``, which pytest 9.2 no longer reads: the groups are silently ignored.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest
from xdist.scheduler import LoadFileScheduling

from tests.helpers import SHARED_DIR_VARIABLE

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


@pytest.fixture(scope="session", autouse=True)
def scratch_under_pytest_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point ``TMPDIR`` of the processes the tests start at a folder of pytest's temporary tree.

    This process keeps its own temporary folder (cached by :mod:`tempfile` before ``TMPDIR`` changes), so
    locks shared by the xdist workers, such as PixelMed's, stay where every worker finds them.
    """
    tempfile.gettempdir()
    scratch = tmp_path_factory.mktemp("scratch")
    previous = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(scratch)
    basetemp = tmp_path_factory.getbasetemp()
    # an xdist worker's temporary tree lies in the run's: locks of the run's workers go there
    os.environ[SHARED_DIR_VARIABLE] = str(basetemp.parent if "PYTEST_XDIST_WORKER" in os.environ else basetemp)
    yield
    if previous is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = previous
