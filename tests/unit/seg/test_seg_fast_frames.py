"""The SEG encoder (frames assembled by mhubio.seg.frames) against highdicom encoding the same label map:
the same dataset element for element, the same pixels per segment on read-back, and valid for dciodvfy."""

from __future__ import annotations

import copy
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from mhubio.core.algorithm import AlgorithmFamily
from mhubio.core.data import AlgorithmInfo
from mhubio.geometry import reference_image, sort_datasets
from mhubio.seg import SegOptions, SegResult, encode_segmentation, load_source_images
from mhubio.segdb import segment_ids
from mhubio.synthetic import write_ct_series
from tests.helpers import dciodvfy_errors

ALGORITHM = AlgorithmInfo("Segmenter", "1.0", AlgorithmFamily.ARTIFICIAL_INTELLIGENCE)
SEGMENTS = {1: "LIVER", 2: "SPLEEN", 3: "LEFT_KIDNEY", 4: "RIGHT_KIDNEY"}
GENERATED = {"ContentDate", "ContentTime", "DimensionOrganizationUID", "InstanceCreationDate", "InstanceCreationTime",
             "ContributionDateTime"}
"""Values highdicom generates per call (dates, times and the dimension organization's UID)."""


def _series(root: Path, shape: tuple[int, int, int], order: str = "ascending"):
    series = write_ct_series(root, shape=shape, spacing=(0.8, 0.8, 2.5), seed=1, slice_order=order)
    return series, load_source_images(series.files)


def _labels(shape: tuple[int, int, int], values: list[int], seed: int = 0) -> sitk.Image:
    """Boxes of ``values`` at random places (later values cover earlier ones), slice 0 left empty."""
    rng = np.random.default_rng(seed)
    array = np.zeros(shape, dtype=np.uint8)
    for value in values:
        z, y, x = (int(rng.integers(1, n)) for n in shape)
        array[z:z + 3, max(y - 3, 0):y + 2, max(x - 4, 0):x + 1] = value
    return sitk.GetImageFromArray(array)


def _on_grid(labels: sitk.Image, series) -> sitk.Image:
    image = sitk.GetImageFromArray(sitk.GetArrayFromImage(labels))
    image.SetOrigin(series.origin)
    image.SetSpacing(series.spacing)
    image.SetDirection(series.direction)
    return image


def _highdicom(result: SegResult, sources: list[pydicom.Dataset], labels: sitk.Image) -> hd.seg.Segmentation:
    """highdicom's own encoding of the label map with the fast result's segments, UIDs and descriptive values."""
    seg = result.dataset
    numbers = result.segment_numbers.values()
    lut = np.zeros(max(result.segment_numbers, default=0) + 256, dtype=np.uint8 if max(numbers) < 256 else np.uint16)
    for value, number in result.segment_numbers.items():
        lut[value] = number
    return hd.seg.Segmentation(
        source_images=sort_datasets(sources),
        pixel_array=lut[sitk.GetArrayFromImage(labels)],
        segmentation_type=seg.SegmentationType,
        segment_descriptions=[hd.seg.SegmentDescription.from_dataset(copy.deepcopy(item))
                              for item in seg.SegmentSequence if item.SegmentNumber > 0],
        series_instance_uid=seg.SeriesInstanceUID, series_number=seg.SeriesNumber,
        sop_instance_uid=seg.SOPInstanceUID, instance_number=seg.InstanceNumber, manufacturer=seg.Manufacturer,
        manufacturer_model_name=seg.ManufacturerModelName, software_versions=seg.SoftwareVersions,
        device_serial_number=seg.DeviceSerialNumber, content_description=seg.ContentDescription,
        content_label=seg.ContentLabel, content_creator_name=seg.ContentCreatorName,
        series_description=seg.SeriesDescription, omit_empty_frames=True,
    )


