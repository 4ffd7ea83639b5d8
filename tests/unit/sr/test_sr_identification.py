"""Truthful identification and linkable SRs: algorithm family and type in the SEG, the shared-context image
library, TrackingUIDs taken from the SEG, one document status for every SR."""

from __future__ import annotations

import copy

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes

from mhubio.core.algorithm import AlgorithmFamily, AlgorithmType
from mhubio.core.data import AlgorithmInfo
from mhubio.seg import SegOptions, encode_segmentation, load_source_images
from mhubio.sr.bpr import encode_region_sr
from mhubio.sr.library import image_library
from mhubio.sr.radiomics import encode_radiomics_sr
from mhubio.synthetic import write_ct_series
from tests.radiomics_helpers import ct_image, label_image
from tests.support.bpr import result_from_curve

SHAPE = (6, 24, 24)

pytest.importorskip("radiomics")


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    return write_ct_series(tmp_path_factory.mktemp("ct"), shape=SHAPE, spacing=(2.0, 2.0, 3.0), seed=3)


@pytest.fixture(scope="module")
def headers(series):
    return load_source_images(series.files)


def _seg(series, headers, algorithm: AlgorithmInfo) -> pydicom.Dataset:
    image = ct_image(series)
    labels = label_image(series.phantom.labels, image)
    segments = dict(series.phantom.label_names)
    present = {int(v) for v in np.unique(series.phantom.labels)} - {0}
    segments = {v: s for v, s in segments.items() if v in present}
    return encode_segmentation(labels, headers, segments, algorithm, SegOptions()).dataset


def test_algorithm_families_are_the_concepts_of_cid_7162():
    ours = {(f.scheme_designator, f.code_value, f.value) for f in AlgorithmFamily}
    theirs = {(c.scheme_designator, c.value, c.meaning)
              for c in (getattr(codes.cid7162, name) for name in codes.cid7162.dir())}
    assert ours == theirs


def test_algorithm_info_takes_only_the_enums():
    with pytest.raises(TypeError, match="CID 7162"):
        AlgorithmInfo("x", "1", "Artificial Intelligence")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="AlgorithmType"):
        AlgorithmInfo("x", "1", AlgorithmFamily.EDGE_DETECTION, type="AUTOMATIC")  # type: ignore[arg-type]


@pytest.mark.parametrize("family", [AlgorithmFamily.HISTOGRAM_ANALYSIS, AlgorithmFamily.ARTIFICIAL_INTELLIGENCE])
@pytest.mark.parametrize("kind", [AlgorithmType.AUTOMATIC, AlgorithmType.SEMIAUTOMATIC])
def test_seg_states_the_family_and_type_of_the_algorithm(series, headers, family, kind):
    seg = _seg(series, headers, AlgorithmInfo("Segmenter", "2.1", family, {"t": "1"}, type=kind))
    for segment in seg.SegmentSequence:
        assert segment.SegmentAlgorithmType == kind.value
        (identification,) = segment.SegmentationAlgorithmIdentificationSequence
        (code,) = identification.AlgorithmFamilyCodeSequence
        assert (code.CodingSchemeDesignator, code.CodeValue, code.CodeMeaning) == ("DCM", family.code_value,
                                                                                  family.value)
        assert (identification.AlgorithmName, identification.AlgorithmVersion) == ("Segmenter", "2.1")


def test_a_manual_segmentation_has_no_algorithm_identification(series, headers):
    seg = _seg(series, headers, AlgorithmInfo("Reader", "1", type=AlgorithmType.MANUAL))
    for segment in seg.SegmentSequence:
        assert segment.SegmentAlgorithmType == "MANUAL"
        assert "SegmentationAlgorithmIdentificationSequence" not in segment


def test_a_segmenter_without_family_is_refused(series, headers):
    with pytest.raises(ValueError, match="states no algorithm family"):
        _seg(series, headers, AlgorithmInfo("Unknown", "1"))


def _names(items) -> list[str]:
    return [i.ConceptNameCodeSequence[0].CodeMeaning for i in items]


