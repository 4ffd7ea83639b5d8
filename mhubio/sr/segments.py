"""What a SEG segment is, in SR terms: finding, finding site, and its segment number.

Shared by SR encoders that report on the segments of a DICOM Segmentation
(TID 1411 volumetric ROI groups referencing a segment).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import highdicom as hd
import pydicom
from pydicom.sr.coding import Code

from mhubio.segdb import SegmentDefinition, get_segment

__all__ = [
    "ANATOMIC_CATEGORIES",
    "SegmentCoding",
    "check_segment_numbers",
    "segment_coding",
    "segment_numbers_by_codes",
    "segment_tracking_uid",
]

ANATOMIC_CATEGORIES: frozenset[tuple[str, str]] = frozenset(
    {
        ("SCT", "91723000"),  # Anatomical Structure
        ("SCT", "123037004"),  # Anatomical Structure (retired code, still in published SEGs)
        ("SCT", "91772007"),  # Organ
        ("SCT", "113343008"),  # Organ (code printed in paper 000)
        ("SCT", "85756007"),  # Tissue
        ("SCT", "38866009"),  # Body part
    }
)
"""Segmented property categories whose type code names an anatomic location (the finding site is the type)."""


@dataclass(frozen=True)
class SegmentCoding:
    """The codes of one SEG segment as an SR finding.

    Parameters
    ----------
    number: int
        SegmentNumber in the SEG.
    label: str
        SegmentLabel.
    finding: highdicom.sr.CodedConcept
        Segmented property type (TID 1411 "Finding").
    finding_site: highdicom.sr.FindingSite | None
        Anatomic location: the anatomic region of the segment if it has one,
        else the property type itself for anatomic categories (organs,
        tissues), with the laterality from the modifier; ``None`` otherwise.
    """

    number: int
    label: str
    finding: hd.sr.CodedConcept
    finding_site: hd.sr.FindingSite | None


def _concept(item: pydicom.Dataset) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(str(item.CodeValue), str(item.CodingSchemeDesignator), str(item.CodeMeaning))


def _segment_item(seg: pydicom.Dataset, number: int) -> pydicom.Dataset:
    for item in seg.SegmentSequence:
        if int(item.SegmentNumber) == number:
            return item
    available = ", ".join(str(int(i.SegmentNumber)) for i in seg.SegmentSequence)
    raise ValueError(f"SEG {seg.SOPInstanceUID} has no segment number {number} (it has {available})")


def segment_coding(seg: pydicom.Dataset, number: int) -> SegmentCoding:
    """Finding and finding site of segment ``number`` of ``seg``, from the SEG's own codes.

    Raises
    ------
    ValueError
        If the SEG has no such segment.
    """
    item = _segment_item(seg, number)
    type_item = item.SegmentedPropertyTypeCodeSequence[0]
    finding = _concept(type_item)
    category = item.SegmentedPropertyCategoryCodeSequence[0]
    site: hd.sr.FindingSite | None = None
    region_sequence = item.get("AnatomicRegionSequence")
    if region_sequence:
        region = region_sequence[0]
        modifiers = region.get("AnatomicRegionModifierSequence") or []
        site = hd.sr.FindingSite(_concept(region), laterality=_concept(modifiers[0]) if modifiers else None)
    elif (str(category.CodingSchemeDesignator), str(category.CodeValue)) in ANATOMIC_CATEGORIES:
        modifiers = type_item.get("SegmentedPropertyTypeModifierCodeSequence") or []
        site = hd.sr.FindingSite(finding, laterality=_concept(modifiers[0]) if modifiers else None)
    return SegmentCoding(int(item.SegmentNumber), str(item.get("SegmentLabel", "")), finding, site)


def _key(code: Code | pydicom.Dataset | None) -> tuple[str, str] | None:
    if code is None:
        return None
    if isinstance(code, Code):
        return (code.scheme_designator, code.value)
    return (str(code.CodingSchemeDesignator), str(code.CodeValue))


def _definition_key(definition: SegmentDefinition) -> tuple[tuple[str, str] | None, ...]:
    return (
        _key(definition.type),
        _key(definition.modifier),
        _key(definition.anatomic_region),
        _key(definition.anatomic_region_modifier),
    )


def _seg_item_key(item: pydicom.Dataset) -> tuple[tuple[str, str] | None, ...]:
    type_item = item.SegmentedPropertyTypeCodeSequence[0]
    modifiers = type_item.get("SegmentedPropertyTypeModifierCodeSequence") or [None]
    regions = item.get("AnatomicRegionSequence") or [None]
    region = regions[0]
    region_modifiers = (region.get("AnatomicRegionModifierSequence") if region is not None else None) or [None]
    return (_key(type_item), _key(modifiers[0]), _key(region), _key(region_modifiers[0]))


def segment_numbers_by_codes(seg: pydicom.Dataset, segment_ids: Iterable[str]) -> dict[str, int]:
    """Segment id -> SegmentNumber, matching the registry codes of each id to the SEG's segment codes.

    Type, type modifier, anatomic region and region modifier must all match.

    Raises
    ------
    ValueError
        If an id matches no segment or several segments of ``seg``.
    """
    by_key: dict[tuple, list[int]] = {}
    for item in seg.SegmentSequence:
        by_key.setdefault(_seg_item_key(item), []).append(int(item.SegmentNumber))
    numbers: dict[str, int] = {}
    for segment_id in segment_ids:
        matches = by_key.get(_definition_key(get_segment(segment_id)), [])
        if len(matches) != 1:
            found = "no segment" if not matches else f"segments {matches}"
            raise ValueError(
                f"segment {segment_id}: {found} of SEG {seg.SOPInstanceUID} carries its codes; "
                "pass the segment numbers explicitly"
            )
        numbers[segment_id] = matches[0]
    return numbers


def check_segment_numbers(seg: pydicom.Dataset, numbers: Mapping[str, int]) -> None:
    """Raise ``ValueError`` if a number is not a segment of ``seg`` or is given to two ids."""
    present = {int(i.SegmentNumber) for i in seg.SegmentSequence}
    unknown = {k: v for k, v in numbers.items() if v not in present}
    if unknown:
        raise ValueError(f"SEG {seg.SOPInstanceUID} has no segments {unknown} (it has {sorted(present)})")
    values = list(numbers.values())
    shared = sorted({v for v in values if values.count(v) > 1})
    if shared:
        raise ValueError(f"segment numbers {shared} are given to more than one segment id")


def segment_tracking_uid(seg: pydicom.Dataset, number: int) -> str | None:
    """TrackingUID of segment ``number`` of ``seg``; ``None`` if the segment has none (it is optional).

    Raises
    ------
    ValueError
        If the SEG has no such segment.
    """
    uid = str(_segment_item(seg, number).get("TrackingUID", "") or "").strip()
    return uid or None
