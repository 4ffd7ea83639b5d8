"""The garbage collector in processes mhub owns: frozen there, untouched in a caller's process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from mhubio.synthetic import write_ct_series
from tests.helpers import REPO, read_report


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_long_lived_objects_are_frozen_only_in_a_process_mhub_owns() -> None:
    out = _python("""
        import gc
        from mhubio.core import collector
        collector.freeze_long_lived()
        print(gc.get_freeze_count())
        collector.own_process()
        collector.freeze_long_lived()
        print(gc.get_freeze_count())
    """)
    before, after = map(int, out.split())
    assert before == 0
    assert after > 1000


def test_an_owned_process_freezes_everything_at_exit_after_the_handlers_registered_later() -> None:
    out = _python("""
        import atexit, gc
        atexit.register(lambda: print("after", gc.get_freeze_count()))
        from mhubio.core import collector
        collector.own_process()
        collector.own_process()
        atexit.register(lambda: print("before", gc.get_freeze_count()))
    """)
    lines = dict(line.split() for line in out.splitlines())
    assert int(lines["before"]) == 0
    assert int(lines["after"]) > 1000


def test_a_run_called_from_python_leaves_the_callers_collector_alone(tmp_path: Path) -> None:
    write_ct_series(tmp_path / "in" / "ct", shape=(12, 32, 32), seed=0)
    out = _python(f"""
        import gc
        from mhubio.cli import main
        code = main(["run", "--model", "thresholder", "--input", {str(tmp_path / "in")!r},
                     "--output", {str(tmp_path / "out")!r}, "--quiet"])
        print(code, gc.get_freeze_count())
    """)
    code, frozen = map(int, out.split()[-2:])
    assert code == 0
    assert frozen == 0
    assert read_report(tmp_path / "out")["exit_code"] == 0
