"""The work around the model: ``mhub run`` against MHub's chain rebuilt from the bare public tools it calls.

Run: ``.venv/bin/python benchmarks/compare_mhub.py [--slices 300] [--size 512] [--real DIR ...] [--repeat 4]``.

Both sides segment the same CT series with the same HU-threshold model (``models/thresholder``):

- **this project**: one ``mhub run --model thresholder`` process (import and QC, NIfTI, thresholds, SEG, report);
- **MHub's chain**: each tool started as a process, as MHub's modules start them: a dicomsort-style copy of the
  files into a ``SeriesInstanceUID/dicom/SOPInstanceUID.dcm`` tree (headers read with pydicom),
  ``dcm2niix -z y -b n`` (MHub's flags: compressed NIfTI, no BIDS sidecar), the thresholds applied in a Python
  process on that NIfTI, and dcmqi ``itkimage2segimage`` (BINARY SEG of the three segments, with the project's
  segment codes).

The model step is subtracted from both: ours is the ``Thresholder`` step's time in ``mhub_report.json``, theirs
the whole threshold process.  The remainder is the work around the model; the ratio is theirs over ours (the
target on the 300-slice CT is >= 2).  The sides alternate, and which starts alternates between repeats; the
table gives min-max over the repeats and the ratio of the fastest runs.  Peak RSS: the ``mhub run`` process,
and the largest of the chain's processes.  Prints a table; it asserts nothing (speed is not a test), but exits
non-zero if a tool fails or writes no output.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
THRESHOLDER = REPO / "models" / "thresholder" / "modules" / "thresholder.py"
TARGET_RATIO = 2.0
sys.path.insert(0, str(REPO))


@dataclass(frozen=True)
class Process:
    """Wall time (s) and peak resident memory (bytes) of one finished process."""

    seconds: float
    peak_rss: int


@dataclass(frozen=True)
class Run:
    """One side's run on one series: wall time, the model step's time and the peak RSS."""

    seconds: float
    model_seconds: float
    peak_rss: int

    @property
    def around(self) -> float:
        """Wall time minus the model step: the work around the model."""
        return self.seconds - self.model_seconds


def run_process(command: Sequence[str | Path]) -> Process:
    """Run ``command`` to completion; its wall time and peak RSS (from ``wait4``)."""
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen([str(c) for c in command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    output = process.stdout.read() if process.stdout else b""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = code = os.waitstatus_to_exitcode(status)  # reaped by wait4: tell Popen
    if code != 0:
        raise SystemExit(f"{Path(str(command[0])).name} exited {code}:\n"
                         f"{output.decode(errors='replace')[-4000:]}")
    return Process(seconds, usage.ru_maxrss * 1024)


def tool(name: str) -> str:
    """Path of an external tool, the interpreter's bin folder first."""
    candidate = Path(sys.executable).with_name(name)
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} is not installed (pip install -e '.[dev]')")
    return found


def sort_series(source: Path, target: Path) -> None:
    """Copy every DICOM file under ``source`` to ``target/SeriesInstanceUID/dicom/SOPInstanceUID.dcm``."""
    import pydicom

    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except pydicom.errors.InvalidDicomError:
            continue
        folder = target / str(ds.SeriesInstanceUID) / "dicom"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / f"{ds.SOPInstanceUID}.dcm")


