"""ROI names and codes: registry codes out and back, foreign codes kept, names without codes kept as text."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.sr.coding import Code

from mhubio.core.algorithm import AlgorithmFamily
from mhubio.core.data import AlgorithmInfo
from mhubio.dicom.scan import scan_folder
from mhubio.rtstruct import encode_rtstruct, read_rois
from mhubio.rtstruct.to_seg import FAMILY_NOT_STATED, NON_SPECIFIC_VOLUME, RasterisedRoi, encode_roi_segmentation
from mhubio.segdb import get_segment
from mhubio.synthetic import write_ct_series
from tests.helpers import dciodvfy_errors

SEGMENTS = {1: "BRACHIOCEPHALIC_TRUNK", 3: "LEFT_KIDNEY"}
FOREIGN = Code("39607008", "SCT", "Lung")


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rtstruct")
    write_ct_series(folder / "ct", shape=(12, 32, 32), seed=1)
    (series,) = scan_folder(folder / "ct").series.values()
    grid = series.reference_image()
    labels = np.zeros((12, 32, 32), dtype=np.uint8)
    labels[2:5, 3:9, 4:10] = 1
    labels[6:9, 10:20, 10:20] = 3
    image = sitk.GetImageFromArray(labels)
    image.CopyInformation(grid)
    segments = {**SEGMENTS, 2: "HEART"}  # HEART has no voxel
    algorithm = AlgorithmInfo("Segmenter " + "x" * 70, "2.0", AlgorithmFamily.ARTIFICIAL_INTELLIGENCE)
    result = encode_rtstruct(image, series.headers(), segments, algorithm)
    path = folder / "rs.dcm"
    result.dataset.save_as(path, enforce_file_format=True)
    return path, result, series, labels


def test_registry_names_colours_and_codes_go_out_and_come_back(encoded):
    path, result, _, _ = encoded
    assert dciodvfy_errors(path) == []  # long labels and algorithm names stay within their VRs
    assert result.roi_numbers == {1: 1, 3: 2} and result.dropped == ["HEART"]
    dataset = pydicom.dcmread(path)
    (roi_item,) = dataset.StructureSetROISequence[:1]
    assert roi_item.ROIGenerationAlgorithm == "AUTOMATIC"
    family = roi_item.ROIDerivationAlgorithmIdentificationSequence[0].AlgorithmFamilyCodeSequence[0]
    assert family.CodeMeaning == "Artificial Intelligence"
    for roi, segment_id in zip(read_rois(dataset), SEGMENTS.values(), strict=True):
        definition = get_segment(segment_id)
        assert (roi.name, roi.segment_id, roi.color) == (definition.label, segment_id, definition.color)
        assert (roi.codes.category, roi.codes.type, roi.codes.modifier) == (
            definition.category, definition.type, definition.modifier)


def test_rois_without_registry_codes_keep_their_codes_or_their_name(encoded):
    path, _, series, labels = encoded
    dataset = pydicom.dcmread(path)
    observations = dataset.RTROIObservationsSequence
    observations[0].RTROIIdentificationCodeSequence[0].CodeValue = FOREIGN.value  # not a registry type
    observations[0].RTROIIdentificationCodeSequence[0].CodeMeaning = FOREIGN.meaning
    del observations[1].RTROIIdentificationCodeSequence  # no codes at all
    del observations[1].SegmentedPropertyCategoryCodeSequence
    dataset.StructureSetROISequence[1].ROIName = "PTV boost"
    dataset.StructureSetROISequence[1].ROIGenerationAlgorithm = "MANUAL"
    rois = read_rois(dataset)
    assert [r.segment_id for r in rois] == [None, None]
    grid = series.reference_image()
    rasterised = [RasterisedRoi(r, r.mask(grid)) for r in rois]
    assert [np.array_equal(r.mask, labels == v) for r, v in zip(rasterised, (1, 3), strict=True)] == [True, True]
    seg, names = encode_roi_segmentation(rasterised, series.headers(), dataset)
    assert names == {1: "Brachiocephalic trunk", 2: "PTV boost"}
    coded, named = (seg.get_segment_description(n) for n in (1, 2))
    assert coded.segmented_property_type == FOREIGN
    assert coded.segmented_property_category == get_segment("BRACHIOCEPHALIC_TRUNK").category
    assert coded.algorithm_type.value == "AUTOMATIC" and coded.algorithm_identification[0].AlgorithmVersion == "2.0"
    assert named.segment_label == "PTV boost"
    assert named.segmented_property_type == NON_SPECIFIC_VOLUME == named.segmented_property_category
    assert named.algorithm_type.value == "MANUAL"


def test_an_automatic_roi_without_its_algorithm_claims_no_family(encoded, tmp_path):
    path, _, series, _ = encoded
    dataset = pydicom.dcmread(path)
    for item in dataset.StructureSetROISequence:
        del item.ROIDerivationAlgorithmIdentificationSequence
    rois = read_rois(dataset)
    grid = series.reference_image()
    seg, _ = encode_roi_segmentation([RasterisedRoi(r, r.mask(grid)) for r in rois], series.headers(), dataset)
    for number in range(1, len(rois) + 1):
        description = seg.get_segment_description(number)
        (identification,) = description.algorithm_identification
        assert description.algorithm_type.value == "AUTOMATIC"
        assert identification.AlgorithmName == "unknown"
        family = identification.AlgorithmFamilyCodeSequence[0]
        assert (family.CodeValue, family.CodingSchemeDesignator) == (FAMILY_NOT_STATED.value, "99MHUB")
    seg.save_as(tmp_path / "seg.dcm")
    assert dciodvfy_errors(tmp_path / "seg.dcm") == []
