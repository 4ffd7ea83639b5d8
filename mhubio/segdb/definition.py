"""Typed, validated description of one segment: codes, label and display colour."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from pydicom.sr.coding import Code

__all__ = ["CodingScheme", "SegmentDefinition", "is_valid_sctid"]

_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
_NCIT_CODE = re.compile(r"^C[0-9]+$")
_DIGITS = re.compile(r"^[0-9]+$")
_LO_MAX_CHARS = 64

# Verhoeff dihedral-group tables (SNOMED CT identifiers end in a Verhoeff check digit).
_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
# Partition identifiers of SNOMED CT concept ids: "00" (International), "10" (extension).
_SCT_CONCEPT_PARTITIONS = ("00", "10")


class CodingScheme(Enum):
    """Coding scheme designators accepted in the registry.

    The retired designator ``SRT`` is deliberately absent: SNOMED CT codes
    use ``SCT`` (DICOM PS3.16, Section 8).
    """

    SCT = "SCT"
    NCIT = "NCIt"
    DCM = "DCM"


def is_valid_sctid(value: str) -> bool:
    """Tell whether `value` is a well-formed SNOMED CT concept identifier.

    Checks the length (6 to 18 digits), the concept partition identifier and
    the Verhoeff check digit; it cannot tell whether the concept exists.

    Parameters
    ----------
    value: str
        Candidate SNOMED CT concept id, e.g. ``"39607008"``.

    Returns
    -------
    bool
        True if `value` is a syntactically valid concept id.
    """
    if not (_DIGITS.match(value) and 6 <= len(value) <= 18):
        return False
    if value[-3:-1] not in _SCT_CONCEPT_PARTITIONS:
        return False
    check = 0
    for position, digit in enumerate(reversed(value)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[position % 8][int(digit)]]
    return check == 0


def _check_code(code: Code | None, role: str, segment_id: str, required: bool) -> None:
    if code is None:
        if required:
            raise ValueError(f"Segment {segment_id}: {role} code is required.")
        return
    if not isinstance(code, Code):
        raise TypeError(
            f"Segment {segment_id}: {role} must be a pydicom.sr.coding.Code, "
            f"got {type(code).__name__}."
        )
    where = f"Segment {segment_id}: {role} code ({code.scheme_designator}, {code.value})"
    try:
        scheme = CodingScheme(code.scheme_designator)
    except ValueError:
        allowed = ", ".join(s.value for s in CodingScheme)
        raise ValueError(
            f"{where}: coding scheme must be one of {allowed}"
            + (" (SRT is retired; use SCT)." if code.scheme_designator == "SRT" else ".")
        ) from None
    if scheme is CodingScheme.SCT and not is_valid_sctid(code.value):
        raise ValueError(
            f"{where}: not a valid SNOMED CT concept id "
            "(digits, concept partition, Verhoeff check digit)."
        )
    if scheme is CodingScheme.NCIT and not _NCIT_CODE.match(code.value):
        raise ValueError(f"{where}: NCIt codes look like 'C12345'.")
    if scheme is CodingScheme.DCM and not _DIGITS.match(code.value):
        raise ValueError(f"{where}: DCM code values are digit strings.")
    if not code.meaning.strip() or len(code.meaning) > _LO_MAX_CHARS:
        raise ValueError(
            f"{where}: code meaning must be 1 to {_LO_MAX_CHARS} characters."
        )


@dataclass(frozen=True, eq=False)
class SegmentDefinition:
    """Coded description of one kind of segment in the registry.

    Parameters
    ----------
    id: str
        Registry id in UPPER_SNAKE case, e.g. ``"LEFT_KIDNEY"``.
    label: str
        Human-readable name used as SEG SegmentLabel, e.g. ``"Left kidney"``.
    category: pydicom.sr.coding.Code
        Segmented property category (DICOM CID 7150).
    type: pydicom.sr.coding.Code
        Segmented property type (DICOM CID 7151 and its sub-groups).
    modifier: pydicom.sr.coding.Code | None
        Segmented property type modifier, e.g. laterality SCT 7771000 "Left"
        (DICOM CID 244).
    anatomic_region: pydicom.sr.coding.Code | None
        Anatomic region the segment lies in, for findings such as a nodule
        in the lung.
    anatomic_region_modifier: pydicom.sr.coding.Code | None
        Modifier of `anatomic_region`, e.g. its laterality.
    color: tuple[int, int, int]
        Recommended display colour as RGB, each 0 to 255.
    """

    id: str
    label: str
    category: Code
    type: Code
    modifier: Code | None
    color: tuple[int, int, int]
    anatomic_region: Code | None = None
    anatomic_region_modifier: Code | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _SEGMENT_ID.match(self.id):
            raise ValueError(
                f"Segment id {self.id!r} must be UPPER_SNAKE case, e.g. 'LEFT_KIDNEY'."
            )
        if (
            not isinstance(self.label, str)
            or not self.label.strip()
            or len(self.label) > _LO_MAX_CHARS
            or "\\" in self.label
        ):
            raise ValueError(
                f"Segment {self.id}: label must be 1 to {_LO_MAX_CHARS} characters "
                "without backslash (DICOM LO)."
            )
        _check_code(self.category, "category", self.id, required=True)
        _check_code(self.type, "type", self.id, required=True)
        _check_code(self.modifier, "modifier", self.id, required=False)
        _check_code(self.anatomic_region, "anatomic region", self.id, required=False)
        _check_code(
            self.anatomic_region_modifier, "anatomic region modifier", self.id, required=False
        )
        if self.anatomic_region_modifier is not None and self.anatomic_region is None:
            raise ValueError(
                f"Segment {self.id}: an anatomic region modifier needs an anatomic region."
            )
        if (
            not isinstance(self.color, tuple)
            or len(self.color) != 3
            or not all(
                isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255
                for c in self.color
            )
        ):
            raise ValueError(
                f"Segment {self.id}: color must be a tuple of three integers 0-255, "
                f"got {self.color!r}."
            )

    def _fields(self) -> tuple:
        codes = (
            self.category,
            self.type,
            self.modifier,
            self.anatomic_region,
            self.anatomic_region_modifier,
        )
        return (
            self.id,
            self.label,
            *(None if c is None else (c.scheme_designator, c.value, c.meaning) for c in codes),
            self.color,
        )

    def __eq__(self, other: object) -> bool:
        # pydicom Code cannot be compared with None, so compare plain values.
        if not isinstance(other, SegmentDefinition):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    @property
    def coding_key(self) -> tuple[tuple[str, str] | None, ...]:
        """(scheme, value) of type, modifier, anatomic region and region modifier.

        Identifies what the segment represents: two registry entries must never
        share it. Plain tuples, because pydicom ``Code`` cannot be compared
        with None.
        """
        return tuple(
            None if code is None else (code.scheme_designator, code.value)
            for code in (
                self.type,
                self.modifier,
                self.anatomic_region,
                self.anatomic_region_modifier,
            )
        )
