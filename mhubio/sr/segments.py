"""What a SEG segment is, in SR terms: finding category, finding, finding site, and its segment number.

The codes are the SEG's own, for any segment (registered or not); legacy SNOMED RT codes are given as their
SNOMED CT equivalents (:mod:`mhubio.seg.codes`).

Shared by SR encoders that report on the segments of a DICOM Segmentation
(TID 1411 volumetric ROI groups referencing a segment).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import highdicom as hd
import pydicom
from pydicom.sr.coding import Code

from mhubio.seg.codes import SegmentCodes, read_segment_codes, registry_entry, segment_codes
from mhubio.segdb import get_segment

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

    Legacy SNOMED RT codes of the SEG are given as their SNOMED CT equivalents
    (:mod:`mhubio.segdb.legacy`); where the segment is in the registry, the
    registry's code meanings replace the SEG's (the codes are the same).

    Parameters
    ----------
    number: int
        SegmentNumber in the SEG.
    label: str
        SegmentLabel.
    category: highdicom.sr.CodedConcept
        Segmented property category (TID 1411 "Finding Category").
    finding: highdicom.sr.CodedConcept
        Segmented property type (TID 1411 "Finding").
    finding_site: highdicom.sr.FindingSite | None
        Anatomic location: the anatomic region of the segment if it has one,
        else the property type itself for anatomic categories (organs,
        tissues), with the laterality from the modifier; ``None`` otherwise.
    """

    number: int
    label: str
    category: hd.sr.CodedConcept
    finding: hd.sr.CodedConcept
    finding_site: hd.sr.FindingSite | None


def _concept(code: Code) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(code.value, code.scheme_designator, code.meaning)


def _segment_item(seg: pydicom.Dataset, number: int) -> pydicom.Dataset:
    for item in seg.SegmentSequence:
        if int(item.SegmentNumber) == number:
            return item
    available = ", ".join(str(int(i.SegmentNumber)) for i in seg.SegmentSequence)
    raise ValueError(f"SEG {seg.SOPInstanceUID} has no segment number {number} (it has {available})")


def _with_registry_meanings(codes: SegmentCodes) -> SegmentCodes:
    """``codes`` with the meanings of the registry entry of the same codes, if there is one."""
    entry = registry_entry(codes)
    if entry is None:
        return codes
    category = entry.category if _key(entry.category) == _key(codes.category) else codes.category
    return replace(
        codes, category=category, type=entry.type, modifier=entry.modifier, anatomic_region=entry.anatomic_region,
        anatomic_region_modifier=entry.anatomic_region_modifier,
    )


def segment_coding(seg: pydicom.Dataset, number: int) -> SegmentCoding:
    """Category, finding and finding site of segment ``number`` of ``seg``, from the SEG's own codes.

    Raises
    ------
    ValueError
        If the SEG has no such segment, or the segment lacks its category or type code.
    """
    codes = _with_registry_meanings(read_segment_codes(_segment_item(seg, number)))
    finding = _concept(codes.type)
    site: hd.sr.FindingSite | None = None
    if codes.anatomic_region is not None:
        modifier = codes.anatomic_region_modifier
        site = hd.sr.FindingSite(_concept(codes.anatomic_region),
                                 laterality=_concept(modifier) if modifier is not None else None)
    elif _key(codes.category) in ANATOMIC_CATEGORIES:
        site = hd.sr.FindingSite(finding, laterality=_concept(codes.modifier) if codes.modifier is not None else None)
    return SegmentCoding(codes.number, codes.label, _concept(codes.category), finding, site)


def _key(code: Code | None) -> tuple[str, str] | None:
    return None if code is None else (code.scheme_designator, code.value)


def segment_numbers_by_codes(seg: pydicom.Dataset, segment_ids: Iterable[str]) -> dict[str, int]:
    """Segment id -> SegmentNumber, matching the registry codes of each id to the SEG's segment codes.

    Type, type modifier, anatomic region and region modifier must all match (SEG codes in SRT
    are compared by their SCT equivalents).

    Raises
    ------
    ValueError
        If an id matches no segment or several segments of ``seg``.
    """
    by_key: dict[tuple, list[int]] = {}
    for number, codes in segment_codes(seg).items():
        by_key.setdefault(codes.coding_key, []).append(number)
    numbers: dict[str, int] = {}
    for segment_id in segment_ids:
        matches = by_key.get(get_segment(segment_id).coding_key, [])
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
