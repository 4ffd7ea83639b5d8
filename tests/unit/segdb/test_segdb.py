"""Tests of the segment coding registry mhubio.segdb."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sr._cid_dict import cid_concepts
from pydicom.sr._concepts_dict import concepts
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from mhubio.segdb import (
    SegmentDefinition,
    all_segments,
    get_segment,
    is_valid_sctid,
    label_map_names,
    load_label_map,
    segment_ids,
    to_segment_description,
)
from mhubio.segdb.registry import parse_label_map, parse_segments

CODE_ROLES = ("category", "type", "modifier", "anatomic_region", "anatomic_region_modifier")
LEFT = Code("7771000", "SCT", "Left")
RIGHT = Code("24028007", "SCT", "Right")
BILATERAL = Code("51440002", "SCT", "Bilateral")
HEART = Code("80891009", "SCT", "Heart")
ANATOMICAL_STRUCTURE = Code("91723000", "SCT", "Anatomical Structure")

# DICOM CID 7150 category -> the CID that lists the property types of that category.
TYPE_GROUP_OF_CATEGORY = {
    "85756007": 7191,  # Tissue
    "91723000": 7192,  # Anatomical Structure
    "260787004": 7193,  # Physical Object
    "49755003": 7194,  # Morphologically Abnormal Structure
    "246464006": 7195,  # Function
    "309825002": 7196,  # Spatial and Relational Concept
    "91720002": 7197,  # Body Substance
    "105590001": 7198,  # Substance
}
# TotalSegmentator classes whose SNOMED CT concept is itself lateral (no modifier needed).
LATERAL_CONCEPTS = {"lung_middle_lobe_right": "72481006", "atrial_appendage_left": "33626005"}


def _codes(definition: SegmentDefinition) -> list[tuple[str, Code]]:
    return [(r, getattr(definition, r)) for r in CODE_ROLES if getattr(definition, r) is not None]


def _pydicom_index() -> dict[tuple[str, str], list[tuple[str, list[int]]]]:
    index: dict[tuple[str, str], list[tuple[str, list[int]]]] = {}
    for scheme, keywords in concepts.items():
        for entries in keywords.values():
            for value, (meaning, cids) in entries.items():
                index.setdefault((scheme, value), []).append((meaning, cids))
    return index


PYDICOM = _pydicom_index()


def _standard_meanings(scheme: str, value: str) -> list[str]:
    """Meanings pydicom gives a code: those used in CIDs, else the FSN without its tag."""
    entries = PYDICOM.get((scheme, value), [])
    in_cids = [m for m, cids in entries if cids]
    return in_cids or [re.sub(r"\s*\([^()]*\)$", "", m) for m, _ in entries]


def _cids_of(code: Code) -> set[int]:
    return {c for _, cids in PYDICOM.get((code.scheme_designator, code.value), []) for c in cids}


def _segment_row(**overrides: str) -> dict[str, str]:
    row = {
        "id": "HEART",
        "label": "Heart",
        "category_scheme": "SCT",
        "category_value": "91723000",
        "category_meaning": "Anatomical Structure",
        "type_scheme": "SCT",
        "type_value": "80891009",
        "type_meaning": "Heart",
        **{f"{role}_{part}": "" for role in ("modifier", "region", "region_modifier")
           for part in ("scheme", "value", "meaning")},
        "color_r": "180",
        "color_g": "0",
        "color_b": "40",
        "source": "test",
        "paper_code": "",
    }
    row.update(overrides)
    return row


# --- SegmentDefinition validation -------------------------------------------------------------


def test_definition_accepts_valid_codes():
    definition = SegmentDefinition("LEFT_KIDNEY", "Left kidney", ANATOMICAL_STRUCTURE,
                                   Code("64033007", "SCT", "Kidney"), LEFT, (1, 2, 3))
    assert definition.coding_key == (("SCT", "64033007"), ("SCT", "7771000"), None, None)


def test_definitions_compare_by_value_even_with_missing_codes():
    plain = SegmentDefinition("KIDNEY", "Kidney", ANATOMICAL_STRUCTURE, Code("64033007", "SCT", "Kidney"),
                              None, (1, 2, 3))
    lateral = SegmentDefinition("KIDNEY", "Kidney", ANATOMICAL_STRUCTURE, Code("64033007", "SCT", "Kidney"),
                                LEFT, (1, 2, 3))
    assert plain != lateral
    assert plain == SegmentDefinition("KIDNEY", "Kidney", ANATOMICAL_STRUCTURE,
                                      Code("64033007", "SCT", "Kidney"), None, (1, 2, 3))
    assert len({plain, lateral, plain}) == 2


@pytest.mark.parametrize("segment_id", ["heart", "Heart", "HEART-1", "_HEART", "HEART__X", "1HEART", ""])
def test_definition_rejects_bad_ids(segment_id):
    with pytest.raises(ValueError, match="UPPER_SNAKE"):
        SegmentDefinition(segment_id, "Heart", ANATOMICAL_STRUCTURE, HEART, None, (1, 2, 3))


def test_definition_rejects_retired_srt_designator():
    with pytest.raises(ValueError, match="SRT is retired"):
        SegmentDefinition("HEART", "Heart", ANATOMICAL_STRUCTURE, Code("T-32000", "SRT", "Heart"),
                          None, (1, 2, 3))


@pytest.mark.parametrize("code", [
    Code("C35869", "SCT", "Radiologic Finding"),  # NCIt value under SCT
    Code("80891008", "SCT", "Heart"),  # wrong check digit
    Code("8106092008", "SCT", "Pelvis"),  # typo printed in paper 000
    Code("42161009", "SCT", "Bottom"),  # typo in the published BPR table
    Code("35869", "NCIt", "Radiologic Finding"),
    Code("80891009", "LN", "Heart"),
    Code("80891009", "SCT", ""),
])
def test_definition_rejects_malformed_codes(code):
    with pytest.raises(ValueError):
        SegmentDefinition("HEART", "Heart", ANATOMICAL_STRUCTURE, code, None, (1, 2, 3))


@pytest.mark.parametrize("color", [(256, 0, 0), (-1, 0, 0), (1, 2), (1.0, 2, 3), (True, 0, 0), [1, 2, 3]])
def test_definition_rejects_bad_colors(color):
    with pytest.raises(ValueError, match="color"):
        SegmentDefinition("HEART", "Heart", ANATOMICAL_STRUCTURE, HEART, None, color)


def test_definition_rejects_region_modifier_without_region():
    with pytest.raises(ValueError, match="anatomic region"):
        SegmentDefinition("HEART", "Heart", ANATOMICAL_STRUCTURE, HEART, None, (1, 2, 3),
                          anatomic_region_modifier=LEFT)


@pytest.mark.parametrize("label", ["", "x" * 65, "a\\b"])
def test_definition_rejects_bad_labels(label):
    with pytest.raises(ValueError, match="label"):
        SegmentDefinition("HEART", label, ANATOMICAL_STRUCTURE, HEART, None, (1, 2, 3))


@pytest.mark.parametrize(("value", "valid"), [
    ("816092008", True), ("421610009", True), ("421812003", True), ("39607008", True),
    ("8106092008", False), ("42161009", False), ("12345", False), ("39607018", False),
])
def test_sctid_check(value, valid):
    assert is_valid_sctid(value) is valid


# --- table parsing ---------------------------------------------------------------------------


def test_parse_segments_rejects_duplicate_id():
    with pytest.raises(ValueError, match="defined twice"):
        parse_segments([_segment_row(), _segment_row(type_value="15825003", type_meaning="Aorta")], "t")


def test_parse_segments_rejects_duplicate_coding():
    with pytest.raises(ValueError, match="same type, modifier"):
        parse_segments([_segment_row(), _segment_row(id="CARDIAC")], "t")


def test_parse_segments_rejects_partial_code():
    with pytest.raises(ValueError, match="modifier needs scheme"):
        parse_segments([_segment_row(modifier_value="7771000")], "t")


def test_parse_segments_rejects_missing_column():
    row = _segment_row()
    del row["color_b"]
    with pytest.raises(ValueError, match="missing columns color_b"):
        parse_segments([row], "t")


def test_parse_label_map_rejects_unknown_segment_and_duplicates():
    with pytest.raises(ValueError, match="unknown segment id 'HART'"):
        parse_label_map([{"key": "2", "segment_id": "HART"}], "t", ["HEART"])
    with pytest.raises(ValueError, match="mapped twice"):
        parse_label_map([{"key": "2", "segment_id": "HEART"}] * 2, "t", ["HEART"])


# --- shipped registry ------------------------------------------------------------------------


def test_registry_ids_are_unique_in_the_table():
    from importlib import resources

    text = (resources.files("mhubio.segdb") / "data" / "segments.csv").read_text(encoding="utf-8")
    ids = [row["id"] for row in csv.DictReader(io.StringIO(text))]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    assert sorted(ids) == segment_ids()


def test_registry_schemes_are_sct_ncit_dcm_with_valid_values():
    for definition in all_segments():
        for role, code in _codes(definition):
            assert code.scheme_designator in {"SCT", "NCIt", "DCM"}, (definition.id, role)
            if code.scheme_designator == "SCT":
                assert code.value.isdigit() and is_valid_sctid(code.value), (definition.id, role)


def test_registry_coding_is_unique():
    keys = Counter(d.coding_key for d in all_segments())
    assert [k for k, n in keys.items() if n > 1] == []


def test_registry_colors_are_rgb_bytes():
    for definition in all_segments():
        assert len(definition.color) == 3
        assert all(isinstance(c, int) and 0 <= c <= 255 for c in definition.color), definition.id


def test_registry_uses_one_meaning_per_code():
    meanings: dict[tuple[str, str], set[str]] = {}
    for definition in all_segments():
        for _, code in _codes(definition):
            meanings.setdefault((code.scheme_designator, code.value), set()).add(code.meaning)
    assert {k: v for k, v in meanings.items() if len(v) > 1} == {}


def test_registry_meanings_match_pydicom_code_dictionary():
    """Every code pydicom knows must carry the meaning the DICOM standard gives it."""
    checked = set()
    for definition in all_segments():
        for role, code in _codes(definition):
            standard = _standard_meanings(code.scheme_designator, code.value)
            if not standard:
                continue
            checked.add((code.scheme_designator, code.value))
            assert code.meaning.lower() in {m.lower() for m in standard}, (
                definition.id, role, code, standard)
    assert len(checked) >= 70


def test_registry_categories_match_dicom_type_groups():
    """A type listed in a CID 719x group must use the category of that group (CID 7150)."""
    groups = set(TYPE_GROUP_OF_CATEGORY.values())
    for definition in all_segments():
        assert definition.category.value in TYPE_GROUP_OF_CATEGORY or definition.category == Code(
            "C35869", "NCIt", "Radiologic Finding"), definition.id
        type_groups = _cids_of(definition.type) & groups
        if type_groups:
            assert TYPE_GROUP_OF_CATEGORY.get(definition.category.value) in type_groups, (
                definition.id, definition.category, type_groups)


def test_registry_modifiers_are_laterality():
    laterality = {v for kw in cid_concepts[244]["SCT"] for v in concepts["SCT"][kw]}  # CID 244
    assert laterality == {LEFT.value, RIGHT.value, BILATERAL.value, "66459002"}
    for definition in all_segments():
        for modifier in (definition.modifier, definition.anatomic_region_modifier):
            assert modifier is None or modifier.value in laterality, definition.id


def test_registry_uses_current_dicom_codes_for_common_concepts():
    assert get_segment("LUNG").type == codes.SCT.Lung
    assert get_segment("LEFT_KIDNEY").modifier == codes.SCT.Left
    assert get_segment("RIGHT_KIDNEY").modifier == codes.SCT.Right
    assert get_segment("HEART").category == codes.SCT.AnatomicalStructure
    assert get_segment("LUNG_NODULE").category == codes.SCT.MorphologicallyAbnormalStructure


@pytest.mark.parametrize(("segment_id", "category", "type_", "modifier", "region"), [
    ("ESOPHAGUS", "91723000", "32849002", None, None),
    ("HEART", "91723000", "80891009", None, None),
    ("TRACHEA", "91723000", "44567001", None, None),
    ("AORTA", "91723000", "15825003", None, None),
    ("BODY", "91723000", "38266002", None, None),
    ("BONE", "85756007", "3138006", None, None),
    ("LUNG", "91723000", "39607008", "51440002", None),
    ("LEFT_LUNG", "91723000", "39607008", "7771000", None),
    ("RIGHT_LUNG", "91723000", "39607008", "24028007", None),
    ("KIDNEY", "91723000", "64033007", "51440002", None),
    ("VERTEBRAL_COLUMN", "91723000", "421060004", None, None),
    ("LUNG_NODULE", "49755003", "27925004", None, "39607008"),
    ("FDG_AVID_TUMOR", "C35869", "C168968", None, None),
    ("FDG_AVID_LUNG_TUMOR", "C35869", "C168968", None, "39607008"),
    ("FDG_AVID_BREAST_TUMOR", "C35869", "C168968", None, "76752008"),
    ("KIDNEY_TUMOR", "49755003", "108369006", None, "64033007"),
    ("KIDNEY_CYST", "49755003", "367643001", None, "64033007"),
    ("PROSTATE", "91723000", "41216001", None, None),
    ("LIVER", "91723000", "10200004", None, None),
])
def test_model_segments_have_the_published_codes(segment_id, category, type_, modifier, region):
    definition = get_segment(segment_id)
    assert definition.category.value == category
    assert definition.type.value == type_
    assert (definition.modifier.value if definition.modifier else None) == modifier
    assert (definition.anatomic_region.value if definition.anatomic_region else None) == region


def test_get_segment_unknown_id_suggests_close_match():
    with pytest.raises(KeyError, match="Did you mean LEFT_KIDNEY"):
        get_segment("LEFT_KIDNY")
    with pytest.raises(KeyError, match="Unknown segment id 'NOTHING_LIKE_IT'"):
        get_segment("NOTHING_LIKE_IT")


# --- label maps ------------------------------------------------------------------------------


def test_label_maps_are_listed_and_unknown_names_rejected():
    assert {"segthor", "totalsegmentator_total"} <= set(label_map_names())
    with pytest.raises(KeyError, match="Unknown label map 'nope'"):
        load_label_map("nope")


def test_load_label_map_returns_a_copy():
    mapping = load_label_map("segthor")
    mapping["1"] = "HEART"
    assert load_label_map("segthor")["1"] == "ESOPHAGUS"


def test_segthor_label_map_matches_paper():
    assert load_label_map("segthor") == {"1": "ESOPHAGUS", "2": "HEART", "3": "TRACHEA", "4": "AORTA"}


def test_every_totalsegmentator_total_class_resolves():
    map_to_binary = pytest.importorskip("totalsegmentator.map_to_binary")
    classes = set(map_to_binary.class_map["total"].values())
    mapping = load_label_map("totalsegmentator_total")
    assert set(mapping) == classes
    for class_name in classes:
        assert get_segment(mapping[class_name]).id == mapping[class_name]
    assert len(set(mapping.values())) == len(classes)


def test_totalsegmentator_laterality_is_a_modifier():
    mapping = load_label_map("totalsegmentator_total")
    for class_name, segment_id in mapping.items():
        words = class_name.split("_")
        side = LEFT if "left" in words else RIGHT if "right" in words else None
        definition = get_segment(segment_id)
        if class_name in LATERAL_CONCEPTS:
            assert definition.type.value == LATERAL_CONCEPTS[class_name]
            assert definition.modifier is None
        elif side is None:
            assert definition.modifier is None and definition.anatomic_region_modifier is None, class_name
        else:
            lateralities = {c.value for c in (definition.modifier, definition.anatomic_region_modifier) if c}
            assert lateralities == {side.value}, class_name


# --- highdicom -------------------------------------------------------------------------------


def _algorithm() -> hd.AlgorithmIdentificationSequence:
    return hd.AlgorithmIdentificationSequence(
        name="test", version="1", family=codes.DCM.ArtificialIntelligence)


def _ct_slices(n: int = 2) -> list[Dataset]:
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    slices = []
    for i in range(n):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Test^Segdb", "SEGDB", "", "O"
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240101", "120000", "1", ""
        ds.ReferringPhysicianName, ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "", "CT", 1, i + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0.0, 0.0, float(i)]
        ds.PixelSpacing, ds.SliceThickness = [1.0, 1.0], 1.0
        ds.Rows = ds.Columns = 4
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.PixelData = np.zeros((4, 4), dtype=np.int16).tobytes()
        slices.append(ds)
    return slices


def test_to_segment_description_encodes_type_modifier():
    description = to_segment_description(get_segment("LEFT_KIDNEY"), 1, _algorithm())
    assert isinstance(description, hd.seg.SegmentDescription)
    assert description.SegmentLabel == "Left kidney"
    assert description.SegmentAlgorithmType == "AUTOMATIC"
    item = description.SegmentedPropertyTypeCodeSequence[0]
    assert (item.CodeValue, item.CodingSchemeDesignator) == ("64033007", "SCT")
    modifier = item.SegmentedPropertyTypeModifierCodeSequence[0]
    assert (modifier.CodeValue, modifier.CodeMeaning) == ("7771000", "Left")
    assert "AnatomicRegionSequence" not in description
    assert hd.color.CIELabColor.from_dicom_value(
        description.RecommendedDisplayCIELabValue).to_rgb() == get_segment("LEFT_KIDNEY").color


def test_to_segment_description_encodes_region_modifier():
    description = to_segment_description(get_segment("LUNG_NODULE"), 2, _algorithm())
    region = description.AnatomicRegionSequence[0]
    assert region.CodeValue == "39607008"
    assert region.AnatomicRegionModifierSequence[0].CodeValue == "51440002"
    assert "SegmentedPropertyTypeModifierCodeSequence" not in description.SegmentedPropertyTypeCodeSequence[0]


def test_segment_descriptions_survive_a_segmentation_round_trip():
    source = _ct_slices()
    names = ["LEFT_KIDNEY", "LUNG_NODULE", "FDG_AVID_TUMOR"]
    mask = np.zeros((2, 4, 4, 3), dtype=bool)
    mask[0, 1, 1, 0] = mask[1, 2, 2, 1] = mask[0, 3, 3, 2] = True
    seg = hd.seg.Segmentation(
        source_images=source,
        pixel_array=mask,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[to_segment_description(get_segment(n), i + 1, _algorithm())
                              for i, n in enumerate(names)],
        series_instance_uid=generate_uid(),
        series_number=2,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="mhubio",
        manufacturer_model_name="segdb test",
        software_versions="0",
        device_serial_number="0",
    )
    buffer = io.BytesIO()
    seg.save_as(buffer)
    buffer.seek(0)
    read = hd.seg.segread(buffer)
    kidney = read.get_segment_description(1)
    assert kidney.segmented_property_type == Code("64033007", "SCT", "Kidney")
    kidney_type = kidney.SegmentedPropertyTypeCodeSequence[0]
    assert kidney_type.SegmentedPropertyTypeModifierCodeSequence[0].CodeValue == "7771000"
    nodule = read.get_segment_description(2)
    assert nodule.anatomic_regions[0] == Code("39607008", "SCT", "Lung")
    assert nodule.AnatomicRegionSequence[0].AnatomicRegionModifierSequence[0].CodeValue == "51440002"
    tumor = pydicom.dcmread(io.BytesIO(buffer.getvalue())).SegmentSequence[2]
    assert tumor.SegmentedPropertyCategoryCodeSequence[0].CodingSchemeDesignator == "NCIt"
    assert tumor.SegmentLabel == "FDG-avid tumor"
