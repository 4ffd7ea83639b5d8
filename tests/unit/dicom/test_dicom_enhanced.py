"""Enhanced multi-frame images: frames indexed from the functional groups, QC per frame, volume read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import JPEGLSLossless, RLELossless

from mhubio.core.algorithm import AlgorithmFamily
from mhubio.dicom import QCCheck, QCConfig, QCStatus, read_series_image, run_qc, scan_folder
from mhubio.dicom.limits import declared_series_bytes
from mhubio.synthetic import write_ct_series
from tests.support.enhanced import MultiFrameKind, write_multi_frame

SHAPE = (12, 24, 24)


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    return write_ct_series(tmp_path_factory.mktemp("single"), shape=SHAPE, seed=7)


def _multi(single, folder: Path, **kwargs) -> Path:
    path = folder / "multi.dcm"
    write_multi_frame(single.files, path, MultiFrameKind.LEGACY_CT, **kwargs)
    return path


def _edit(path: Path, change) -> None:
    dataset = dcmread(path)
    change(dataset)
    dataset.save_as(path)


def test_frames_are_indexed_with_their_planes(single, tmp_path):
    path = _multi(single, tmp_path)
    scanned = scan_folder(tmp_path)
    (series,) = scanned.series.values()
    assert scanned.n_instances == 1
    assert len(series) == SHAPE[0]
    assert series.files == (path,) and series.sorted_files() == (path,)
    assert sorted(i.frame_number for i in series.instances) == list(range(1, SHAPE[0] + 1))
    (ordinary,) = scan_folder(single.directory).series.values()
    frames = series.sorted_instances()
    slices = ordinary.sorted_instances()
    assert [i.image_position for i in frames] == [i.image_position for i in slices]
    assert {(i.pixel_spacing, i.image_orientation, i.rescale_intercept) for i in frames} == {
        (i.pixel_spacing, i.image_orientation, i.rescale_intercept) for i in slices}
    assert declared_series_bytes(series.instances) == declared_series_bytes(ordinary.instances)
    assert series.geometry == ordinary.geometry


@pytest.mark.parametrize("transfer_syntax", [None, RLELossless, JPEGLSLossless])
def test_read_equals_single_frame_read_and_keeps_one_header(single, tmp_path, transfer_syntax):
    _multi(single, tmp_path, transfer_syntax=transfer_syntax)
    (series,) = scan_folder(tmp_path).series.values()
    result = run_qc(series)
    assert result.status is QCStatus.PASS, result.message
    (ordinary,) = scan_folder(single.directory).series.values()
    ours, reference = read_series_image(result.series), read_series_image(ordinary)
    assert np.array_equal(sitk.GetArrayFromImage(ours), sitk.GetArrayFromImage(reference))
    assert ours.GetOrigin() == reference.GetOrigin() and ours.GetSpacing() == reference.GetSpacing()
    (header,) = result.series.headers()
    assert "PixelData" not in header and int(header.NumberOfFrames) == SHAPE[0]


def test_per_frame_rescale_overrides_the_shared_one(single, tmp_path):
    path = _multi(single, tmp_path)

    def rescale_first_frame(dataset: Dataset) -> None:
        transformation = Dataset()
        transformation.RescaleSlope = 1
        transformation.RescaleIntercept = -1000
        transformation.RescaleType = "HU"
        dataset.PerFrameFunctionalGroupsSequence[0].PixelValueTransformationSequence = Sequence([transformation])

    _edit(path, rescale_first_frame)
    (series,) = scan_folder(tmp_path).series.values()
    (ordinary,) = scan_folder(single.directory).series.values()
    position = dcmread(path).PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0].ImagePositionPatient
    z = [i.image_position for i in series.sorted_instances()].index(tuple(float(v) for v in position))
    ours = sitk.GetArrayFromImage(read_series_image(series))
    reference = sitk.GetArrayFromImage(read_series_image(ordinary))
    assert np.array_equal(ours[z], reference[z] + 24)
    others = [k for k in range(SHAPE[0]) if k != z]
    assert np.array_equal(ours[others], reference[others])


def test_frame_positions_go_through_the_position_checks(single, tmp_path):
    path = _multi(single, tmp_path)

    def duplicate_position(dataset: Dataset) -> None:
        planes = [item.PlanePositionSequence[0] for item in dataset.PerFrameFunctionalGroupsSequence]
        planes[4].ImagePositionPatient = planes[5].ImagePositionPatient

    _edit(path, duplicate_position)
    result = run_qc(next(iter(scan_folder(tmp_path).series.values())))
    assert result.failed_check is QCCheck.UNIQUE_POSITIONS
    assert "multi.dcm frame" in result.message


def test_frame_orientations_go_through_the_orientation_check(single, tmp_path):
    path = _multi(single, tmp_path)

    def tilt_one_frame(dataset: Dataset) -> None:
        orientation = Dataset()
        orientation.ImageOrientationPatient = [1, 0, 0, 0, 0.8, 0.6]
        dataset.PerFrameFunctionalGroupsSequence[2].PlaneOrientationSequence = Sequence([orientation])

    _edit(path, tilt_one_frame)
    result = run_qc(next(iter(scan_folder(tmp_path).series.values())))
    assert result.failed_check is QCCheck.SINGLE_ORIENTATION


def test_series_mixing_single_and_multi_frame_instances_is_rejected(single, tmp_path):
    (ordinary,) = scan_folder(single.directory).series.values()
    _multi(single, tmp_path / "multi", series_uid=ordinary.series_uid)
    for file in single.files:
        (tmp_path / file.name).symlink_to(file)
    (series,) = scan_folder(tmp_path).series.values()
    result = run_qc(series)
    assert result.failed_check is QCCheck.NO_MIXED_FRAMES
    assert "rejected by QC check 'no_mixed_frames'" in result.message


def test_series_of_several_multi_frame_instances_is_rejected(single, tmp_path):
    uid = "1.2.826.0.1.3680043.8.498.1"
    write_multi_frame(single.files[:6], tmp_path / "a.dcm", MultiFrameKind.LEGACY_CT, series_uid=uid)
    write_multi_frame(single.files[6:], tmp_path / "b.dcm", MultiFrameKind.LEGACY_CT, series_uid=uid)
    result = run_qc(scan_folder(tmp_path).series[uid])
    assert result.failed_check is QCCheck.NO_MIXED_FRAMES
    assert "2 multi-frame instances" in result.message


def test_multi_frame_without_frame_planes_is_rejected(single, tmp_path):
    path = _multi(single, tmp_path)

    def drop_positions(dataset: Dataset) -> None:
        for item in dataset.PerFrameFunctionalGroupsSequence:
            del item.PlanePositionSequence

    _edit(path, drop_positions)
    result = run_qc(next(iter(scan_folder(tmp_path).series.values())))
    assert result.failed_check is QCCheck.SINGLE_FRAME


def test_functional_groups_not_matching_the_frame_count_reject_the_file(single, tmp_path):
    path = _multi(single, tmp_path)
    _edit(path, lambda dataset: dataset.PerFrameFunctionalGroupsSequence.pop())
    scanned = scan_folder(tmp_path)
    assert not scanned.series
    (issue,) = scanned.rejected_files
    assert "11 items for 12 frames" in issue.reason


def test_a_seg_with_plane_positions_stays_one_instance(single, tmp_path):
    from mhubio.core.data import AlgorithmInfo
    from mhubio.seg import encode_segmentation

    _multi(single, tmp_path / "image")
    (series,) = scan_folder(tmp_path / "image").series.values()
    image = read_series_image(series)
    labels = sitk.GetImageFromArray((sitk.GetArrayFromImage(image) > 0).astype(np.uint8))
    labels.CopyInformation(image)
    algorithm = AlgorithmInfo("test", "1", AlgorithmFamily.HISTOGRAM_ANALYSIS)
    seg = encode_segmentation(labels, series.headers(), {1: "BODY"}, algorithm).dataset
    seg.save_as(tmp_path / "seg.dcm")
    (indexed,) = scan_folder(tmp_path).series[seg.SeriesInstanceUID].instances
    assert indexed.frame_number is None and indexed.number_of_frames == int(seg.NumberOfFrames) > 1


def test_body_part_regression_names_multi_frame_input(single, tmp_path):
    from mhubio.bpr.series import read_ct_slices

    with pytest.raises(ValueError, match="enhanced multi-frame image"):
        read_ct_slices([_multi(single, tmp_path)])


def test_an_enhanced_image_of_one_frame_is_read_from_its_functional_groups(single, tmp_path):
    write_multi_frame(single.files[:1], tmp_path / "one.dcm", MultiFrameKind.LEGACY_CT)
    (series,) = scan_folder(tmp_path).series.values()
    (frame,) = series.instances
    assert frame.frame_number == 1 and frame.image_position is not None
    result = run_qc(series, QCConfig(min_slices=1))
    assert result.status is QCStatus.PASS, result.message
    (ordinary,) = scan_folder(single.directory).series.values()
    one = sitk.GetArrayFromImage(read_series_image(result.series))
    everything = sitk.GetArrayFromImage(read_series_image(ordinary))
    z = [i.sop_instance_uid for i in ordinary.sorted_instances()].index(
        str(dcmread(single.files[0], stop_before_pixels=True).SOPInstanceUID))
    assert np.array_equal(one[0], everything[z])
