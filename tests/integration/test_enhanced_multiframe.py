"""Enhanced multi-frame images in: the thresholder on Enhanced and Legacy Converted Enhanced CT, and the SEG of
an Enhanced MR and of a public Enhanced CT, referencing the multi-frame instance frame by frame."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import highdicom as hd
import numpy as np
import pytest
import SimpleITK as sitk
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from mhubio.core.algorithm import AlgorithmFamily
from mhubio.core.data import AlgorithmInfo
from mhubio.dicom import QCCheck, QCConfig, read_series_image, run_qc, scan_folder
from mhubio.seg import encode_segmentation
from mhubio.synthetic import write_ct_series
from mhubio.synthetic.mr import write_mr_series
from tests.helpers import REAL_CT, dciodvfy_errors, dcmqi_segments, read_report, run_mhub, tool
from tests.support.enhanced import MultiFrameKind, public_enhanced_ct, split_frames, write_multi_frame

ALGORITHM = AlgorithmInfo("thresholder", "1.0.0", AlgorithmFamily.HISTOGRAM_ANALYSIS)


def _thresholder_run(input_dir: Path, out: Path, *extra: str) -> tuple[Path, sitk.Image]:
    work = out.with_name(out.name + "-work")
    done = run_mhub("run", "--model", "thresholder", "--input", input_dir, "--output", out, "--work-dir", work,
                    "--keep-work", *extra)
    assert done.returncode == 0, done.stdout
    (series,) = read_report(out)["series"]
    assert series["status"] == "done", series
    assert not [w for w in series["warnings"] if "no table rows" in w], series["warnings"]
    (seg_path,) = sorted(out.glob("*/thresholder.seg.dcm"))
    (labels,) = sorted(work.rglob("Thresholder.seg.nii"))
    return seg_path, sitk.ReadImage(str(labels))


def _frame_references(seg: hd.seg.Segmentation) -> list[tuple[str, int, int, tuple[float, ...]]]:
    """(referenced SOP instance, referenced frame, segment, SEG frame position) of every SEG frame."""
    found = []
    shared = seg.SharedFunctionalGroupsSequence[0]
    for item in seg.PerFrameFunctionalGroupsSequence:
        (derivation,) = item.DerivationImageSequence
        (source,) = derivation.SourceImageSequence
        frame = int(source.ReferencedFrameNumber)  # exactly one source frame per SEG frame
        identification = item.get("SegmentIdentificationSequence") or shared.SegmentIdentificationSequence
        number = int(identification[0].ReferencedSegmentNumber)
        position = tuple(float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient)
        found.append((str(source.ReferencedSOPInstanceUID), frame, number, position))
    return found


def _check_frame_references(seg_path: Path, source: Path) -> None:
    """Every SEG frame references the multi-frame source and the source frame at its own position."""
    assert dciodvfy_errors(seg_path) == []
    image = dcmread(source, stop_before_pixels=True)
    seg = hd.seg.segread(seg_path)
    (series,) = seg.ReferencedSeriesSequence
    assert [str(i.ReferencedSOPInstanceUID) for i in series.ReferencedInstanceSequence] == [image.SOPInstanceUID]
    positions = {
        number: tuple(float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient)
        for number, item in enumerate(image.PerFrameFunctionalGroupsSequence, start=1)
    }
    references = _frame_references(seg)
    assert references
    for uid, frame, _, position in references:
        assert uid == image.SOPInstanceUID
        assert np.allclose(positions[frame], position, atol=1e-4)


def _check_voxels(seg_path: Path, labels: sitk.Image, values: dict[str, int]) -> None:
    """Each SEG frame equals its slice of ``labels`` (found by the frame's position) for the segment's value;
    the frames left out hold no voxel of their segment."""
    seg = hd.seg.segread(seg_path)
    array = sitk.GetArrayFromImage(labels)
    pixels = seg.pixel_array.reshape((-1, *array.shape[1:]))
    seen = set()
    for k, (_, _, number, position) in enumerate(_frame_references(seg)):
        value = values[seg.get_segment_description(number).tracking_id]
        column, row, z = labels.TransformPhysicalPointToIndex(position)
        assert (column, row) == (0, 0)
        assert np.array_equal(pixels[k].astype(bool), array[z] == value)
        seen.add((value, z))
    for value in values.values():
        for z in range(array.shape[0]):
            assert (value, z) in seen or not np.any(array[z] == value)


@pytest.mark.parametrize("kind", [MultiFrameKind.LEGACY_CT, MultiFrameKind.ENHANCED_CT])
def test_thresholder_on_multi_frame_ct_equals_single_frame_run(tmp_path, kind):
    series = write_ct_series(tmp_path / "single", shape=(14, 40, 40), seed=5, slice_order="descending")
    multi = tmp_path / "multi" / "image.dcm"
    write_multi_frame(series.files, multi, kind)

    _, single_labels = _thresholder_run(series.directory, tmp_path / "out-single")
    seg_path, multi_labels = _thresholder_run(multi.parent, tmp_path / "out-multi")

    assert np.array_equal(sitk.GetArrayFromImage(single_labels), sitk.GetArrayFromImage(multi_labels))
    for get in (sitk.Image.GetOrigin, sitk.Image.GetSpacing, sitk.Image.GetDirection):
        assert np.allclose(get(single_labels), get(multi_labels), rtol=0, atol=1e-9)
    _check_frame_references(seg_path, multi)
    _check_voxels(seg_path, multi_labels, {"BODY": 1, "LUNG": 2, "BONE": 3})
    array = sitk.GetArrayFromImage(multi_labels)
    seg = hd.seg.segread(seg_path)
    for number, image in dcmqi_segments(seg_path, tmp_path / "dcmqi").items():
        value = {"BODY": 1, "LUNG": 2, "BONE": 3}[seg.get_segment_description(number).tracking_id]
        assert int(sitk.GetArrayViewFromImage(image).astype(bool).sum()) == int(np.count_nonzero(array == value))
        for get in (sitk.Image.GetOrigin, sitk.Image.GetSpacing, sitk.Image.GetDirection):
            assert np.allclose(get(image), get(multi_labels), rtol=0, atol=1e-3)


def test_enhanced_mr_seg_references_frames(tmp_path):
    series = write_mr_series(tmp_path / "single", shape=(12, 32, 32), seed=2)
    multi = tmp_path / "multi" / "image.dcm"
    write_multi_frame(list(reversed(series.files)), multi, MultiFrameKind.LEGACY_MR)
    (indexed,) = scan_folder(multi.parent).series.values()
    (single,) = scan_folder(series.directory).series.values()
    accepted = run_qc(indexed).accepted
    assert accepted is not None
    image = read_series_image(accepted)
    reference = read_series_image(run_qc(single).accepted)  # type: ignore[arg-type]
    array = sitk.GetArrayFromImage(image)
    assert np.array_equal(array, sitk.GetArrayFromImage(reference))
    labels = sitk.GetImageFromArray((array > np.percentile(array, 70)).astype(np.uint8))
    labels.CopyInformation(image)
    seg_path = tmp_path / "mr.seg.dcm"
    encode_segmentation(labels, accepted.headers(), {1: "BODY"}, ALGORITHM).dataset.save_as(seg_path)
    _check_frame_references(seg_path, multi)
    _check_voxels(seg_path, labels, {"BODY": 1})


def test_public_enhanced_ct(tmp_path):
    source = public_enhanced_ct()
    if source is None:
        pytest.skip("pydicom-data (pydicom's test corpus) is not installed")
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(source, folder / source.name)
    (indexed,) = scan_folder(folder).series.values()
    result = run_qc(indexed, QCConfig(min_slices=2))
    assert result.accepted is not None, result.message
    image = read_series_image(result.accepted)

    ours = sitk.GetArrayFromImage(image)
    assert ours.shape == (2, 512, 512)
    # highdicom's own reader: the same voxels at the same patient positions (its array is slice, row, column).
    volume = hd.imread(folder / source.name).get_volume(dtype=np.float64)
    theirs = sitk.GetImageFromArray(np.asarray(volume.array))
    axes = np.asarray(volume.affine)[:3, [2, 1, 0]]
    spacing = np.linalg.norm(axes, axis=0)
    theirs.SetSpacing(spacing.tolist())
    theirs.SetDirection((axes / spacing).ravel().tolist())
    theirs.SetOrigin(np.asarray(volume.affine)[:3, 3].tolist())
    on_our_grid = sitk.Resample(theirs, image, sitk.Transform(), sitk.sitkNearestNeighbor, np.nan, sitk.sitkFloat64)
    assert np.array_equal(sitk.GetArrayFromImage(on_our_grid), ours.astype(np.float64))

    labels = sitk.GetImageFromArray((ours > 0).astype(np.uint8))
    labels.CopyInformation(image)
    seg_path = tmp_path / "ect.seg.dcm"
    encode_segmentation(labels, result.accepted.headers(), {1: "BODY"}, ALGORITHM).dataset.save_as(seg_path)
    _check_frame_references(seg_path, folder / source.name)
    _check_voxels(seg_path, labels, {"BODY": 1})


def _numbers(items: Sequence[Dataset]) -> dict[str, float]:
    """The NUM content items among ``items``, by concept code value."""
    return {
        item.ConceptNameCodeSequence[0].CodeValue: float(item.MeasuredValueSequence[0].NumericValue)
        for item in items if item.ValueType == "NUM"
    }


def _library_frames(sr: Dataset) -> list[tuple[str, int, tuple[float, float, float]]]:
    """(referenced SOP instance, frame number, Image Position descriptors) of every Image Library entry."""
    (library,) = [item for item in sr.ContentSequence if item.ConceptNameCodeSequence[0].CodeValue == "111028"]
    found = []
    for group in library.ContentSequence:
        # descriptors the frames share are stated once on the group, the others on each entry
        shared = _numbers(group.get("ContentSequence", []))
        for entry in group.get("ContentSequence", []):
            if entry.ValueType != "IMAGE":
                continue
            reference = entry.ReferencedSOPSequence[0]
            position = {**shared, **_numbers(entry.get("ContentSequence", []))}
            found.append((str(reference.ReferencedSOPInstanceUID), int(reference.ReferencedFrameNumber),
                          (position["110901"], position["110902"], position["110903"])))
    return found


def test_radiomics_sr_lists_the_frames_of_the_multi_frame_image(tmp_path):
    pytest.importorskip("radiomics")
    from mhubio.radiomics import extract_features
    from mhubio.sr.radiomics import encode_radiomics_sr
    from tests.radiomics_helpers import SMALL_SHAPE, SMALL_SPACING

    series = write_ct_series(tmp_path / "single", shape=SMALL_SHAPE, spacing=SMALL_SPACING, seed=2)
    multi = tmp_path / "multi" / "image.dcm"
    write_multi_frame(series.files, multi, MultiFrameKind.LEGACY_CT)
    (indexed,) = scan_folder(multi.parent).series.values()
    accepted = run_qc(indexed).accepted
    assert accepted is not None
    image = read_series_image(accepted)
    labels = sitk.GetImageFromArray(series.phantom.labels.astype(np.uint8))
    labels.CopyInformation(image)
    segments = series.phantom.label_names
    seg_path = tmp_path / "seg.dcm"
    encode_segmentation(labels, accepted.headers(), segments, ALGORITHM).dataset.save_as(seg_path)
    features = extract_features(image, labels, segments)
    seg = dcmread(seg_path, stop_before_pixels=True)
    encoded = encode_radiomics_sr(features.segments, seg, list(accepted.headers()), algorithm_name="pyradiomics",
                                  algorithm_version=features.algorithm_version)
    sr_path = tmp_path / "radiomics.sr.dcm"
    encoded.dataset.save_as(sr_path, enforce_file_format=True)

    assert dciodvfy_errors(sr_path) == []
    source = dcmread(multi, stop_before_pixels=True)
    expected = [
        (source.SOPInstanceUID, number, tuple(float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient))
        for number, item in enumerate(source.PerFrameFunctionalGroupsSequence, start=1)
    ]
    assert _library_frames(dcmread(sr_path)) == expected
    done = subprocess.run([tool("tid1500reader"), "--inputDICOM", str(sr_path), "--outputMetadata",
                           str(tmp_path / "sr.json")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout
    back = json.loads((tmp_path / "sr.json").read_text())
    assert len(back["Measurements"]) == len(features.segments)
    assert set(back["imageLibrary"]) == {source.SOPInstanceUID}


def test_radiomics_model_on_a_multi_frame_ct_and_its_seg(tmp_path):
    pytest.importorskip("radiomics")
    from tests.radiomics_helpers import SMALL_SHAPE, SMALL_SPACING

    series = write_ct_series(tmp_path / "single", shape=SMALL_SHAPE, spacing=SMALL_SPACING, seed=3)
    folder = tmp_path / "in"
    multi = folder / "ct" / "image.dcm"
    write_multi_frame(series.files, multi, MultiFrameKind.ENHANCED_CT)
    (indexed,) = scan_folder(multi.parent).series.values()
    accepted = run_qc(indexed).accepted
    assert accepted is not None
    image = read_series_image(accepted)
    labels = sitk.GetImageFromArray(series.phantom.labels.astype(np.uint8))
    labels.CopyInformation(image)
    encoded = encode_segmentation(labels, accepted.headers(), series.phantom.label_names, ALGORITHM)
    (folder / "seg").mkdir()
    encoded.dataset.save_as(folder / "seg" / "seg.dcm", enforce_file_format=True)

    out = tmp_path / "out"
    done = run_mhub("run", "--model", "pyradiomics", "--input", folder, "--output", out)
    assert done.returncode == 0, done.stdout
    (result,) = [s for s in read_report(out)["series"] if s["status"] == "done"]
    (sr_path,) = out.glob(f"{result['series_uid']}/*.radiomics.sr.dcm")
    assert dciodvfy_errors(sr_path) == []
    frames = _library_frames(dcmread(sr_path))
    assert [(uid, number) for uid, number, _ in frames] == [
        (str(dcmread(multi, stop_before_pixels=True).SOPInstanceUID), k) for k in range(1, SMALL_SHAPE[0] + 1)]
    groups = hd.sr.srread(sr_path).content.get_volumetric_roi_measurement_groups()
    assert len(groups) == len(encoded.segment_numbers)


def test_thresholder_on_the_public_enhanced_ct_equals_its_frames_run_as_single_frame_images(tmp_path):
    source = public_enhanced_ct()
    if source is None:
        pytest.skip("pydicom-data (pydicom's test corpus) is not installed")
    multi = tmp_path / "multi"
    multi.mkdir()
    shutil.copy(source, multi / source.name)
    split_frames(source, tmp_path / "single")
    two_slices = ("--set", 'DicomImporter.qc={"min_slices": 2}')

    _, single_labels = _thresholder_run(tmp_path / "single", tmp_path / "out-single", *two_slices)
    seg_path, multi_labels = _thresholder_run(multi, tmp_path / "out-multi", *two_slices)

    array = sitk.GetArrayFromImage(multi_labels)
    assert np.count_nonzero(array) > 0
    assert np.array_equal(sitk.GetArrayFromImage(single_labels), array)
    for get in (sitk.Image.GetOrigin, sitk.Image.GetSpacing, sitk.Image.GetDirection):
        assert np.allclose(get(single_labels), get(multi_labels), rtol=0, atol=1e-9)
    _check_frame_references(seg_path, multi / source.name)
    _check_voxels(seg_path, multi_labels, {"BODY": 1, "LUNG": 2, "BONE": 3})


@pytest.mark.slow
def test_real_ct_as_legacy_converted_enhanced_ct(tmp_path):
    if not REAL_CT.is_dir():
        pytest.skip("shared real CT not present")
    (indexed,) = scan_folder(REAL_CT).series.values()
    multi = tmp_path / "multi" / "ct.dcm"
    write_multi_frame(list(indexed.files), multi, MultiFrameKind.LEGACY_CT)

    _, single_labels = _thresholder_run(REAL_CT, tmp_path / "out-single")
    seg_path, multi_labels = _thresholder_run(multi.parent, tmp_path / "out-multi")

    assert np.array_equal(sitk.GetArrayFromImage(single_labels), sitk.GetArrayFromImage(multi_labels))
    for get in (sitk.Image.GetOrigin, sitk.Image.GetSpacing, sitk.Image.GetDirection):
        assert np.allclose(get(single_labels), get(multi_labels), rtol=0, atol=1e-9)
    _check_frame_references(seg_path, multi)
    _check_voxels(seg_path, multi_labels, {"BODY": 1, "LUNG": 2, "BONE": 3})


def test_a_series_mixing_single_and_multi_frame_images_is_skipped_by_name(tmp_path):
    series = write_ct_series(tmp_path / "in" / "single", shape=(12, 24, 24), seed=6)
    write_multi_frame(series.files, tmp_path / "in" / "multi" / "image.dcm", MultiFrameKind.LEGACY_CT,
                      series_uid=series.series_uid)
    out = tmp_path / "out"
    done = run_mhub("run", "--model", "thresholder", "--input", tmp_path / "in", "--output", out)
    assert done.returncode == 3, done.stdout
    (skipped,) = read_report(out)["skipped_series"]
    assert skipped["series_uid"] == series.series_uid
    assert skipped["check"] == "no_mixed_frames"
    assert "no_mixed_frames" in done.stdout


def test_public_enhanced_mr_without_functional_groups_is_rejected_by_name(tmp_path):
    found = get_testdata_file("emri_small.dcm", download=False)
    if found is None:
        pytest.skip("pydicom-data (pydicom's test corpus) is not installed")
    # pydicom's 10-frame Enhanced MR test image keeps no functional groups: its frames have no position.
    shutil.copy(found, tmp_path / "emri_small.dcm")
    (indexed,) = scan_folder(tmp_path).series.values()
    result = run_qc(indexed, QCConfig(min_slices=1))
    assert result.failed_check is QCCheck.SINGLE_FRAME
    assert "without per-frame plane positions" in result.message
