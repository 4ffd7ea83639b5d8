"""SEG encoding speed: the 117 TotalSegmentator segments of a 300 x 512 x 512 CT, against dcmqi and plain highdicom.

Run: ``PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_seg.py [--slices 300] [--size 512] [--repeat 3]
[--kind BINARY|LABELMAP] [--profile]``.  The three encoders run interleaved on the same label map and source
slices, each writing its file: mhubio (``encode_segmentation`` + write), plain highdicom (``Segmentation`` with the
same segment descriptions + write), and dcmqi ``itkimage2segimage`` (a process, reading the NIfTI label map and the
DICOM folder).  Targets on 2 cores: BINARY <= 1/3 of dcmqi's time, LABELMAP <= 0.5 s.  ``--profile`` prints where
mhubio's time goes (cProfile, top functions).  Prints a table; it asserts nothing (speed is not a test).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import highdicom as hd
import numpy as np
import SimpleITK as sitk
from highdicom.seg import SegmentationTypeValues
from pydicom.sr.codedict import codes

from mhubio.core.algorithm import AlgorithmFamily
from mhubio.core.data import AlgorithmInfo
from mhubio.dicom.scan import scan_folder
from mhubio.dicom.volume import read_series_image
from mhubio.seg import SegOptions, encode_segmentation, load_source_images
from mhubio.segdb import get_segment, load_label_map, to_segment_description
from mhubio.synthetic import write_ct_series

LABEL_MAP = "totalsegmentator_total"


def _label_map(image: sitk.Image, count: int, seed: int = 0) -> sitk.Image:
    """``count`` labelled ellipsoids on a grid of cells filling the volume (TotalSegmentator-like sizes)."""
    shape = sitk.GetArrayViewFromImage(image).shape
    cells = int(np.ceil(count ** (1 / 3)))
    labels = np.zeros(shape, dtype=np.uint8)
    rng = np.random.default_rng(seed)
    grid = np.ogrid[tuple(slice(0, n) for n in shape)]
    step = [n / cells for n in shape]
    for value in range(1, count + 1):
        cell = np.unravel_index(value - 1, (cells,) * 3)
        centre = [(c + 0.5) * s for c, s in zip(cell, step, strict=True)]
        radius = [s * rng.uniform(0.25, 0.45) for s in step]
        inside = sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radius, strict=True)) <= 1.0
        labels[inside] = value
    result = sitk.GetImageFromArray(labels)
    result.CopyInformation(image)
    return result


def _dcmqi_metadata(table: dict[int, str], kind: str) -> dict:
    attributes = []
    for value, segment_id in sorted(table.items()):
        definition = get_segment(segment_id)
        attributes.append({
            "labelID": value,
            "SegmentDescription": definition.label[:64],
            "SegmentAlgorithmType": "AUTOMATIC",
            "SegmentAlgorithmName": "bench",
            "SegmentedPropertyCategoryCodeSequence": _code(definition.category),
            "SegmentedPropertyTypeCodeSequence": _code(definition.type),
            "recommendedDisplayRGBValue": list(definition.color),
        })
    return {
        "ContentCreatorName": "MHub^", "ClinicalTrialSeriesID": "1", "ClinicalTrialTimePointID": "1",
        "SeriesDescription": "bench", "SeriesNumber": "901", "InstanceNumber": "1", "BodyPartExamined": "",
        "segmentAttributes": [attributes], "ContentLabel": "SEGMENTATION", "ContentDescription": "bench",
        **({"SegmentationType": "LABELMAP"} if kind == "LABELMAP" else {}),
    }


def _code(code) -> dict:
    return {"CodeValue": code.value, "CodingSchemeDesignator": code.scheme_designator, "CodeMeaning": code.meaning}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kind", choices=["BINARY", "LABELMAP"], default="BINARY")
    parser.add_argument("--profile", action="store_true", help="print where mhubio's time goes")
    args = parser.parse_args()
    kind = SegmentationTypeValues(args.kind)
    table = dict(enumerate(load_label_map(LABEL_MAP).values(), start=1))
    dcmqi = shutil.which("itkimage2segimage") or str(Path(sys.executable).with_name("itkimage2segimage"))
    with tempfile.TemporaryDirectory(prefix="mhub-bench-seg-") as tmp:
        root = Path(tmp)
        series = write_ct_series(root / "ct", shape=(args.slices, args.size, args.size), seed=0)
        (dicom_series,) = scan_folder(root / "ct").series.values()
        image = read_series_image(dicom_series)
        labels = _label_map(image, len(table))
        sitk.WriteImage(labels, str(root / "labels.nii.gz"))
        sources = load_source_images(series.files)
        (root / "meta.json").write_text(json.dumps(_dcmqi_metadata(table, kind.value)))
        algorithm = AlgorithmInfo("bench", "1", AlgorithmFamily.ARTIFICIAL_INTELLIGENCE)

        def ours() -> None:
            result = encode_segmentation(labels, sources, table, algorithm, SegOptions(segmentation_type=kind))
            result.dataset.save_as(root / "ours.dcm")

        algorithm_id = hd.AlgorithmIdentificationSequence("bench", codes.cid7162.ArtificialIntelligence, "1")
        descriptions = [to_segment_description(get_segment(table[v]), v, algorithm_id) for v in sorted(table)]
        pixels = sitk.GetArrayFromImage(labels)

        def plain() -> None:
            seg = hd.seg.Segmentation(
                source_images=sources, pixel_array=pixels,
                segmentation_type=hd.seg.SegmentationTypeValues(kind.value),
                segment_descriptions=descriptions, series_instance_uid=hd.UID(),
                series_number=901, sop_instance_uid=hd.UID(), instance_number=1, manufacturer="MHub",
                manufacturer_model_name="bench", software_versions="0", device_serial_number="0",
                omit_empty_frames=True)
            seg.save_as(root / "plain.dcm")

        def with_dcmqi() -> None:
            subprocess.run([dcmqi, "--inputImageList", str(root / "labels.nii.gz"), "--inputDICOMDirectory",
                            str(root / "ct"), "--outputDICOM", str(root / "dcmqi.dcm"), "--inputMetadata",
                            str(root / "meta.json"), "--skip", "1"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        encoders: dict[str, Callable[[], None]] = {
            "mhubio": ours, "plain highdicom": plain, "dcmqi itkimage2segimage": with_dcmqi,
        }
        timings: dict[str, list[float]] = {name: [] for name in encoders}
        for _ in range(args.repeat):
            for name, encoder in encoders.items():
                start = time.perf_counter()
                encoder()
                timings[name].append(time.perf_counter() - start)
        if args.profile:
            profile = cProfile.Profile()
            profile.runcall(ours)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\n{kind.value} SEG, {len(table)} segments, {args.slices} x {args.size} x {args.size}, "
          f"{os.cpu_count()} cores (load average {load} at the end), {args.repeat} interleaved runs "
          "(min-max seconds, median)")
    for name, values in timings.items():
        print(f"{name:32s} {min(values):6.2f} - {max(values):6.2f}  median {statistics.median(values):6.2f}")
    ratio = min(timings["mhubio"]) / min(timings["dcmqi itkimage2segimage"])
    target = "LABELMAP <= 0.5 s" if kind is SegmentationTypeValues.LABELMAP else "BINARY <= 1/3 of dcmqi"
    met = _met(kind, timings, min)
    print(f"mhubio / dcmqi = {ratio:.2f} (fastest runs); target {target}: {'met' if met else 'NOT met'} by the fastest "
          f"run, {'met' if _met(kind, timings, statistics.median) else 'NOT met'} by the medians")


def _met(kind: SegmentationTypeValues, timings: dict[str, list[float]],
         summary: Callable[[list[float]], float]) -> bool:
    """Whether the target is met by the ``summary`` (fastest, median) of each encoder's times."""
    ours = summary(timings["mhubio"])
    if kind is SegmentationTypeValues.LABELMAP:
        return ours <= 0.5
    return ours / summary(timings["dcmqi itkimage2segimage"]) <= 1 / 3


if __name__ == "__main__":
    main()