def _differences(ours: pydicom.Dataset, theirs: pydicom.Dataset, path: str = "") -> list[str]:
    """Keywords (with their sequence path) whose values differ, generated values and Pixel Data aside."""
    found = []
    for keyword in sorted(set(ours.dir()) | set(theirs.dir())):
        if keyword in GENERATED or keyword == "PixelData":
            continue
        if keyword not in ours or keyword not in theirs:
            found.append(f"{path}{keyword} (missing)")
            continue
        mine, other = ours[keyword], theirs[keyword]
        if mine.VR == "SQ":
            if len(mine.value) != len(other.value):
                found.append(f"{path}{keyword} (length)")
                continue
            for index, (a, b) in enumerate(zip(mine.value, other.value, strict=True)):
                found += _differences(a, b, f"{path}{keyword}[{index}].")
        elif mine.value != other.value:
            found.append(f"{path}{keyword}")
    return found


def _assert_as_highdicom(result: SegResult, sources, labels: sitk.Image, tmp_path: Path) -> Path:
    ours_path, theirs_path = tmp_path / "ours.dcm", tmp_path / "highdicom.dcm"
    result.dataset.save_as(ours_path, enforce_file_format=True)
    _highdicom(result, sources, labels).save_as(theirs_path, enforce_file_format=True)
    ours, theirs = pydicom.dcmread(ours_path), pydicom.dcmread(theirs_path)
    assert _differences(ours, theirs) == []
    assert ours.NumberOfFrames == theirs.NumberOfFrames
    assert len(result.dataset.PerFrameFunctionalGroupsSequence) == theirs.NumberOfFrames  # readable in memory too
    assert np.array_equal(ours.pixel_array, theirs.pixel_array)
    ours_seg, theirs_seg = hd.seg.segread(ours_path), hd.seg.segread(theirs_path)
    uids = [s.SOPInstanceUID for s in sources]
    for number in theirs_seg.segment_numbers:
        expected = theirs_seg.get_pixels_by_source_instance(uids, segment_numbers=[number])
        assert np.array_equal(ours_seg.get_pixels_by_source_instance(uids, segment_numbers=[number]), expected)
    assert dciodvfy_errors(ours_path) == dciodvfy_errors(theirs_path)
    return ours_path


@pytest.mark.parametrize("kind", ["BINARY", "LABELMAP"])
def test_many_segments_equal_highdicom_and_pass_dciodvfy(tmp_path, kind):
    series, sources = _series(tmp_path / "ct", (8, 20, 24), order="descending")
    labels = _on_grid(_labels((8, 20, 24), [1, 2, 3, 4, 2]), series)
    result = encode_segmentation(labels, sources, SEGMENTS, ALGORITHM, SegOptions(segmentation_type=kind))
    assert result.dataset.NumberOfFrames > 1
    path = _assert_as_highdicom(result, sources, labels, tmp_path)
    if kind == "BINARY":  # dciodvfy does not know LABELMAP's background segment 0 (same errors as highdicom's)
        assert dciodvfy_errors(path) == []


def test_labelmap_of_more_than_255_segments_has_16_bit_frames_equal_highdicom(tmp_path):
    shape = (6, 24, 24)
    series, sources = _series(tmp_path / "ct", shape)
    ids = segment_ids()
    values = np.arange(1, 301)
    array = np.zeros(shape, dtype=np.uint16)
    array[1:].flat[: 5 * 300] = np.repeat(values, 5)  # 300 segments on planes 1-3
    labels = _on_grid(sitk.GetImageFromArray(array), series)
    segments = {int(v): ids[int(v) % len(ids)] for v in values}
    result = encode_segmentation(labels, sources, segments, ALGORITHM, SegOptions(segmentation_type="LABELMAP"))
    assert type(result.dataset) is pydicom.Dataset  # the assembled frames, not highdicom's own
    assert max(result.segment_numbers.values()) == 300
    assert result.dataset.BitsAllocated == 16
    assert result.dataset.NumberOfFrames == 3
    _assert_as_highdicom(result, sources, labels, tmp_path)


@pytest.mark.parametrize("kind", ["BINARY", "LABELMAP"])
def test_empty_segments_kept_equal_highdicom(tmp_path, kind):
    series, sources = _series(tmp_path / "ct", (6, 16, 16))
    labels = _on_grid(_labels((6, 16, 16), [1, 3]), series)
    result = encode_segmentation(labels, sources, SEGMENTS, ALGORITHM,
                                 SegOptions(segmentation_type=kind, keep_empty=True))
    assert sorted(result.segment_numbers) == [1, 2, 3, 4]
    _assert_as_highdicom(result, sources, labels, tmp_path)


