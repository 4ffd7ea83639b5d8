"""Radiomics speed: the 14 shape features of every segment of the thresholder's SEG (body, lungs, bone) on a CT.

Run: ``PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_radiomics.py [--input DICOM_DIR] [--repeat 3]``
(default input: the real 134-slice CT ``shared/data/pancreas-ct-cb001``).  The thresholder model makes the SEG
once; the features are then computed as RadiomicsRunner computes them (SEG decoded onto the CT grid, one mask per
segment).  Target on 2 cores: <= 30 s for the three segments.  ``--check LUNG`` also runs pyradiomics' own extractor
on that segment and prints the largest relative difference (pyradiomics' own run takes minutes on the lungs, tens
of minutes on the body or the bones).  Prints a table; it asserts nothing (speed is not a test).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import highdicom as hd
import numpy as np
import SimpleITK as sitk

from mhubio.dicom.scan import scan_folder
from mhubio.dicom.volume import read_series_image
from mhubio.radiomics import DEFAULT_SHAPE_FEATURES, SegmentMask, extract_mask_features
from mhubio.seg.decode import decode_segments

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 30.0


def _default_input() -> Path:
    for root in (REPO.parent, REPO.parents[1]):
        candidate = root / "shared" / "data" / "pancreas-ct-cb001"
        if candidate.is_dir():
            return candidate
    raise SystemExit("no real CT found: pass --input DICOM_DIR")


def _threshold_seg(dicom_dir: Path, out: Path) -> Path:
    """Run the thresholder model; the path of its SEG."""
    subprocess.run([sys.executable, "-m", "mhubio", "run", "--model", "thresholder", "--input", str(dicom_dir),
                    "--output", str(out)], cwd=REPO, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    (seg,) = sorted(out.rglob("*.seg.dcm"))
    return seg


def _pyradiomics_own(image: sitk.Image, mask: SegmentMask) -> dict[str, float]:
    from radiomics import featureextractor

    extractor = featureextractor.RadiomicsFeatureExtractor(additionalInfo=False)
    extractor.disableAllFeatures()
    extractor.enableFeaturesByName(shape=list(DEFAULT_SHAPE_FEATURES))
    raw = extractor.execute(image, mask.mask, label=mask.mask_value)
    return {k.removeprefix("original_"): float(np.real(v)) for k, v in raw.items() if k.startswith("original_")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=None, help="CT series folder (default: the real CT)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--check", action="append", default=[], metavar="SEGMENT_ID",
                        help="compare this segment with pyradiomics' own extractor (repeatable)")
    args = parser.parse_args()
    dicom_dir = args.input or _default_input()
    with tempfile.TemporaryDirectory(prefix="bench-radiomics-") as tmp:
        seg_path = _threshold_seg(dicom_dir, Path(tmp) / "out")
        (series,) = scan_folder(dicom_dir).series.values()
        image = read_series_image(series)
        decoded = decode_segments(hd.seg.segread(seg_path), image)
        masks = [SegmentMask(d.segment_id, d.number, d.mask) for d in decoded]
        timings = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = extract_mask_features(image, masks)
            timings.append(time.perf_counter() - start)
        size = image.GetSize()
        print(f"CT {size[0]}x{size[1]}x{size[2]}, {len(masks)} segments "
              f"({', '.join(m.segment_id for m in masks)}), {len(DEFAULT_SHAPE_FEATURES)} shape features")
        print(f"features of all segments: {min(timings):.1f}-{max(timings):.1f} s over {args.repeat} runs "
              f"(target <= {TARGET_S:.0f} s: {'met' if max(timings) <= TARGET_S else 'NOT met'})")
        by_id = result.by_segment()
        for mask in (m for m in masks if m.segment_id in args.check):
            start = time.perf_counter()
            own = _pyradiomics_own(image, mask)
            ours = by_id[mask.segment_id].features
            worst = max(abs(ours[k] - v) / max(abs(v), 1e-300) for k, v in own.items())
            print(f"{mask.segment_id}: pyradiomics' own extractor {time.perf_counter() - start:.1f} s, "
                  f"largest relative difference {worst:.1e}")


if __name__ == "__main__":
    main()
