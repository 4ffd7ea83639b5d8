"""Hypothesis profiles of the fuzz tests.

The normal suite runs the short, derandomized profile (a few dozen examples per target, same
examples every run). CI's bounded fuzz run selects the long, random one::

    MHUB_FUZZ=1 pytest -n 0 tests/fuzz

``MHUB_FUZZ_EXAMPLES`` sets its number of examples per target (default 4000: 100 s measured on a shared 2-core machine).
An input that ever crashed a target is added to ``tests/fuzz/regressions/`` and replayed by the normal suite.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]}
settings.register_profile("mhub-short", max_examples=20, derandomize=True, database=None, **_COMMON)
settings.register_profile("mhub-fuzz", max_examples=int(os.environ.get("MHUB_FUZZ_EXAMPLES", "4000")), **_COMMON)
settings.load_profile("mhub-fuzz" if os.environ.get("MHUB_FUZZ") else "mhub-short")