def test_image_library_states_shared_descriptors_once(headers):
    (group,) = image_library(headers).ContentSequence
    shared = [i for i in group.ContentSequence if i.ValueType != "IMAGE"]
    entries = [i for i in group.ContentSequence if i.ValueType == "IMAGE"]
    assert [e.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for e in entries] == \
        [h.SOPInstanceUID for h in headers]
    full = _names(hd.sr.ImageLibraryEntryDescriptors(headers[0]))
    for entry in entries:
        own = _names(entry.ContentSequence)
        assert own and not set(own) & set(_names(shared))
        assert sorted(own + _names(shared)) == sorted(full)  # nothing lost, nothing repeated
    positions = [[i.MeasuredValueSequence[0].NumericValue for i in e.ContentSequence] for e in entries]
    assert len({tuple(p) for p in positions}) == len(headers)


def test_image_library_groups_by_frame_of_reference_and_refuses_repeats(headers):
    other = [copy.deepcopy(h) for h in headers[:2]]
    frame = hd.UID()
    for h in other:
        h.FrameOfReferenceUID = frame
        h.SOPInstanceUID = hd.UID()
    groups = image_library([*headers, *other]).ContentSequence
    assert [sum(i.ValueType == "IMAGE" for i in g.ContentSequence) for g in groups] == [len(headers), 2]
    with pytest.raises(ValueError, match="once"):
        image_library([*headers, headers[0]])
    with pytest.raises(ValueError, match="at least one"):
        image_library([])


@pytest.fixture(scope="module")
def radiomics_sr(series, headers):
    from mhubio.radiomics import extract_features

    seg = _seg(series, headers, AlgorithmInfo("Segmenter", "1", AlgorithmFamily.ARTIFICIAL_INTELLIGENCE))
    image = ct_image(series)
    labels = label_image(series.phantom.labels, image)
    present = {int(v) for v in np.unique(series.phantom.labels)} - {0}
    segments = {v: s for v, s in series.phantom.label_names.items() if v in present}
    result = extract_features(image, labels, segments)
    numbers = {int(s.SegmentNumber): s.TrackingID for s in seg.SegmentSequence}
    by_id = {segment_id: number for number, segment_id in numbers.items()}
    features = result.segments
    return seg, features, by_id


def test_groups_carry_the_seg_tracking_uids(radiomics_sr, headers):
    seg, features, numbers = radiomics_sr
    sr = encode_radiomics_sr(features, seg, headers, algorithm_name="pyradiomics", algorithm_version="3",
                             segment_numbers=numbers).dataset
    groups = hd.sr.EnhancedSR.from_dataset(sr).content.get_volumetric_roi_measurement_groups()
    by_number = {int(s.SegmentNumber): str(s.TrackingUID) for s in seg.SegmentSequence}
    assert {g.referenced_segment.referenced_segment_numbers[0]: g.tracking_uid for g in groups} == \
        {numbers[f.segment_id]: by_number[numbers[f.segment_id]] for f in features}
    assert (sr.CompletionFlag, sr.PreliminaryFlag, sr.VerificationFlag) == ("COMPLETE", "FINAL", "UNVERIFIED")


def test_a_seg_segment_without_tracking_uid_gets_a_new_one(radiomics_sr, headers):
    seg, features, numbers = radiomics_sr
    seg = copy.deepcopy(seg)
    for segment in seg.SegmentSequence:
        del segment.TrackingUID
    sr = encode_radiomics_sr(features[:1], seg, headers, algorithm_name="pyradiomics", algorithm_version="3",
                             segment_numbers=numbers).dataset
    (group,) = hd.sr.EnhancedSR.from_dataset(sr).content.get_volumetric_roi_measurement_groups()
    assert group.tracking_uid and group.tracking_uid not in {str(s.get("TrackingUID")) for s in seg.SegmentSequence}


def test_bpr_and_radiomics_srs_state_the_same_document_status(radiomics_sr, headers):
    seg, features, numbers = radiomics_sr
    radiomics = encode_radiomics_sr(features, seg, headers, algorithm_name="pyradiomics", algorithm_version="3",
                                    segment_numbers=numbers).dataset
    ascending = sorted(headers, key=lambda ds: float(ds.ImagePositionPatient[2]))
    scores = 28.0 + np.arange(len(ascending)) * 3.0 * 0.5
    bpr = encode_region_sr(result_from_curve(scores, 3.0), ascending, "BodyPartRegression", "1.1.0", 42)
    flags = ("CompletionFlag", "PreliminaryFlag", "VerificationFlag")
    assert [getattr(radiomics, f) for f in flags] == [getattr(bpr, f) for f in flags] == \
        ["COMPLETE", "FINAL", "UNVERIFIED"]
