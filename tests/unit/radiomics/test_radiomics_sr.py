"""mhubio.sr.radiomics: TID 1500 content read back with highdicom, segment references, codes and errors."""

from __future__ import annotations

import copy
import math

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.uid import EnhancedSRStorage

from mhubio.radiomics import SegmentFeatures, coded_features, extract_features
from mhubio.sr.radiomics import RadiomicsSROptions, encode_radiomics_sr
from mhubio.sr.segments import segment_coding, segment_numbers_by_codes
from mhubio.synthetic import write_ct_series
from tests.radiomics_helpers import SMALL_SHAPE, SMALL_SPACING, ct_image, label_image, write_seg

pytest.importorskip("radiomics")

NODULE = 12


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """CT, label map with every phantom organ plus a lung nodule, its SEG (HEART left out), and the features."""
    folder = tmp_path_factory.mktemp("sr")
    series = write_ct_series(folder / "ct", shape=SMALL_SHAPE, spacing=SMALL_SPACING, seed=2)
    image = ct_image(series)
    array = series.phantom.labels.copy()
    z, y, x = np.ogrid[: SMALL_SHAPE[0], : SMALL_SHAPE[1], : SMALL_SHAPE[2]]
    left_lung = np.argwhere(series.phantom.mask("LEFT_LUNG")).mean(axis=0).round().astype(int)
    array[(z - left_lung[0]) ** 2 + (y - left_lung[1]) ** 2 + (x - left_lung[2]) ** 2 <= 9] = NODULE
    array[array == series.phantom.label_value("HEART")] = 0
    segments = {**series.phantom.label_names, NODULE: "LUNG_NODULE"}
    labels = label_image(array, image)
    numbers = write_seg(labels, series, segments, folder / "seg.dcm")
    result = extract_features(image, labels, segments)
    seg = pydicom.dcmread(folder / "seg.dcm", stop_before_pixels=True)
    headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in series.files]
    return series, seg, headers, result, numbers, segments


def encode(case, **kwargs):
    _, seg, headers, result, *_ = case
    kwargs.setdefault("algorithm_name", "pyradiomics")
    kwargs.setdefault("algorithm_version", result.algorithm_version)
    return encode_radiomics_sr(result.segments, seg, headers, **kwargs)


@pytest.fixture(scope="module")
def written(case, tmp_path_factory):
    encoded = encode(case, algorithm_parameters={"binWidth": "25"})
    path = tmp_path_factory.mktemp("out") / "radiomics.sr.dcm"
    encoded.dataset.save_as(path, enforce_file_format=True)
    return encoded, hd.sr.srread(path)


def _code(concept) -> tuple[str, str, str]:
    return (concept.scheme_designator, concept.value, concept.meaning)


def test_document_is_an_enhanced_sr_measurement_report(written, case):
    series, seg, *_ = case
    _, sr = written
    assert sr.SOPClassUID == EnhancedSRStorage
    assert sr.SeriesDescription == "Radiomics features"
    assert sr.StudyInstanceUID == series.study_uid
    assert sr.CompletionFlag == "COMPLETE" and sr.VerificationFlag == "UNVERIFIED"
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    evidence = {
        item.ReferencedSOPInstanceUID
        for study in sr.CurrentRequestedProcedureEvidenceSequence
        for series_item in study.ReferencedSeriesSequence
        for item in series_item.ReferencedSOPSequence
    }
    assert evidence == {seg.SOPInstanceUID, *series.sop_instance_uids}


def test_every_measurement_reads_back_with_code_unit_and_value(written, case):
    series, seg, _, result, numbers, segments = case
    _, sr = written
    groups = sr.content.get_volumetric_roi_measurement_groups()
    by_value = {v: k for k, v in segments.items()}
    assert len(groups) == len(result.segments)
    for group, features in zip(groups, result.segments, strict=True):
        reference = group.referenced_segment
        assert reference.referenced_sop_instance_uid == seg.SOPInstanceUID
        assert reference.referenced_segment_numbers == [numbers[by_value[features.segment_id]]]
        assert reference.source_series_for_segmentation.value == series.series_uid
        measurements = group.get_measurements()
        assert len(measurements) == 14
        for measurement, code in zip(measurements, coded_features(), strict=True):
            assert _code(measurement.name) == _code(code.quantity)
            assert _code(measurement.unit) == _code(code.unit)
            expected = features.features[code.key]
            assert measurement.value == pytest.approx(expected, rel=1e-12)
            numeric = float(measurement[0].MeasuredValueSequence[0].NumericValue)
            assert numeric == pytest.approx(expected, rel=1e-6)


def test_algorithm_identification_on_every_measurement(written):
    _, sr = written
    for group in sr.content.get_volumetric_roi_measurement_groups():
        for measurement in group.get_measurements():
            items = {
                item.ConceptNameCodeSequence[0].CodeMeaning: item.TextValue
                for item in measurement[0].ContentSequence
            }
            assert items == {"Algorithm Name": "pyradiomics", "Algorithm Version": "3.0.1",
                             "Algorithm Parameters": "binWidth=25"}


def test_finding_and_finding_site_come_from_the_seg_codes(written):
    _, sr = written
    groups = {g.tracking_identifier: g for g in sr.content.get_volumetric_roi_measurement_groups()}
    assert "Heart" not in groups
    kidney = groups["Left kidney"]
    assert _code(kidney.finding_type) == ("SCT", "64033007", "Kidney")
    (site,) = kidney.finding_sites
    assert _code(site.value) == ("SCT", "64033007", "Kidney")
    assert _code(site.laterality) == ("SCT", "7771000", "Left")
    nodule = groups["Lung nodule"]
    assert _code(nodule.finding_type) == ("SCT", "27925004", "Nodule")
    (site,) = nodule.finding_sites
    assert _code(site.value) == ("SCT", "39607008", "Lung")
    assert _code(site.laterality)[1] == "51440002"
    aorta = groups["Aorta"]
    (site,) = aorta.finding_sites
    assert site.laterality is None and _code(site.value) == _code(aorta.finding_type)