def threshold(image_path: Path, labels_path: Path) -> None:
    """Apply the thresholder model's ``segment`` to a NIfTI CT and write the label map."""
    import numpy as np
    import SimpleITK as sitk

    spec = importlib.util.spec_from_file_location("thresholder", THRESHOLDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    image = sitk.ReadImage(str(image_path))
    labels = module.segment(sitk.GetArrayFromImage(image), module.Thresholder.Params(),
                            float(np.prod(image.GetSpacing())) / 1000.0)
    out = sitk.GetImageFromArray(labels)
    out.CopyInformation(image)
    sitk.WriteImage(out, str(labels_path), useCompression=True)


def dcmqi_metadata() -> dict:
    """dcmqi's JSON for the thresholder's three segments, coded as this project codes them."""
    from mhubio.segdb import get_segment

    def code(value) -> dict:
        return {"CodeValue": value.value, "CodingSchemeDesignator": value.scheme_designator,
                "CodeMeaning": value.meaning}

    attributes = []
    for label, segment_id in enumerate(("BODY", "LUNG", "BONE"), start=1):
        definition = get_segment(segment_id)
        attributes.append({
            "labelID": label, "SegmentDescription": definition.label[:64], "SegmentAlgorithmType": "AUTOMATIC",
            "SegmentAlgorithmName": "MHub HU Thresholder",
            "SegmentedPropertyCategoryCodeSequence": code(definition.category),
            "SegmentedPropertyTypeCodeSequence": code(definition.type),
            "recommendedDisplayRGBValue": list(definition.color),
        })
    return {"ContentCreatorName": "MHub^", "ClinicalTrialSeriesID": "1", "ClinicalTrialTimePointID": "1",
            "SeriesDescription": "HU threshold segmentation (MHub)", "SeriesNumber": "42", "InstanceNumber": "1",
            "BodyPartExamined": "", "segmentAttributes": [attributes], "ContentLabel": "SEGMENTATION",
            "ContentDescription": "MHub"}


def run_theirs(series: Path, work: Path) -> Run:
    """MHub's chain from the bare tools, one process each."""
    work.mkdir(parents=True)
    sorted_dir, nifti_dir = work / "sorted", work / "nifti"
    nifti_dir.mkdir()
    metadata = work / "meta.json"
    metadata.write_text(json.dumps(dcmqi_metadata()))
    script = Path(__file__).resolve()
    steps = [run_process([sys.executable, script, "sort", series, sorted_dir])]
    (series_dir,) = sorted_dir.iterdir()
    steps.append(run_process([tool("dcm2niix"), "-z", "y", "-b", "n", "-f", "image", "-o", nifti_dir,
                              series_dir / "dicom"]))
    model = run_process([sys.executable, script, "threshold", nifti_dir / "image.nii.gz", work / "labels.nii.gz"])
    seg = work / "seg.dcm"
    steps.append(run_process([tool("itkimage2segimage"), "--inputImageList", work / "labels.nii.gz",
                              "--inputDICOMDirectory", series_dir / "dicom", "--outputDICOM", seg,
                              "--inputMetadata", metadata]))
    if not seg.is_file():
        raise SystemExit("itkimage2segimage wrote no SEG")
    seconds = sum(step.seconds for step in steps) + model.seconds
    return Run(seconds, model.seconds, max(step.peak_rss for step in [*steps, model]))


def run_ours(series: Path, work: Path) -> Run:
    """One ``mhub run --model thresholder`` process."""
    output_dir = work / "out"
    done = run_process([sys.executable, "-m", "mhubio", "run", "--model", "thresholder", "--input", series,
                        "--output", output_dir, "--quiet"])
    report = json.loads((output_dir / "mhub_report.json").read_text())
    (entry,) = report["series"]
    if not list(output_dir.rglob("thresholder.seg.dcm")):
        raise SystemExit("mhub run wrote no SEG")
    model = sum(step["seconds"] for step in entry["steps"] if step["step"] == "Thresholder")
    return Run(done.seconds, model, done.peak_rss)


def span(values: Sequence[float]) -> str:
    """``min-max`` of ``values`` with one decimal."""
    return f"{min(values):.1f}-{max(values):.1f}"


def compare(name: str, series: Path, work: Path, repeat: int) -> float:
    """Run both sides ``repeat`` times, interleaved (in ``work/ours<i>`` and ``work/theirs<i>``); print the table
    rows and return the ratio."""
    sides = {"ours": ("mhub run", run_ours), "theirs": ("MHub's chain (bare tools)", run_theirs)}
    runs: dict[str, list[Run]] = {key: [] for key in sides}
    for index in range(repeat):
        for key in sides if index % 2 == 0 else reversed(sides):
            runs[key].append(sides[key][1](series, work / f"{key}{index}"))
    for key, results in runs.items():
        print(f"{name:<28} {sides[key][0]:<26} {span([r.seconds for r in results]):>11} "
              f"{span([r.model_seconds for r in results]):>11} {span([r.around for r in results]):>11} "
              f"{max(r.peak_rss for r in results) / 2**30:>8.2f}")
    return min(r.around for r in runs["theirs"]) / min(r.around for r in runs["ours"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300, help="slices of the generated CT (0: none)")
    parser.add_argument("--size", type=int, default=512, help="rows and columns of the generated CT")
    parser.add_argument("--real", type=Path, action="append", default=[], help="a folder with one CT series")
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--keep", type=Path, help="an empty folder to keep the runs' files in (default: temporary)")
    args = parser.parse_args()
    ratios: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mhub-compare-") as tmp:
        root = Path(tmp) if args.keep is None else args.keep
        datasets = [(f"real CT {path.name}", path) for path in args.real]
        if args.slices:
            from mhubio.synthetic import write_ct_series

            generated = root / "generated"
            write_ct_series(generated, shape=(args.slices, args.size, args.size))
            datasets.insert(0, (f"generated {args.slices}x{args.size}x{args.size}", generated))
        load = os.getloadavg()
        print(f"thresholder, {args.repeat} interleaved run(s) each, {os.cpu_count()} CPU cores, load average "
              f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
        print(f"{'series':<28} {'side':<26} {'wall s':>11} {'model s':>11} {'around s':>11} {'peak GB':>8}")
        for index, (name, series) in enumerate(datasets):
            ratios[name] = compare(name, series, root / f"runs{index}", args.repeat)
    for name, ratio in ratios.items():
        verdict = f"; target >= {TARGET_RATIO:g}x: {'met' if ratio >= TARGET_RATIO else 'NOT met'}" \
            if name.startswith("generated") else ""
        print(f"{name}: work around the model, MHub's chain / mhub run = {ratio:.2f}x{verdict}")


def _tool_main(argv: Sequence[str]) -> None:
    """The chain's own processes: ``sort SOURCE TARGET`` and ``threshold IMAGE LABELS``."""
    command, source, target = argv
    if command == "sort":
        sort_series(Path(source), Path(target))
    elif command == "threshold":
        threshold(Path(source), Path(target))
    else:
        raise SystemExit(f"unknown tool command {command!r}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] in ("sort", "threshold"):
        _tool_main(sys.argv[1:])
    else:
        main()
