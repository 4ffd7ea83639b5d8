"""``benchmarks/bench_scan.py`` on tiny series: both value decodings on one process and on the usable cores index
every file, and the gain and the index's memory per file are printed."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.helpers import REPO


def test_bench_scan_indexes_every_file_with_both_decodings():
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_scan.py"), "--series", "2", "--slices", "70", "--size", "16",
         "--repeat", "1"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
    )
    assert done.returncode == 0, done.stdout
    assert "scan of 140 files" in done.stdout, done.stdout
    rows = re.findall(r"^ +(plain|pydicom) +(\d+) +\d+\.\d{3} +\d+ +\d+\.\d{3} +(\d+)$", done.stdout, re.MULTILINE)
    assert {values for values, _, _ in rows} == {"plain", "pydicom"}, done.stdout
    assert "1" in {processes for _, processes, _ in rows}, done.stdout
    assert all(indexed == "140" for _, _, indexed in rows), done.stdout
    assert re.search(r"^1 process\(es\): plain values scan \d+\.\d\dx as fast", done.stdout, re.MULTILINE), done.stdout
    memory = re.search(r"^index memory per file: (\d+) B \(1 process\(es\)\)", done.stdout, re.MULTILINE)
    assert memory, done.stdout
    assert 100 < int(memory.group(1)) < 10_000, done.stdout
