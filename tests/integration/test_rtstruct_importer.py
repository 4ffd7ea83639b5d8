"""RtstructImporter at its edges: which structure set, which frame of reference, which contours."""

from __future__ import annotations

import json
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from mhubio.core.data import AlgorithmInfo
from mhubio.core.logs import ProgressPrinter
from mhubio.core.runner import RunOptions, run_workflow
from mhubio.dicom.scan import scan_folder
from mhubio.rtstruct import encode_rtstruct
from mhubio.seg.decode import segment_mask
from mhubio.synthetic import SyntheticSeries, write_ct_series

WORKFLOW = """\
general: {model: rtstruct_import, version: "1.0.0", description: RT Structure Set ROIs as a SEG}
execute: [DicomImporter, RtstructImporter, DataOrganizer]
modules:
  DicomImporter: {modalities: [CT]}
  RtstructImporter: {on_multiple: %s, write_label_map: true}
  DataOrganizer:
    targets:
      "dicomseg:origin=rtstruct": "{SeriesInstanceUID}/rois.seg.dcm"
      "nifti:origin=rtstruct": "{SeriesInstanceUID}/rois.nii.gz"
"""


def structure_set(series: SyntheticSeries, path: Path, time: str = "120000") -> tuple[pydicom.Dataset, np.ndarray]:
    """An RT Structure Set of a box (HEART) and a ball (LUNG) on the series; returns it and the label array."""
    (indexed,) = scan_folder(series.directory).series.values()
    grid = indexed.reference_image()
    size = grid.GetSize()
    z, y, x = np.mgrid[: size[2], : size[1], : size[0]]
    labels = np.zeros((size[2], size[1], size[0]), dtype=np.uint8)
    labels[3:7, 4:12, 5:14] = 1
    labels[(z - 8) ** 2 + (y - 20) ** 2 / 4 + (x - 20) ** 2 / 4 <= 9] = 2
    image = sitk.GetImageFromArray(labels)
    image.CopyInformation(grid)
    dataset = encode_rtstruct(image, indexed.headers(), {1: "HEART", 2: "LUNG"}, AlgorithmInfo("Test", "1")).dataset
    dataset.StructureSetTime = time
    dataset.save_as(path, enforce_file_format=True)
    return dataset, labels


def run(folder: Path, out: Path, on_multiple: str = "error") -> dict:
    config = out.parent / "rtstruct_import.yml"
    config.write_text(WORKFLOW % on_multiple)
    run_workflow(config, RunOptions(folder, out), ProgressPrinter(quiet=True))
    (series,) = json.loads((out / "mhub_report.json").read_text())["series"]
    return series


@pytest.fixture()
def case(tmp_path):
    series = write_ct_series(tmp_path / "in" / "ct", shape=(12, 32, 32), seed=4)
    dataset, labels = structure_set(series, tmp_path / "in" / "rs.dcm")
    return series, dataset, labels


def test_rois_become_segments_named_by_their_codes(case, tmp_path):
    series, _, labels = case
    result = run(tmp_path / "in", tmp_path / "out")
    assert result["status"] == "done", result
    seg = hd.seg.segread(tmp_path / "out" / series.series_uid / "rois.seg.dcm")
    grid = scan_folder(series.directory).series[series.series_uid].reference_image()
    for number, value in zip(seg.segment_numbers, (1, 2), strict=True):
        mask = sitk.GetArrayFromImage(segment_mask(seg, number, grid)).astype(bool)
        assert np.array_equal(mask, labels == value)
    assert [seg.get_segment_description(n).segment_label for n in seg.segment_numbers] == ["Heart", "Lung"]
    label_map = sitk.ReadImage(str(tmp_path / "out" / series.series_uid / "rois.nii.gz"))
    assert np.array_equal(sitk.GetArrayFromImage(label_map), labels)  # ROI numbers 1, 2 = the labels here


def test_overlapping_rois_give_segments_but_no_label_map(tmp_path):
    series = write_ct_series(tmp_path / "in" / "ct", shape=(12, 32, 32), seed=6)
    dataset, _ = structure_set(series, tmp_path / "in" / "rs.dcm")
    dataset.ROIContourSequence[1].ContourSequence.extend(dataset.ROIContourSequence[0].ContourSequence)
    dataset.save_as(tmp_path / "in" / "rs.dcm", enforce_file_format=True)
    result = run(tmp_path / "in", tmp_path / "out")
    assert result["status"] == "done"
    assert "no label map written: ROIs of the RT Structure Set overlap" in result["warnings"]
    assert [o["path"].rsplit("/", 1)[-1] for o in result["outputs"]] == ["rois.seg.dcm"]


def test_two_structure_sets_need_a_choice(case, tmp_path):
    series, _, _ = case
    newer, _ = structure_set(series, tmp_path / "in" / "rs-newer.dcm", time="130000")
    refused = run(tmp_path / "in", tmp_path / "out")
    assert refused["status"] == "failed" and "2 RT Structure Sets reference series" in refused["error"]
    chosen = run(tmp_path / "in", tmp_path / "out2", on_multiple="latest")
    assert chosen["status"] == "done"
    seg = pydicom.dcmread(tmp_path / "out2" / series.series_uid / "rois.seg.dcm")
    assert seg.ContentDescription.endswith(newer.StructureSetLabel)


def test_roi_in_another_frame_of_reference_fails(case, tmp_path):
    _, dataset, _ = case
    dataset.StructureSetROISequence[1].ReferencedFrameOfReferenceUID = hd.UID()
    dataset.save_as(tmp_path / "in" / "rs.dcm", enforce_file_format=True)
    result = run(tmp_path / "in", tmp_path / "out")
    assert result["status"] == "failed"
    assert "ROI 2 (LUNG) is in another frame of reference" in result["error"]


def test_contours_between_slices_fail_and_points_are_ignored(case, tmp_path):
    series, dataset, _ = case
    contours = dataset.ROIContourSequence[0].ContourSequence
    point = pydicom.Dataset()
    point.ContourGeometricType = "POINT"
    point.NumberOfContourPoints = 1
    point.ContourData = list(np.asarray(contours[0].ContourData, dtype=float)[:3])
    contours.append(point)
    dataset.save_as(tmp_path / "in" / "rs.dcm", enforce_file_format=True)
    warned = run(tmp_path / "in", tmp_path / "out")
    assert warned["status"] == "done"
    assert any("ROI 1 (HEART): 1 contour(s) without area ignored" in w for w in warned["warnings"])

    shifted = np.asarray(contours[0].ContourData, dtype=float).reshape(-1, 3)
    spacing = scan_folder(series.directory).series[series.series_uid].reference_image().GetSpacing()[2]
    shifted[:, 2] += spacing / 2
    contours[0].ContourData = [f"{v:.4f}" for v in shifted.ravel()]
    dataset.save_as(tmp_path / "in" / "rs.dcm", enforce_file_format=True)
    failed = run(tmp_path / "in", tmp_path / "out2")
    assert failed["status"] == "failed" and "not in a slice plane" in failed["error"]


def test_a_series_without_structure_set_fails_with_the_reason(tmp_path):
    series = write_ct_series(tmp_path / "in", shape=(12, 32, 32), seed=5)
    result = run(tmp_path / "in", tmp_path / "out")
    assert result["status"] == "failed"
    assert f"no RT Structure Set in the input folder references series {series.series_uid}" in result["error"]
