"""Scheduling of the suite on pytest-xdist workers (``-n 2 --dist loadgroup``, set in pyproject.toml).

Under ``loadgroup`` the tests of one ``xdist_group`` run on one worker, in collection order. Two kinds of tests
get a group here unless they name one themselves:

- every test under ``tests/container`` joins the group ``docker``: the base image is a session fixture (built once,
  not once per worker) and two image builds never run at the same time;
- a test that uses a module-, package- or session-scoped fixture of this test suite joins the group of its module,
  so that expensive shared data (generated series, tiny models, whole runs that several tests read) is made once.

Every other test is scheduled on its own. PixelMed runs are serialized by a lock instead (see
:func:`tests.helpers.pixelmed_sr_validation`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SHARED_SCOPES = {"module", "package", "session"}


def _group(item: pytest.Item) -> str | None:
    """The xdist group of ``item`` (None: schedule it on its own)."""
    path = Path(item.path).resolve()
    if TESTS / "container" in path.parents:
        return "docker"
    fixture_info = getattr(item, "_fixtureinfo", None)
    if fixture_info is None:
        return None
    for definitions in fixture_info.name2fixturedefs.values():
        for definition in definitions:
            if definition.scope in SHARED_SCOPES and definition.baseid.startswith("tests"):
                return path.relative_to(TESTS).as_posix()
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give each test its group before pytest-xdist turns the groups into scheduling scopes."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        group = _group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
