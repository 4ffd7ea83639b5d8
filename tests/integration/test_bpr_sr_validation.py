"""BPR SRs pass dciodvfy, dsrdump and PixelMed's DicomSRValidator; inference runs on the real CT.

PixelMed validates each SR kind once, on the synthetic series (always available); the SRs of the real CT go
through dciodvfy and dsrdump.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from mhubio.bpr.inference import BodyPartRegressor
from mhubio.bpr.scores import BodyPartResult
from mhubio.bpr.series import read_ct_slices
from mhubio.sr.bpr import encode_landmark_sr, encode_region_sr, landmark_codes, region_codes
from mhubio.synthetic import write_ct_series
from tests.helpers import PIXELMED_JAR, pixelmed_sr_validation
from tests.support.bpr import result_from_curve, write_model_folder

REAL_CT = Path("/work/shared/data/pancreas-ct-cb001")
ENCODERS = {"landmarks": encode_landmark_sr, "regions": encode_region_sr}


def dciodvfy_errors(path: Path) -> list[str]:
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
    errors = [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]
    assert (run.returncode == 0) == (not errors), run.stdout + run.stderr
    return errors


def pixelmed_errors(path: Path) -> list[str]:
    output = pixelmed_sr_validation(path)
    assert "Root Template Validation Complete" in output, output
    return [line for line in output.splitlines() if "Error:" in line]


def check_sr(path: Path, result: BodyPartResult, datasets: list[pydicom.Dataset], kind: str, pixelmed: bool) -> None:
    """Validators find no error; every group reads back with its codes and references a slice of the series.

    PixelMed (tens of seconds and GB per SR) runs when ``pixelmed`` is set: once per SR kind in the suite.
    """
    assert dciodvfy_errors(path) == []
    assert subprocess.run(["dsrdump", str(path)], capture_output=True).returncode == 0
    if pixelmed:
        assert pixelmed_errors(path) == []
    groups = hd.sr.srread(path).content.get_image_measurement_groups()
    uids = [str(ds.SOPInstanceUID) for ds in datasets]
    if kind == "landmarks":
        codes = {c.finding_site.value for c in landmark_codes().values()}
        expected = {uids[i] for i in result.landmarks.values()}
    else:
        codes = {c.value for c in region_codes().values()}
        expected = {uids[i] for i, regions in enumerate(result.regions) if regions}
    referenced = []
    for group in groups:
        assert len(group.source_images) == 1
        referenced.append(group.source_images[0].referenced_sop_instance_uid)
        assert group.finding_sites and {s.value.value for s in group.finding_sites} <= codes
    assert len(referenced) == len(set(referenced)) == len(expected)
    assert set(referenced) == expected


tools = pytest.mark.skipif(
    not (shutil.which("dciodvfy") and shutil.which("dsrdump") and shutil.which("java") and PIXELMED_JAR.is_file()),
    reason="dciodvfy, dsrdump and PixelMed are needed",
)


@tools
@pytest.mark.slow
@pytest.mark.parametrize("kind, order", [("landmarks", "descending"), ("regions", "ascending")])
def test_synthetic_series_sr_is_valid(tmp_path, kind: str, order: str) -> None:
    series = write_ct_series(tmp_path / "ct", shape=(60, 16, 16), spacing=(2.0, 2.0, 3.0), seed=2)
    datasets = sorted(
        (pydicom.dcmread(p, stop_before_pixels=True) for p in series.files),
        key=lambda ds: float(ds.ImagePositionPatient[2]),
        reverse=order == "descending",
    )
    curve = 10.0 + np.arange(60) * 3.0 * 0.11
    result = result_from_curve(curve if order == "ascending" else curve[::-1], 3.0)
    sr = ENCODERS[kind](result, datasets, "BodyPartRegression", "1.1.0", 101)
    path = tmp_path / f"{kind}.dcm"
    sr.save_as(path, enforce_file_format=True)
    check_sr(path, result, datasets, kind, pixelmed=True)


@pytest.mark.skipif(not REAL_CT.is_dir(), reason="real CT not available")
@tools
@pytest.mark.slow
def test_real_ct_inference_and_valid_srs(tmp_path) -> None:
    ct = read_ct_slices(sorted(REAL_CT.glob("*.dcm")))
    assert len(ct.datasets) == 134
    assert ct.spacing == pytest.approx((3.0, 1.07421875, 1.07421875))
    positions = [float(ds.ImagePositionPatient[2]) for ds in ct.datasets]
    assert positions == sorted(positions)

    regressor = BodyPartRegressor.load(write_model_folder(tmp_path / "model"))
    result = regressor.analyze(ct.volume_hu, ct.spacing)
    assert result.n_slices == 134 and np.isfinite(result.slice_scores).all()
    loaded = BodyPartResult.load_json(result.save_json(tmp_path / "bpreg.json"))
    assert loaded.regions == result.regions

    # Random weights give a flat curve; a plausible abdominal curve exercises every SR code path on real headers.
    curve = result_from_curve(5.0 + np.arange(134) * 3.0 * 0.11, 3.0)
    for kind, encoder in ENCODERS.items():
        path = tmp_path / f"real-{kind}.dcm"
        encoder(curve, ct.datasets, "BodyPartRegression", "1.1.0", 101).save_as(path, enforce_file_format=True)
        check_sr(path, curve, ct.datasets, kind, pixelmed=False)
