"""Shared test helpers: running mhub, validating and reading back DICOM outputs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import highdicom as hd
import numpy as np
import pytest
import SimpleITK as sitk

REPO = Path(__file__).resolve().parents[1]
REAL_CT = REPO.parent / "shared" / "data" / "pancreas-ct-cb001"
VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """Path of an external tool (venv bin first); skips the test if absent."""
    candidate = VENV_BIN / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed")
    return found


def run_mhub(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m mhubio ARGS`` in a subprocess (exit code as a real user sees it)."""
    return subprocess.run(
        [sys.executable, "-m", "mhubio", *map(str, args)], cwd=REPO, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
    )


def read_report(output_dir: Path) -> dict:
    """The run report of an output folder."""
    return json.loads((output_dir / "mhub_report.json").read_text())


def dciodvfy_errors(path: Path) -> list[str]:
    """Error lines of dciodvfy for one file (empty list = valid)."""
    done = subprocess.run([tool("dciodvfy"), str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False)
    errors = [line for line in done.stdout.splitlines() if line.startswith("Error")]
    assert (done.returncode != 0) == bool(errors) or not errors, done.stdout
    return errors


def seg_label_counts(seg_path: Path) -> dict[str, int]:
    """Voxel count per segment (keyed by TrackingID = segment id) read back with highdicom."""
    seg = hd.seg.segread(seg_path)
    counts = {}
    for number in seg.segment_numbers:
        description = seg.get_segment_description(number)
        array = seg.get_volume(segment_numbers=[number], combine_segments=True).array
        counts[description.tracking_id] = int(np.count_nonzero(array))
    return counts


def dcmqi_segments(seg_path: Path, out_dir: Path) -> dict[int, sitk.Image]:
    """Segments as images read back by dcmqi ``segimage2itkimage`` (segment number -> image)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([tool("segimage2itkimage"), "--inputDICOM", str(seg_path), "--outputDirectory", str(out_dir),
                    "--outputType", "nifti"], check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    meta = json.loads((out_dir / "meta.json").read_text())
    images = {}
    for index, group in enumerate(meta["segmentAttributes"], start=1):
        for attributes in group:
            images[int(attributes["labelID"])] = sitk.ReadImage(str(out_dir / f"{index}.nii.gz"))
    return images


def read_seg_type(seg_path: Path) -> str:
    """SegmentationType of a SEG file."""
    return str(hd.seg.segread(seg_path).SegmentationType)
