"""mhubio.seg.decode (the SEG input of the radiomics model): masks and label maps on a reference grid."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pytest
import SimpleITK as sitk

from mhubio.geometry import reference_image
from mhubio.seg.codes import segment_names
from mhubio.seg.decode import OverlappingSegmentsError, decode_label_map, decode_segments
from mhubio.segdb import get_segment, to_segment_description
from tests.radiomics_helpers import make_ct_with_seg


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_ct_with_seg(tmp_path_factory.mktemp("decode"), seed=21, drop=("TRACHEA",), keep_empty=True)


def test_label_map_round_trips_through_the_seg(data):
    seg = hd.seg.segread(data.seg_path)
    labels, names = decode_label_map(seg, data.image)
    assert names == {data.segment_numbers[v]: n for v, n in data.segments.items()}
    expected = np.zeros(data.series.phantom.shape, np.uint8)
    for value, number in data.segment_numbers.items():
        expected[sitk.GetArrayViewFromImage(data.labels) == value] = number
    assert np.array_equal(sitk.GetArrayFromImage(labels), expected)
    assert labels.GetOrigin() == data.image.GetOrigin()


def test_masks_land_on_another_reference_grid(data):
    seg = hd.seg.segread(data.seg_path)
    coarse = sitk.Image([32, 32, 12], sitk.sitkUInt8)
    coarse.SetOrigin(data.image.GetOrigin())
    coarse.SetSpacing([s * 2 for s in data.image.GetSpacing()])
    decoded = decode_segments(seg, coarse)
    liver = next(d for d in decoded if d.segment_id == "LIVER")
    assert liver.mask.GetSize() == (32, 32, 12)
    expected = sitk.Resample(sitk.Cast(data.labels == data.series.phantom.label_value("LIVER"), sitk.sitkUInt8),
                             coarse, sitk.Transform(), sitk.sitkNearestNeighbor)
    assert np.array_equal(sitk.GetArrayFromImage(liver.mask), sitk.GetArrayFromImage(expected))
    trachea = next(d for d in decoded if d.segment_id == "TRACHEA")
    assert not sitk.GetArrayViewFromImage(trachea.mask).any()


def test_a_segment_with_unknown_codes_is_named_by_its_number(data):
    seg = hd.seg.segread(data.seg_path)
    item = seg.SegmentSequence[0]
    original = item.SegmentedPropertyTypeCodeSequence[0].CodeValue
    item.SegmentedPropertyTypeCodeSequence[0].CodeValue = "12345006"
    try:
        names = segment_names(seg)
        decoded = decode_segments(seg, data.image)
    finally:
        item.SegmentedPropertyTypeCodeSequence[0].CodeValue = original
    number = int(item.SegmentNumber)
    assert names[number] == f"segment-{number}"
    assert sorted(names) == sorted(int(i.SegmentNumber) for i in seg.SegmentSequence)
    (unknown,) = [d for d in decoded if d.number == number]
    value = next(v for v, n in data.segment_numbers.items() if n == number)
    assert np.array_equal(sitk.GetArrayViewFromImage(unknown.mask), sitk.GetArrayViewFromImage(data.labels) == value)


def test_two_segments_with_the_same_codes_are_named_by_their_numbers(data):
    seg = hd.seg.segread(data.seg_path)
    first, second = seg.SegmentSequence[0], seg.SegmentSequence[1]
    saved = second.SegmentedPropertyTypeCodeSequence
    second.SegmentedPropertyTypeCodeSequence = first.SegmentedPropertyTypeCodeSequence
    try:
        names = segment_names(seg)
    finally:
        second.SegmentedPropertyTypeCodeSequence = saved
    numbers = (int(first.SegmentNumber), int(second.SegmentNumber))
    assert [names[n] for n in numbers] == [f"segment-{n}" for n in numbers]
    assert sum(not n.startswith("segment-") for n in names.values()) == len(names) - 2


def test_overlapping_segments_cannot_form_a_label_map(data):
    headers = data.headers
    algorithm = hd.AlgorithmIdentificationSequence(
        "Overlap test", hd.sr.CodedConcept("123110", "DCM", "Artificial Intelligence"), "1"
    )
    shape = data.series.phantom.shape
    body = np.ones(shape, np.uint8)
    liver = data.series.phantom.mask("LIVER").astype(np.uint8)
    overlapping = hd.seg.Segmentation(
        source_images=headers, pixel_array=np.stack([body, liver], axis=-1), segmentation_type="BINARY",
        segment_descriptions=[to_segment_description(get_segment(name), number, algorithm)
                              for number, name in ((1, "BODY"), (2, "LIVER"))],
        series_instance_uid=hd.UID(), series_number=3, sop_instance_uid=hd.UID(), instance_number=1,
        manufacturer="Test", manufacturer_model_name="Test", software_versions="1", device_serial_number="1",
    )
    with pytest.raises(OverlappingSegmentsError, match=r"segment 2 \(LIVER\) overlaps BODY"):
        decode_label_map(overlapping, reference_image(headers))
    decoded = decode_segments(overlapping, reference_image(headers))
    assert [int(sitk.GetArrayViewFromImage(d.mask).sum()) for d in decoded] == [body.sum(), liver.sum()]