def test_single_segment_equals_highdicom(tmp_path):
    series, sources = _series(tmp_path / "ct", (5, 16, 16))
    labels = _on_grid(_labels((5, 16, 16), [2]), series)
    result = encode_segmentation(labels, sources, SEGMENTS, ALGORITHM)
    assert result.dropped == ["LIVER", "LEFT_KIDNEY", "RIGHT_KIDNEY"]
    _assert_as_highdicom(result, sources, labels, tmp_path)


def test_frames_of_odd_pixel_count_pack_contiguously(tmp_path):
    """5 x 7 pixels per frame: 1-bit frames are not byte aligned and run on across bytes."""
    series, sources = _series(tmp_path / "ct", (6, 5, 7))
    array = np.zeros((6, 5, 7), dtype=np.uint8)
    array[1:4, 1:4, 2:6] = 1
    array[2:5, 2:5, 0:3] = 2
    array[3, 0, 6] = 3
    labels = _on_grid(sitk.GetImageFromArray(array), series)
    result = encode_segmentation(labels, sources, SEGMENTS, ALGORITHM)
    assert result.dataset.NumberOfFrames % 8 != 0
    path = _assert_as_highdicom(result, sources, labels, tmp_path)
    assert dciodvfy_errors(path) == []


@pytest.mark.parametrize("filled", [(1, 2, 4), (1, 3), (2,)])
@pytest.mark.parametrize("kind", ["BINARY", "LABELMAP"])
def test_planes_with_gaps_equal_highdicom(tmp_path, kind, filled):
    """Frames on irregularly or regularly spaced planes: dimension indices count only planes with frames, and
    the Dimension Organization Type is 3D only for regular spacing, as in highdicom."""
    series, sources = _series(tmp_path / "ct", (6, 12, 12))
    array = np.zeros((6, 12, 12), dtype=np.uint8)
    for plane in filled:
        array[plane, 2:6, 3:8] = 2
    labels = _on_grid(sitk.GetImageFromArray(array), series)
    result = encode_segmentation(labels, sources, SEGMENTS, ALGORITHM, SegOptions(segmentation_type=kind))
    _assert_as_highdicom(result, sources, labels, tmp_path)


@pytest.mark.parametrize("kind", ["BINARY", "LABELMAP"])
def test_a_plain_save_writes_a_dicom_file_with_preamble_and_meta(tmp_path, kind):
    """``result.dataset.save_as(path)`` without ``enforce_file_format`` gives a readable DICOM file either way."""
    series, sources = _series(tmp_path / "ct", (6, 16, 16))
    labels = _on_grid(_labels((6, 16, 16), [1, 2]), series)
    result = encode_segmentation(labels, sources, SEGMENTS, ALGORITHM, SegOptions(segmentation_type=kind))
    path = tmp_path / "plain.dcm"
    result.dataset.save_as(path)
    assert path.read_bytes()[128:132] == b"DICM"
    assert pydicom.dcmread(path).SOPInstanceUID == result.dataset.SOPInstanceUID


@pytest.mark.parametrize("kind", ["BINARY", "LABELMAP"])
def test_single_frame_sources_take_the_assembled_frames(tmp_path, kind):
    """The comparisons above test mhubio.seg.frames only if the encoder uses it: it returns a plain dataset."""
    series, sources = _series(tmp_path / "ct", (4, 8, 8))
    labels = _on_grid(_labels((4, 8, 8), [1, 2]), series)
    result = encode_segmentation(labels, sources, SEGMENTS, ALGORITHM, SegOptions(segmentation_type=kind))
    assert type(result.dataset) is pydicom.Dataset
    assert result.dataset.SegmentationType == kind


