"""``benchmarks/compare_mhub.py`` on a tiny generated series: both chains run and segment the same voxels."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import highdicom as hd
import numpy as np

from tests.helpers import REPO, tool


def segment_counts(seg_path: Path) -> dict[str, int]:
    """Voxel count per segment of a SEG, keyed by the segmented property type code."""
    seg = hd.seg.segread(seg_path)
    counts = {}
    for number in seg.segment_numbers:
        code = seg.get_segment_description(number).segmented_property_type
        volume = seg.get_volume(segment_numbers=[number], combine_segments=True).array
        counts[f"{code.scheme_designator} {code.value}"] = int(np.count_nonzero(volume))
    return counts


def test_compare_mhub_runs_both_chains(tmp_path):
    for name in ("dcm2niix", "itkimage2segimage"):
        tool(name)  # skips the test when the tool is missing
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "compare_mhub.py"), "--slices", "12", "--size", "32", "--repeat",
         "1", "--keep", str(tmp_path)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
    )
    assert done.returncode == 0, done.stdout
    assert re.search(r"generated 12x32x32 +mhub run +\d", done.stdout), done.stdout
    assert re.search(r"generated 12x32x32 +MHub's chain \(bare tools\) +\d", done.stdout), done.stdout
    assert re.search(r"MHub's chain / mhub run = \d+\.\d\dx; target >= 2x: (met|NOT met)", done.stdout), done.stdout
    (ours,) = (tmp_path / "runs0" / "ours0" / "out").rglob("thresholder.seg.dcm")
    theirs = segment_counts(tmp_path / "runs0" / "theirs0" / "seg.dcm")
    assert segment_counts(ours) == theirs and sum(theirs.values()) > 0
