"""The codes of the segments of any DICOM SEG, legacy SNOMED RT codes mapped to SNOMED CT, and their names.

Every segment of a SEG can be measured, whether or not :mod:`mhubio.segdb` knows its codes: a segment whose
codes (type, type modifier, anatomic region, region modifier) equal those of one registry entry is named by the
registry id; any other segment is named ``segment-<SegmentNumber>`` (a form no registry id can take) and keeps
its own codes.  Legacy ``SRT`` codes are replaced by their ``SCT`` equivalents first
(:func:`mhubio.segdb.legacy.modernize`) and each replacement is recorded.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import cache

import pydicom
from pydicom.sr.coding import Code

from mhubio.segdb import SegmentDefinition, all_segments
from mhubio.segdb.legacy import LEGACY_SNOMED, CodeMapping, modernize

__all__ = [
    "BACKGROUND_SEGMENT",
    "SegmentCodes",
    "is_unregistered_id",
    "read_segment_codes",
    "registry_entry",
    "segment_codes",
    "segment_names",
    "unregistered_id",
]

_UNREGISTERED = re.compile(r"^segment-([1-9][0-9]*)$")

CodingKey = tuple[tuple[str, str] | None, ...]

BACKGROUND_SEGMENT = 0
"""SegmentNumber of the background of a LABELMAP SEG (pixel value 0), never a segment to measure."""


def unregistered_id(number: int) -> str:
    """The segment id of a SEG segment that has no registry entry: ``segment-<number>``."""
    return f"segment-{int(number)}"


def is_unregistered_id(segment_id: str) -> bool:
    """Whether ``segment_id`` names a SEG segment by its number (see :func:`unregistered_id`)."""
    return _UNREGISTERED.match(segment_id) is not None


def _key(code: Code | None) -> tuple[str, str] | None:
    return None if code is None else (code.scheme_designator, code.value)


@dataclass(frozen=True)
class SegmentCodes:
    """The codes of one SEG segment, SRT codes replaced by SCT.

    Parameters
    ----------
    number: int
        SegmentNumber.
    label: str
        SegmentLabel (may be empty).
    category, type: pydicom.sr.coding.Code
        Segmented property category and type.
    modifier: pydicom.sr.coding.Code | None
        Segmented property type modifier (the first one).
    anatomic_region, anatomic_region_modifier: pydicom.sr.coding.Code | None
        Anatomic region of the segment and its modifier.
    mappings: tuple[tuple[str, CodeMapping], ...]
        (role, mapping) of every SRT code replaced, roles as the registry names them
        (``category``, ``type``, ``modifier``, ``region``, ``region_modifier``).
    unmapped: tuple[tuple[str, Code], ...]
        (role, code) of the SRT codes that have no SCT equivalent in the table (kept as found).
    """

    number: int
    label: str
    category: Code
    type: Code
    modifier: Code | None = None
    anatomic_region: Code | None = None
    anatomic_region_modifier: Code | None = None
    mappings: tuple[tuple[str, CodeMapping], ...] = ()
    unmapped: tuple[tuple[str, Code], ...] = ()

    @property
    def coding_key(self) -> CodingKey:
        """(scheme, value) of type, modifier, anatomic region and region modifier, as
        :attr:`mhubio.segdb.SegmentDefinition.coding_key`."""
        return tuple(
            _key(c) for c in (self.type, self.modifier, self.anatomic_region, self.anatomic_region_modifier)
        )

    def describe(self) -> str:
        """Short text of the codes, for messages: ``type SCT 10200004 'Liver', modifier ...``."""
        text = f"type {self.type.scheme_designator} {self.type.value} {self.type.meaning!r}"
        if self.modifier is not None:
            text += f", modifier {self.modifier.scheme_designator} {self.modifier.value}"
        if self.anatomic_region is not None:
            text += f", region {self.anatomic_region.scheme_designator} {self.anatomic_region.value}"
        return text

    def mapping_records(self) -> list[dict[str, str | int]]:
        """The SRT -> SCT replacements of this segment, JSON-ready, one per code."""
        return [{"segment": self.number, "role": role, **m.as_dict()} for role, m in self.mappings]


def _code(item: pydicom.Dataset) -> Code:
    return Code(str(item.CodeValue), str(item.CodingSchemeDesignator), str(item.CodeMeaning))


def _first(sequence: pydicom.Sequence | None) -> pydicom.Dataset | None:
    return sequence[0] if sequence else None


def read_segment_codes(item: pydicom.Dataset) -> SegmentCodes:
    """The codes of one Segment Sequence item, SRT codes replaced by SCT where the table knows them.

    Raises
    ------
    ValueError
        If the item lacks a category or type code.
    """
    number = int(item.SegmentNumber)
    categories = item.get("SegmentedPropertyCategoryCodeSequence")
    types = item.get("SegmentedPropertyTypeCodeSequence")
    if not categories or not types:
        raise ValueError(f"segment {number} has no segmented property category or type code")
    type_item = types[0]
    region_item = _first(item.get("AnatomicRegionSequence"))
    found: dict[str, pydicom.Dataset | None] = {
        "category": categories[0],
        "type": type_item,
        "modifier": _first(type_item.get("SegmentedPropertyTypeModifierCodeSequence")),
        "region": region_item,
        "region_modifier": None if region_item is None else _first(region_item.get("AnatomicRegionModifierSequence")),
    }
    codes: dict[str, Code | None] = {}
    mappings: list[tuple[str, CodeMapping]] = []
    unmapped: list[tuple[str, Code]] = []
    for role, code_item in found.items():
        if code_item is None:
            codes[role] = None
            continue
        code, mapping = modernize(_code(code_item))
        codes[role] = code
        if mapping is not None:
            mappings.append((role, mapping))
        elif code.scheme_designator == LEGACY_SNOMED:
            unmapped.append((role, code))
    category, type_code = codes["category"], codes["type"]
    assert category is not None and type_code is not None
    return SegmentCodes(
        number, str(item.get("SegmentLabel", "") or ""), category, type_code, codes["modifier"], codes["region"],
        codes["region_modifier"], tuple(mappings), tuple(unmapped),
    )


@cache
def _registry_by_key() -> dict[CodingKey, SegmentDefinition]:
    return {definition.coding_key: definition for definition in all_segments()}


def registry_entry(codes: SegmentCodes) -> SegmentDefinition | None:
    """The registry entry with the same type, modifier, anatomic region and region modifier, or ``None``."""
    return _registry_by_key().get(codes.coding_key)


def segment_codes(seg: pydicom.Dataset) -> dict[int, SegmentCodes]:
    """SegmentNumber -> codes of every segment of ``seg``, in Segment Sequence order.

    Raises
    ------
    ValueError
        If a segment lacks its category or type code, or a SegmentNumber is repeated.
    """
    out: dict[int, SegmentCodes] = {}
    for item in seg.SegmentSequence:
        codes = read_segment_codes(item)
        if codes.number in out:
            raise ValueError(f"SEG {seg.SOPInstanceUID} repeats segment number {codes.number}")
        out[codes.number] = codes
    return out


def segment_names(seg: pydicom.Dataset) -> dict[int, str]:
    """SegmentNumber -> segment id of every segment of ``seg`` but the background of a LABELMAP SEG.

    The registry id when the segment's codes are those of a registry entry and no other segment of ``seg``
    has the same codes; otherwise ``segment-<number>``.  Segment 0 of a LABELMAP SEG is the background
    (pixel value 0; highdicom describes it as a segment) and is left out.
    """
    codes = {n: c for n, c in segment_codes(seg).items() if n != BACKGROUND_SEGMENT}
    entries = {number: registry_entry(c) for number, c in codes.items()}
    used = Counter(e.id for e in entries.values() if e is not None)
    return {
        number: entry.id if entry is not None and used[entry.id] == 1 else unregistered_id(number)
        for number, entry in entries.items()
    }
