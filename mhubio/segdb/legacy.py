"""Legacy SNOMED RT (``SRT``) codes -> SNOMED CT (``SCT``), with the mapping table that pydicom maintains.

DICOM retired the ``SRT`` designator (PS3.16, Section 8): SNOMED concepts are coded with their SNOMED CT
identifier under ``SCT``.  Many published SEGs (dcmqi, older Slicer exports) still carry SRT codes such as
``T-62000`` "Liver".  :func:`modernize` maps them to the SCT code of the same concept and says what it did,
so that the mapping can be reported; codes of other schemes pass unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pydicom.sr.coding import Code

__all__ = ["LEGACY_SNOMED", "CodeMapping", "modernize", "sct_value"]

LEGACY_SNOMED = "SRT"
"""Retired coding scheme designator of SNOMED RT / SNOMED 3 codes."""


@dataclass(frozen=True)
class CodeMapping:
    """One legacy code replaced by its SNOMED CT equivalent (meaning kept from the original).

    Parameters
    ----------
    original: pydicom.sr.coding.Code
        The ``SRT`` code as found.
    mapped: pydicom.sr.coding.Code
        The ``SCT`` code of the same concept.
    """

    original: Code
    mapped: Code

    def __post_init__(self) -> None:
        if self.original.scheme_designator != LEGACY_SNOMED or self.mapped.scheme_designator != "SCT":
            raise ValueError("a CodeMapping maps an SRT code to an SCT code")

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form: ``from`` and ``to`` as ``SCHEME VALUE``, and the meaning."""
        return {
            "from": f"{self.original.scheme_designator} {self.original.value}",
            "to": f"{self.mapped.scheme_designator} {self.mapped.value}",
            "meaning": self.original.meaning,
        }


@cache
def _srt_to_sct() -> dict[str, str]:
    from pydicom.sr._snomed_dict import mapping

    return dict(mapping[LEGACY_SNOMED])


def sct_value(srt_value: str) -> str | None:
    """The SNOMED CT concept id of a SNOMED RT code value (``"T-62000"`` -> ``"10200004"``), or ``None``."""
    return _srt_to_sct().get(srt_value)


def modernize(code: Code) -> tuple[Code, CodeMapping | None]:
    """``code`` with a legacy SRT code replaced by its SCT equivalent, and the mapping applied (if any).

    An SRT code that pydicom's table does not know is returned unchanged, with no mapping: callers that
    need SCT report it.  The code meaning is kept, since both codes name the same concept.
    """
    if code.scheme_designator != LEGACY_SNOMED:
        return code, None
    value = sct_value(code.value)
    if value is None:
        return code, None
    mapped = Code(value, "SCT", code.meaning)
    return mapped, CodeMapping(code, mapped)