def test_segment_numbers_found_by_codes_equal_the_encoder_numbers(case):
    _, seg, _, result, numbers, segments = case
    by_codes = segment_numbers_by_codes(seg, [s.segment_id for s in result.segments])
    assert by_codes == {segments[v]: n for v, n in numbers.items()}


def test_explicit_segment_numbers_are_used_and_checked(case):
    _, seg, _, result, numbers, segments = case
    explicit = {segments[v]: n for v, n in numbers.items()}
    encoded = encode(case, segment_numbers=explicit)
    assert encoded.segment_numbers == explicit
    wrong = {**explicit, "AORTA": 99}
    with pytest.raises(ValueError, match="no segments {'AORTA': 99}"):
        encode(case, segment_numbers=wrong)
    with pytest.raises(ValueError, match="segment_numbers has no entry for LIVER"):
        encode(case, segment_numbers={k: v for k, v in explicit.items() if k != "LIVER"})


def test_a_segment_missing_from_the_seg_is_an_error(case):
    _, seg, headers, result, *_ = case
    heart = [SegmentFeatures("HEART", 4, result.segments[0].features)]
    with pytest.raises(ValueError, match="segment HEART: no segment of SEG"):
        encode_radiomics_sr(heart, seg, headers, algorithm_name="pyradiomics", algorithm_version="3.0.1")


def test_sources_must_be_the_series_the_seg_references(case, tmp_path):
    _, seg, headers, result, *_ = case
    other = write_ct_series(tmp_path / "other", shape=(4, 16, 16), seed=9, series_number=7)
    others = [pydicom.dcmread(f, stop_before_pixels=True) for f in other.files]
    with pytest.raises(ValueError, match="does not reference the source series"):
        encode_radiomics_sr(result.segments, seg, others, algorithm_name="pyradiomics", algorithm_version="3")
    with pytest.raises(ValueError, match="from 2 series"):
        encode_radiomics_sr(result.segments, seg, headers + others, algorithm_name="p", algorithm_version="3")
    with pytest.raises(ValueError, match="not a Segmentation"):
        encode_radiomics_sr(result.segments, headers[0], headers, algorithm_name="p", algorithm_version="3")


def test_features_without_code_or_value_are_left_out_and_listed(case, tmp_path):
    _, seg, headers, result, *_ = case
    first = result.segments[0]
    features = {**first.features, "firstorder_Mean": 12.5, "shape_Flatness": math.nan}
    encoded = encode_radiomics_sr([SegmentFeatures(first.segment_id, first.label_value, features)], seg, headers,
                                  algorithm_name="pyradiomics", algorithm_version="3.0.1")
    assert encoded.omitted == {first.segment_id: ["shape_Flatness", "firstorder_Mean"]}
    encoded.dataset.save_as(tmp_path / "sr.dcm", enforce_file_format=True)
    (group,) = hd.sr.srread(tmp_path / "sr.dcm").content.get_volumetric_roi_measurement_groups()
    assert len(group.get_measurements()) == 13


def test_duplicate_or_empty_input_is_rejected(case):
    _, seg, headers, result, *_ = case
    with pytest.raises(ValueError, match="no segment features"):
        encode_radiomics_sr([], seg, headers, algorithm_name="p", algorithm_version="1")
    twice = [result.segments[0], result.segments[0]]
    with pytest.raises(ValueError, match="more than once"):
        encode_radiomics_sr(twice, seg, headers, algorithm_name="p", algorithm_version="1")


def test_options_are_validated_and_written(case):
    with pytest.raises(ValueError, match="1 to 64 characters"):
        RadiomicsSROptions(series_description="x" * 65)
    encoded = encode(case, options=RadiomicsSROptions(series_description="Shape features", series_number=77))
    assert encoded.dataset.SeriesDescription == "Shape features"
    assert encoded.dataset.SeriesNumber == 77


def test_segment_coding_of_a_non_anatomic_segment_without_region_has_no_site(case):
    _, seg, *_ = case
    item = seg.SegmentSequence[0]
    item.SegmentedPropertyCategoryCodeSequence[0].CodeValue = "49755003"
    item.SegmentedPropertyCategoryCodeSequence[0].CodeMeaning = "Morphologically Abnormal Structure"
    try:
        assert segment_coding(seg, int(item.SegmentNumber)).finding_site is None
    finally:
        item.SegmentedPropertyCategoryCodeSequence[0].CodeValue = "91723000"
        item.SegmentedPropertyCategoryCodeSequence[0].CodeMeaning = "Anatomical Structure"


def test_a_seg_without_series_reference_needs_the_same_frame_of_reference(case):
    _, seg, headers, result, *_ = case
    unreferenced = copy.deepcopy(seg)
    del unreferenced.ReferencedSeriesSequence
    encoded = encode_radiomics_sr(result.segments[:1], unreferenced, headers, algorithm_name="pyradiomics",
                                  algorithm_version="3.0.1")
    assert encoded.segment_numbers
    unreferenced.FrameOfReferenceUID = hd.UID()
    with pytest.raises(ValueError, match="references no series and its frame of reference differs"):
        encode_radiomics_sr(result.segments[:1], unreferenced, headers, algorithm_name="pyradiomics",
                            algorithm_version="3.0.1")
