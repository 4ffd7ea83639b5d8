"""``benchmarks/bench_workers.py`` on tiny series: every worker count and batch runs, and the split into a fixed
part and a time per series is printed with its Amdahl bound."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.helpers import REPO


def test_bench_workers_prints_both_batches_and_the_bound():
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_workers.py"), "--series", "2", "--slices", "10", "--size",
         "16"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
    )
    assert done.returncode == 0, done.stdout
    for batch in (2, 4):
        for workers in (1, 2):
            assert re.search(rf"^ +{batch} +{workers} +\d+\.\d\d ", done.stdout, re.MULTILINE), done.stdout
    assert re.search(r"^ +2 +-?\d+\.\d\d +-?\d+\.\d{3} ", done.stdout, re.MULTILINE), done.stdout
    assert re.search(r"--workers 2 / --workers 1 throughput = \d+\.\d\d; target >= 1\.6x: (met|NOT met)",
                     done.stdout), done.stdout
