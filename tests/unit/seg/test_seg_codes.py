"""Codes of any SEG: SRT -> SCT mapping (pydicom's table), names of segments without a registry entry, the
FRACTIONAL threshold parameter, and SEG series set aside as inputs rather than skipped."""

from __future__ import annotations

import pydicom
import pytest
from pydantic import ValidationError
from pydicom.sr.coding import Code

from mhubio.core.module import MODALITY_CHECK, ImportResult, InputSeries, SkippedSeries
from mhubio.dicom.qc import QCCheck
from mhubio.modules.importers.seg_importer import SegImporter
from mhubio.modules.runners.radiomics import RadiomicsRunner
from mhubio.seg.codes import is_unregistered_id, read_segment_codes, segment_names, unregistered_id
from mhubio.seg.decode import check_fractional_threshold
from mhubio.segdb import get_segment
from mhubio.segdb.legacy import CodeMapping, modernize
from mhubio.sr.segments import segment_coding


def code_item(value: str, scheme: str, meaning: str) -> pydicom.Dataset:
    item = pydicom.Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def segment_item(number: int, category: pydicom.Dataset, type_: pydicom.Dataset,
                 region: pydicom.Dataset | None = None, label: str = "") -> pydicom.Dataset:
    item = pydicom.Dataset()
    item.SegmentNumber, item.SegmentLabel = number, label
    item.SegmentedPropertyCategoryCodeSequence = [category]
    item.SegmentedPropertyTypeCodeSequence = [type_]
    if region is not None:
        item.AnatomicRegionSequence = [region]
    return item


def seg_of(*items: pydicom.Dataset) -> pydicom.Dataset:
    seg = pydicom.Dataset()
    seg.SOPInstanceUID = "1.2.3"
    seg.SegmentSequence = list(items)
    return seg


ANATOMY_SRT = ("T-D000A", "SRT", "Anatomical Structure")


def test_srt_codes_map_to_their_sct_equivalents_and_say_so():
    code, mapping = modernize(Code("T-62000", "SRT", "Liver"))
    assert (code.value, code.scheme_designator, code.meaning) == ("10200004", "SCT", "Liver")
    assert mapping is not None and mapping.as_dict() == {"from": "SRT T-62000", "to": "SCT 10200004",
                                                         "meaning": "Liver"}
    sct = Code("10200004", "SCT", "Liver")
    assert modernize(sct) == (sct, None)
    unknown = Code("T-NOT-A-CODE", "SRT", "Nothing")
    assert modernize(unknown) == (unknown, None)
    with pytest.raises(ValueError, match="maps an SRT code to an SCT code"):
        CodeMapping(sct, sct)


def test_segment_codes_are_read_with_every_mapping_recorded():
    item = segment_item(3, code_item("M-01000", "SRT", "Morphologically Altered Structure"),
                        code_item("M-03000", "SRT", "Mass"), code_item("T-62000", "SRT", "Liver"), "Lesion")
    codes = read_segment_codes(item)
    assert codes.coding_key == (("SCT", "4147007"), None, ("SCT", "10200004"), None)
    assert codes.category.value == "49755003"
    assert [(r["role"], r["from"], r["to"]) for r in codes.mapping_records()] == [
        ("category", "SRT M-01000", "SCT 49755003"), ("type", "SRT M-03000", "SCT 4147007"),
        ("region", "SRT T-62000", "SCT 10200004")]
    kidney = code_item("T-71000", "SRT", "Kidney")
    kidney.SegmentedPropertyTypeModifierCodeSequence = [code_item("G-A101", "SRT", "Left")]
    left = read_segment_codes(segment_item(5, code_item(*ANATOMY_SRT), kidney))
    assert left.coding_key == get_segment("LEFT_KIDNEY").coding_key
    assert [role for role, _ in left.mappings] == ["category", "type", "modifier"]
    unmapped = read_segment_codes(segment_item(4, code_item(*ANATOMY_SRT), code_item("T-XXXXX", "SRT", "Odd")))
    assert [(role, code.value) for role, code in unmapped.unmapped] == [("type", "T-XXXXX")]
    item.SegmentedPropertyCategoryCodeSequence = []
    with pytest.raises(ValueError, match="no segmented property category or type"):
        read_segment_codes(item)


def test_segments_are_named_by_registry_id_or_number():
    seg = seg_of(
        segment_item(1, code_item(*ANATOMY_SRT), code_item("T-62000", "SRT", "Liver")),
        segment_item(2, code_item("85756007", "SCT", "Tissue"), code_item("B-1", "99LOCAL", "Blob")),
    )
    assert segment_names(seg) == {1: "LIVER", 2: "segment-2"}
    assert unregistered_id(2) == "segment-2" and is_unregistered_id("segment-2")
    assert not is_unregistered_id("segment-0") and not is_unregistered_id("LIVER")


def test_sr_coding_uses_the_sct_code_and_the_registry_meaning():
    seg = seg_of(segment_item(1, code_item(*ANATOMY_SRT), code_item("T-62000", "SRT", "liver (organ)"), label="L"))
    coding = segment_coding(seg, 1)
    liver = get_segment("LIVER").type
    assert (coding.finding.value, coding.finding.scheme_designator, coding.finding.meaning) == (
        liver.value, "SCT", liver.meaning)
    assert (coding.category.value, coding.category.scheme_designator) == ("123037004", "SCT")
    assert coding.finding_site is not None and coding.finding_site.value.value == liver.value


def test_fractional_threshold_is_a_validated_importer_parameter():
    assert SegImporter.Params().fractional_threshold == 0.5
    assert SegImporter.Params(fractional_threshold=1.0).fractional_threshold == 1.0
    for bad in (0.0, 1.5):
        with pytest.raises(ValidationError, match="fractional threshold must be above 0 and at most 1"):
            SegImporter.Params(fractional_threshold=bad)
        with pytest.raises(ValueError):
            check_fractional_threshold(bad)


def test_radiomics_include_accepts_segments_named_by_number():
    assert RadiomicsRunner.Params(include=["segment-3", "LIVER"]).include == ["segment-3", "LIVER"]
    with pytest.raises(ValidationError, match="Unknown segment id 'segment-0'.*named segment-<SegmentNumber>"):
        RadiomicsRunner.Params(include=["segment-0"])


def test_series_a_later_step_reads_are_inputs_not_skipped():
    assert MODALITY_CHECK == QCCheck.MODALITY.value
    seg = SkippedSeries("1.1", "SEG", "3", MODALITY_CHECK, "modality SEG is not among ['CT']")
    pet = SkippedSeries("1.2", "PT", "4", MODALITY_CHECK, "modality PT is not among ['CT']")
    bad_seg = SkippedSeries("1.3", "SEG", "5", QCCheck.UID_SYNTAX.value, "bad UID")
    result = ImportResult(instances=[], skipped=[seg, pet, bad_seg])
    result.set_aside_inputs({"SEG": "SegImporter"})
    assert result.skipped == [pet, bad_seg]
    assert result.input_series == [InputSeries("1.1", "SEG", "3", "SegImporter")]
    assert SegImporter.reads_modalities == frozenset({"SEG"})


def test_notes_survive_the_resume_state():
    from mhubio.cohort.state import SeriesState

    notes = {"code_mappings": [{"segment": 1, "role": "type", "from": "SRT T-62000", "to": "SCT 10200004",
                                "meaning": "Liver"}]}
    state = SeriesState("1.2", "m", "1", "w", "a", "b", (), notes=notes)
    assert SeriesState.from_json(state.to_json()).notes == notes
