"""Values of a few header attributes decoded straight from their encoded bytes, where the encoding is plain.

The scan reads about twenty attributes of every file of an input, and pydicom's general value conversion (VR
lookup, validation, value classes) took about as long as parsing the header. Most values are plain: ASCII
numbers and UIDs, a little endian ``US``. Those are decoded here into what the scan makes of pydicom's value.
Anything else (a VR other than the standard's, a value not read yet, a multi-valued text, a number that pydicom
would convert differently or reject, big endian) raises :class:`Undecoded`, and the caller lets pydicom convert
it. Text VRs whose meaning depends on the Specific Character Set (``LO``, ``SH``, ``PN``) are not decoded here.
"""

from __future__ import annotations

import re

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

__all__ = ["Undecoded", "plain_floats", "plain_integer", "plain_strings", "plain_text"]

_TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "TM", "UI"})
_INTEGER = re.compile(r" *[+-]?[0-9]{1,12} *")
"""An ``IS`` value that pydicom reads as this integer (at most 12 digits, so that it is exact as a float too)."""
_DECIMAL = re.compile(r" *[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)? *")
"""A ``DS`` value that pydicom reads as ``float`` of it (no ``nan`` or ``inf``)."""


class Undecoded(Exception):
    """The value is not plain: pydicom's conversion decides what it is."""


def plain_text(dataset: Dataset, keyword: str) -> str:
    """A single ``AE``, ``AS``, ``CS``, date/time or ``UI`` value as ``str`` of pydicom's value, ``""`` where the
    attribute is absent or empty."""
    element = _raw_element(dataset, keyword, _TEXT_VRS)
    if element is None:
        return ""
    text = _text(element)
    if "\\" in text:
        raise Undecoded
    return text


def plain_strings(dataset: Dataset, keyword: str) -> tuple[str, ...]:
    """The values of a multi-valued ``CS`` (or other text VR of :func:`plain_text`) as pydicom splits them;
    ``()`` where the attribute is absent or empty."""
    element = _raw_element(dataset, keyword, _TEXT_VRS)
    if element is None:
        return ()
    text = _text(element)
    return tuple(text.split("\\")) if text else ()


def plain_integer(dataset: Dataset, keyword: str) -> int | None:
    """A single ``IS`` or ``US`` value as an integer; ``None`` where the attribute is absent or empty."""
    element = _raw_element(dataset, keyword, frozenset({"IS", "US"}))
    if element is None:
        return None
    if _VRS[keyword] == "US":
        value = _value(element)
        if len(value) != 2 or not element.is_little_endian:
            raise Undecoded
        return int.from_bytes(value, "little")
    text = _text(element)
    if not _INTEGER.fullmatch(text):
        raise Undecoded
    return int(text)


def plain_floats(dataset: Dataset, keyword: str) -> tuple[float, ...] | None:
    """The ``DS`` values as floats; ``None`` where the attribute is absent or empty."""
    element = _raw_element(dataset, keyword, frozenset({"DS"}))
    if element is None:
        return None
    parts = _text(element).split("\\")
    if not all(_DECIMAL.fullmatch(part) for part in parts):
        raise Undecoded
    return tuple(float(part) for part in parts)


_TAGS: dict[str, int] = {}
_VRS: dict[str, str] = {}


def _raw_element(dataset: Dataset, keyword: str, vrs: frozenset[str]) -> RawDataElement | None:
    """The element of ``keyword`` while still encoded; ``None`` where absent or empty.

    Raises :class:`Undecoded` unless it is a raw element whose value was read, with the standard's VR (implicit
    or explicit), one of ``vrs``. Emptiness is that of the bytes read, not of the declared length: a file cut
    inside a value leaves fewer bytes than declared, and pydicom converts the bytes it has.
    """
    tag = _TAGS.get(keyword)
    if tag is None:
        tag = tag_for_keyword(keyword)
        if tag is None:
            raise KeyError(f"{keyword} is not a DICOM keyword")
        _TAGS[keyword], _VRS[keyword] = tag, dictionary_VR(tag)
    element = dataset.get_item(tag, keep_deferred=True)
    if element is None:
        return None
    vr = _VRS[keyword]
    if not isinstance(element, RawDataElement) or vr not in vrs or element.VR not in (None, vr):
        raise Undecoded
    if not _value(element):
        return None
    return element


def _value(element: RawDataElement) -> bytes:
    if element.value is None:
        raise Undecoded
    return element.value


def _text(element: RawDataElement) -> str:
    """The value as pydicom decodes text of a VR without character set (ISO 8859-1), less trailing padding."""
    return _value(element).decode("latin-1").rstrip(" \x00")
