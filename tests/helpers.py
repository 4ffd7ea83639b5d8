"""Shared test helpers: running mhub, validating and reading back DICOM outputs."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import highdicom as hd
import numpy as np
import pytest
import SimpleITK as sitk

REPO = Path(__file__).resolve().parents[1]
# The shared real CT sits beside the main checkout; from a worktree (wt/<branch>) it is one level further up.
REAL_CT = next(
    (p for p in (REPO.parent / "shared" / "data" / "pancreas-ct-cb001",
                 REPO.parents[1] / "shared" / "data" / "pancreas-ct-cb001") if p.is_dir()),
    REPO.parent / "shared" / "data" / "pancreas-ct-cb001",
)
VENV_BIN = Path(sys.executable).parent
PIXELMED_JAR = Path("/usr/share/java/pixelmed.jar")
# The XSLT template checks need the JDK's XPath limits lifted. Heap: the radiomics SR of every phantom organ
# (one measurement group per organ) peaks at 5 GB resident and runs out of a 3 GB or 4 GB heap (4 GB: still collecting
# garbage after twice the time); a 60-slice BPR region SR needs 1.5 GB. The default cap is the JVM's default on the
# 24 GB CI machine, stated so that larger machines do not grow further; a test may ask for less.
PIXELMED_HEAP = "6g"
PIXELMED_JAVA_OPTIONS = ("-Djdk.xml.xpathExprGrpLimit=0", "-Djdk.xml.xpathExprOpLimit=0",
                         "-Djdk.xml.xpathTotalOpLimit=0")


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


def run_python(code: str, *args: str | Path) -> subprocess.CompletedProcess:
    """Run ``python -c CODE ARGS`` in a fresh interpreter in the repository (stdout and stderr together)."""
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], cwd=REPO,
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


SHARED_DIR_VARIABLE = "MHUB_TESTS_SHARED_DIR"
"""Folder shared by the xdist workers of one run (set by ``tests/conftest.py``), for their locks."""


def pixelmed_sr_validation(path: Path, heap: str = PIXELMED_HEAP) -> str:
    """Output of PixelMed's ``DicomSRValidator`` on one SR (it always exits 0: callers check the text).

    ``heap`` is the Java heap limit (``-Xmx``), e.g. ``"2g"``.

    Skips the test if java or PixelMed is missing. One validator runs at a time across the pytest-xdist workers
    of a run (a file lock), as each JVM takes up to a few GB.
    """
    java = tool("java")
    if not PIXELMED_JAR.is_file():
        pytest.skip(f"PixelMed is not installed ({PIXELMED_JAR})")
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid()))
    lock = Path(os.environ.get(SHARED_DIR_VARIABLE, tempfile.gettempdir())) / f"mhub-tests-pixelmed-{run_id}.lock"
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        done = subprocess.run([java, f"-Xmx{heap}", *PIXELMED_JAVA_OPTIONS, "-cp", str(PIXELMED_JAR),
                               "com.pixelmed.validate.DicomSRValidator", str(path)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    return done.stdout


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
