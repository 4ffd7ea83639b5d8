"""Landmark and region SR content: one group per annotated slice, referencing exactly that slice."""

from __future__ import annotations

import copy
import logging

import highdicom as hd
import numpy as np
import pydicom
import pytest

from mhubio.sr.bpr import (
    LANDMARK_SERIES_DESCRIPTION,
    REGION_SERIES_DESCRIPTION,
    NothingToEncodeError,
    SliceReferenceError,
    encode_landmark_sr,
    encode_region_sr,
    landmark_codes,
    region_codes,
)
from mhubio.synthetic import write_ct_series
from tests.support.bpr import result_from_curve

Z_SPACING = 2.5
N_SLICES = 48


@pytest.fixture(scope="module")
def ascending(tmp_path_factory) -> list[pydicom.Dataset]:
    """Headers of a tiny axial CT series sorted by position along +z (feet to head)."""
    series = write_ct_series(
        tmp_path_factory.mktemp("ct"), shape=(N_SLICES, 16, 16), spacing=(2.0, 2.0, Z_SPACING), seed=11
    )
    datasets = [pydicom.dcmread(path, stop_before_pixels=True) for path in series.files]
    return sorted(datasets, key=lambda ds: float(ds.ImagePositionPatient[2]))


def feet_to_head_curve() -> np.ndarray:
    """Scores rising 0.11 per mm from 28 (between L1 and Th12) to 41: crosses Th12, Th11, ..."""
    return 28.0 + np.arange(N_SLICES) * Z_SPACING * 0.11


def encode(kind: str, result, datasets):
    encoder = encode_landmark_sr if kind == "landmarks" else encode_region_sr
    return encoder(result, datasets, "BodyPartRegression", "1.1.0", 42)


def groups_of(sr) -> list:
    reread = hd.sr.srread(_write(sr))
    return reread.content.get_image_measurement_groups()


def _write(sr) -> pydicom.filebase.DicomBytesIO:
    buffer = pydicom.filebase.DicomBytesIO()
    sr.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return buffer


def referenced_uid(group) -> str:
    (source,) = group.source_images
    return source.referenced_sop_instance_uid


class TestLandmarkSR:
    def test_one_group_per_landmark_slice_referencing_that_slice(self, ascending) -> None:
        result = result_from_curve(feet_to_head_curve(), Z_SPACING)
        assert {"L1", "Th12", "Th11"} <= set(result.landmarks)
        sr = encode("landmarks", result, ascending)
        assert sr.SeriesDescription == LANDMARK_SERIES_DESCRIPTION
        assert sr.SeriesNumber == 42
        assert sr.SOPClassUID == pydicom.uid.Comprehensive3DSRStorage
        assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
        groups = groups_of(sr)
        expected = {}
        for name, index in result.landmarks.items():
            expected.setdefault(ascending[index].SOPInstanceUID, set()).add(name)
        assert len(groups) == len(expected)
        codes = landmark_codes()
        by_code = {(c.finding_site.value, c.modifier.value if c.modifier else None): n for n, c in codes.items()}
        for group in groups:
            names = set()
            for site in group.finding_sites:
                assert site.name.value == "363698007"
                modifier = site.topographical_modifier
                names.add(by_code[(site.value.value, modifier.value if modifier else None)])
            assert names == expected[referenced_uid(group)]

    def test_modifier_is_child_of_finding_site(self, ascending) -> None:
        sr = encode("landmarks", result_from_curve(feet_to_head_curve(), Z_SPACING), ascending)
        group = groups_of(sr)[0]
        (site,) = group.finding_sites
        (child,) = site.ContentSequence
        assert child.ConceptNameCodeSequence[0].CodeValue == "106233006"
        assert child.RelationshipType == "HAS CONCEPT MOD"
        assert child.ConceptCodeSequence[0].CodeValue == "111010"

    def test_both_slice_orders_reference_the_same_instances(self, ascending) -> None:
        curve = feet_to_head_curve()
        forward = result_from_curve(curve, Z_SPACING)
        backward = result_from_curve(curve[::-1], Z_SPACING)
        assert forward.reverse_zordering is False and backward.reverse_zordering is True
        references = []
        for result, datasets in ((forward, ascending), (backward, ascending[::-1])):
            groups = groups_of(encode("landmarks", result, datasets))
            references.append(
                {site.value.value: referenced_uid(g) for g in groups for site in g.finding_sites}
            )
        assert references[0] == references[1]
        assert len(references[0]) >= 5

    def test_evidence_lists_only_referenced_instances(self, ascending) -> None:
        result = result_from_curve(feet_to_head_curve(), Z_SPACING)
        sr = encode("landmarks", result, ascending)
        evidence = {
            item.ReferencedSOPInstanceUID
            for study in sr.CurrentRequestedProcedureEvidenceSequence
            for series in study.ReferencedSeriesSequence
            for item in series.ReferencedSOPSequence
        }
        assert evidence == {ascending[i].SOPInstanceUID for i in result.landmarks.values()}

    def test_no_landmark_inside_the_scan_is_reported(self, ascending) -> None:
        flat_above_head = np.full(N_SLICES, 120.0) + np.arange(N_SLICES) * 0.01
        with pytest.raises(NothingToEncodeError, match="no body part regression landmark"):
            encode("landmarks", result_from_curve(flat_above_head, Z_SPACING), ascending)