@pytest.mark.parametrize("multi_segment", [False, True])
def test_items_spliced_from_the_first_equal_pydicom_encoding_each(tmp_path, monkeypatch, multi_segment):
    """Per-plane items are spliced from the first item of a probe on two planes (source UIDs and positions of
    other lengths) and are byte for byte what pydicom writes for each item of highdicom's probe on every plane;
    only the first and the check item are encoded."""
    from mhubio.seg import frames

    series, sources = _series(tmp_path / "ct", (7, 8, 8))
    for index, source in enumerate(sources):  # UIDs and position strings of different lengths
        source.SOPInstanceUID = f"1.2.3.{'4' * (index + 1)}"
        source.ImagePositionPatient = [-12.5 + index * 1e-4 * index, 0, 2.5 * index]
    planes = frames.SourcePlanes.of(sort_datasets(sources))
    assert planes is not None
    every_plane = _probe([frames._one_pixel(source) for source in planes.sources])
    expected = [frames._encode_item(copy.deepcopy(item), multi_segment)
                for item in every_plane.PerFrameFunctionalGroupsSequence]
    assert len({len(t.data) for t in expected}) > 1
    calls = []
    encode_item = frames._encode_item

    def counted(item, multi):
        calls.append(item)
        return encode_item(item, multi)

    monkeypatch.setattr(frames, "_encode_item", counted)
    two_planes = _probe(planes.probed())
    variable = [planes.plane_elements(index) for index in planes.order.tolist()]
    assert frames._item_templates(two_planes.PerFrameFunctionalGroupsSequence, variable, multi_segment) == expected
    assert len(calls) == 2


def test_sources_highdicom_refuses_are_left_to_highdicom(tmp_path):
    """Sources of two series, of two orientations or on one plane twice get no spliced frames: highdicom refuses
    them with its own message, as without the fast path."""
    from mhubio.seg import frames

    _, sources = _series(tmp_path / "ct", (4, 8, 8))
    assert frames.SourcePlanes.of(sources) is not None
    for change in ("SeriesInstanceUID", "ImageOrientationPatient", "ImagePositionPatient"):
        changed = [copy.deepcopy(s) for s in sources]
        changed[1].SeriesInstanceUID = "1.2.3" if change == "SeriesInstanceUID" else changed[1].SeriesInstanceUID
        if change == "ImageOrientationPatient":
            changed[1].ImageOrientationPatient = [0, 1, 0, 1, 0, 0]
        if change == "ImagePositionPatient":
            changed[1].ImagePositionPatient = changed[2].ImagePositionPatient
        assert frames.SourcePlanes.of(changed) is None
        labels = _labels((4, 8, 8), [1])
        with pytest.raises(ValueError):
            encode_segmentation(labels, changed, SEGMENTS, ALGORITHM)


@pytest.mark.parametrize("kind", ["BINARY", "LABELMAP"])
@pytest.mark.parametrize("spacing", ["computed", "irregular", "stated"])
def test_slice_spacing_from_every_plane_equals_highdicom(tmp_path, kind, spacing):
    """Spacing Between Slices depends on every plane: highdicom computes it unless the sources state it, so a
    regular series without it gets it, a series with a missing slice has none, and a stated one is kept."""
    _, sources = _series(tmp_path / "ct", (7, 12, 12))
    if spacing != "computed":
        del sources[3]
    for source in sources:
        if spacing != "stated":
            del source.SpacingBetweenSlices
    array = np.zeros((len(sources), 12, 12), dtype=np.uint8)
    array[1:5, 2:6, 3:8] = 2
    labels = sitk.GetImageFromArray(array)
    labels.CopyInformation(reference_image(sort_datasets(sources)))
    result = encode_segmentation(labels, sources, SEGMENTS, ALGORITHM, SegOptions(segmentation_type=kind))
    assert type(result.dataset) is pydicom.Dataset
    measures = result.dataset.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
    assert ("SpacingBetweenSlices" in measures) is (spacing != "irregular")
    _assert_as_highdicom(result, sources, labels, tmp_path)


def _probe(sources: list[pydicom.Dataset]) -> hd.seg.Segmentation:
    from mhubio.seg import frames

    return hd.seg.Segmentation(
        source_images=sources, pixel_array=frames.probe_array(len(sources), np.dtype("u1")),
        segmentation_type="BINARY", segment_descriptions=[_description()], series_instance_uid=hd.UID(),
        series_number=1, sop_instance_uid=hd.UID(), instance_number=1, manufacturer="m",
        manufacturer_model_name="m", software_versions="1", device_serial_number="1", omit_empty_frames=True,
    )


def _description() -> hd.seg.SegmentDescription:
    from mhubio.segdb import get_segment, to_segment_description

    return to_segment_description(get_segment("LIVER"), 1, None, hd.seg.SegmentAlgorithmTypeValues.MANUAL)
