"""End to end: the thresholder model on generated and real CT, SEG validated and read back."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from mhubio.synthetic import write_ct_series
from tests.helpers import (
    REAL_CT,
    dciodvfy_errors,
    dcmqi_segments,
    read_report,
    read_seg_type,
    run_mhub,
    seg_label_counts,
)


def _label_map(work_dir):
    (path,) = sorted(work_dir.rglob("Thresholder.seg.nii"))
    return sitk.ReadImage(str(path))


def _check_run(input_dir, tmp_path, workflow="default", validators=True):
    out, work = tmp_path / "out", tmp_path / "work"
    done = run_mhub("run", "--model", "thresholder", "--workflow", workflow, "--input", input_dir,
                    "--output", out, "--work-dir", work, "--keep-work")
    assert done.returncode == 0, done.stdout
    report = read_report(out)
    (series,) = report["series"]
    assert series["status"] == "done"
    (seg_path,) = sorted(out.glob("*/thresholder.seg.dcm"))
    assert seg_path.parent.name == series["series_uid"]
    assert [o["path"] for o in series["outputs"]] == [str(seg_path.relative_to(out))]
    if validators:
        assert dciodvfy_errors(seg_path) == []

    labels = _label_map(work)
    array = sitk.GetArrayFromImage(labels)
    label_names = {1: "BODY", 2: "LUNG", 3: "BONE"}
    expected = {name: int(np.count_nonzero(array == value)) for value, name in label_names.items()}
    assert all(expected.values()), expected
    assert seg_label_counts(seg_path) == expected

    if not validators:
        return report
    by_dcmqi = dcmqi_segments(seg_path, tmp_path / "dcmqi")
    for number, name in enumerate(["BODY", "LUNG", "BONE"], start=1):
        image = by_dcmqi[number]
        assert int(sitk.GetArrayViewFromImage(image).astype(bool).sum()) == expected[name]
        assert np.allclose(image.GetOrigin(), labels.GetOrigin(), atol=1e-3)
        assert np.allclose(image.GetSpacing(), labels.GetSpacing(), atol=1e-3)
        assert np.allclose(image.GetDirection(), labels.GetDirection(), atol=1e-6)
    return report


def test_generated_ct(tmp_path):
    series = write_ct_series(tmp_path / "in", shape=(40, 96, 96), seed=3)
    report = _check_run(series.directory, tmp_path)
    assert report["model"]["name"] == "thresholder"


def test_generated_ct_labelmap_workflow(tmp_path):
    # Debian's dicom3tools and dcmqi 1.5 predate Label Map Segmentation Storage (DICOM 2024):
    # dciodvfy reports "Information Object Not found"; the SEG is checked by reading it back.
    series = write_ct_series(tmp_path / "in", shape=(24, 64, 64), seed=4, slice_order="descending")
    _check_run(series.directory, tmp_path, workflow="labelmap", validators=False)
    (seg_path,) = (tmp_path / "out").glob("*/thresholder.seg.dcm")
    assert read_seg_type(seg_path) == "LABELMAP"


@pytest.mark.slow
def test_real_ct(tmp_path):
    if not REAL_CT.is_dir():
        pytest.skip("shared real CT not present")
    _check_run(REAL_CT, tmp_path)