class TestRegionSR:
    def test_one_group_per_slice_with_all_its_regions(self, ascending) -> None:
        result = result_from_curve(feet_to_head_curve(), Z_SPACING)
        sr = encode("regions", result, ascending)
        assert sr.SeriesDescription == REGION_SERIES_DESCRIPTION
        groups = groups_of(sr)
        by_value = {code.value: name for name, code in region_codes().items()}
        found = {referenced_uid(g): {by_value[s.value.value] for s in g.finding_sites} for g in groups}
        expected = {ascending[i].SOPInstanceUID: regions for i, regions in enumerate(result.regions) if regions}
        assert found == expected
        assert any(len(regions) == 2 for regions in found.values())
        assert len(groups) == sum(1 for regions in result.regions if regions)

    def test_slices_without_region_get_no_group(self, ascending) -> None:
        curve = feet_to_head_curve()
        curve[10] = 110.83  # bpreg's background score: removed from the cleaned scores
        result = result_from_curve(curve, Z_SPACING)
        assert result.regions[10] == set()
        uids = {referenced_uid(g) for g in groups_of(encode("regions", result, ascending))}
        assert ascending[10].SOPInstanceUID not in uids
        assert len(uids) == N_SLICES - 1


class TestSliceMapping:
    def test_wrong_number_of_images(self, ascending) -> None:
        with pytest.raises(SliceReferenceError, match="source images or frames for a result of"):
            encode("landmarks", result_from_curve(feet_to_head_curve(), Z_SPACING), ascending[:-1])

    def test_images_not_in_volume_order(self, ascending) -> None:
        shuffled = list(ascending)
        shuffled[3], shuffled[20] = shuffled[20], shuffled[3]
        with pytest.raises(SliceReferenceError, match="not in volume order"):
            encode("regions", result_from_curve(feet_to_head_curve(), Z_SPACING), shuffled)

    def test_spacing_mismatch(self, ascending) -> None:
        with pytest.raises(SliceReferenceError, match="z-spacing"):
            encode("regions", result_from_curve(feet_to_head_curve(), 2 * Z_SPACING), ascending)

    def test_images_of_two_series(self, ascending) -> None:
        other = copy.deepcopy(ascending)
        other[0].SeriesInstanceUID = pydicom.uid.generate_uid()
        with pytest.raises(SliceReferenceError, match="2 series"):
            encode("regions", result_from_curve(feet_to_head_curve(), Z_SPACING), other)

    def test_z_ordering_flag_against_geometry_is_checked(self, ascending, caplog) -> None:
        head_to_feet_scores = feet_to_head_curve()[::-1]
        with caplog.at_level(logging.WARNING, logger="mhub.module.sr.bpr"):
            encode("landmarks", result_from_curve(head_to_feet_scores, Z_SPACING), ascending)
        assert "reverse z-ordering=True" in caplog.text
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="mhub.module.sr.bpr"):
            encode("landmarks", result_from_curve(head_to_feet_scores, Z_SPACING), ascending[::-1])
        assert caplog.text == ""
