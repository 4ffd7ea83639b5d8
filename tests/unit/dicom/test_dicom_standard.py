"""highdicom's tables of the standard are loaded by :func:`load_standard_tables` (in a fresh process)."""

from __future__ import annotations

import json

from tests.helpers import run_python

COUNT_LOADED = (
    "import json\n"
    "from highdicom import _standard_utils\n"
    "from mhubio.dicom.standard import TABLE_LOADERS, load_standard_tables\n"
    "def loaded():\n"
    "    return [getattr(_standard_utils, name).cache_info().currsize for name in TABLE_LOADERS]\n"
    "before = loaded()\n"
    "load_standard_tables()\n"
    "print(json.dumps([before, loaded()]))\n"
)


def test_load_standard_tables_fills_highdicoms_caches():
    """Fails when highdicom renames its loaders: workers would then each load their own copy again."""
    done = run_python(COUNT_LOADED)
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout.splitlines()[-1]) == [[0, 0, 0], [1, 1, 1]]
