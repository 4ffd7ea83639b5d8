"""Core speed: ingest, NIfTI conversion and SEG encoding of a 300-slice 512x512 CT with a 4-label map.

Run: ``.venv/bin/python benchmarks/bench_core.py [--slices 300] [--size 512]``.
Targets on 2 cores: ingest of 300 files < 0.5 s, SEG encoding (BINARY, 4 segments) < 2 s, peak memory < 2 GB.
Prints a table; it asserts nothing (speed is not a test).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from mhubio.core.algorithm import AlgorithmFamily
from mhubio.core.data import AlgorithmInfo
from mhubio.dicom.qc import run_qc
from mhubio.dicom.scan import scan_folder
from mhubio.dicom.volume import read_series_image, write_nifti
from mhubio.seg import SegOptions, encode_segmentation
from mhubio.synthetic import write_ct_series


def _timed(label: str, rows: list, func, *args):
    start = time.perf_counter()
    result = func(*args)
    rows.append((label, time.perf_counter() - start))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="mhub-bench-") as tmp:
        series = _timed("generate CT (not a target)", rows, lambda: write_ct_series(
            Path(tmp) / "ct", shape=(args.slices, args.size, args.size), seed=0))
        scan = _timed(f"ingest: scan {len(series.files)} files", rows, scan_folder, Path(tmp) / "ct")
        (dicom_series,) = scan.series.values()
        qc = _timed("ingest: series QC", rows, run_qc, dicom_series)
        image = _timed("convert: DICOM -> image", rows, read_series_image, qc.accepted)
        _timed("convert: write NIfTI (work file)", rows, write_nifti, image, Path(tmp) / "ct.nii")
        labels = np.zeros(sitk.GetArrayViewFromImage(image).shape, dtype=np.uint8)
        phantom = series.phantom.labels
        names = series.phantom.label_names
        wanted = ["LEFT_LUNG", "RIGHT_LUNG", "HEART", "LIVER"]
        for new, name in enumerate(wanted, start=1):
            old = next(k for k, v in names.items() if v == name)
            labels[phantom == old] = new
        label_image = sitk.GetImageFromArray(labels)
        label_image.CopyInformation(image)
        sources = _timed("encode: source headers (kept by the read)", rows, qc.accepted.headers)
        _timed("encode: SEG BINARY 4 segments", rows, encode_segmentation, label_image, sources,
               dict(enumerate(wanted, start=1)), AlgorithmInfo("bench", "1", AlgorithmFamily.ARTIFICIAL_INTELLIGENCE),
               SegOptions())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nmhub core benchmark: {args.slices} x {args.size} x {args.size} CT, {os.cpu_count()} cores")
    print(f"{'step':40s} {'seconds':>8s}")
    for label, seconds in rows:
        print(f"{label:40s} {seconds:8.3f}")
    print(f"{'peak resident memory (MB)':40s} {peak_mb:8.0f}")


if __name__ == "__main__":
    main()
