"""The DICOM UID grammar (PS3.5 section 9.1): digits and dots, at most 64 characters."""

from __future__ import annotations

import re

__all__ = ["UID_MAX_LENGTH", "is_valid_uid", "uid_problem"]

UID_MAX_LENGTH = 64
_COMPONENT = re.compile(r"0|[1-9][0-9]*")


def uid_problem(value: str) -> str | None:
    """Why ``value`` is not a valid UID, or ``None`` when it is.

    A UID is one or more dot-separated components of digits, without leading zeros
    in multi-digit components, at most 64 characters in all.  The reason never quotes
    the value (it may be hostile); callers add the UID where it is safe to.
    """
    if not value:
        return "empty UID"
    if len(value) > UID_MAX_LENGTH:
        return f"UID of {len(value)} characters, at most {UID_MAX_LENGTH} allowed"
    for component in value.split("."):
        if not component:
            return "UID with an empty component"
        if not component.isascii() or not component.isdigit():
            return "UID with a character other than digits and dots"
        if not _COMPONENT.fullmatch(component):
            return "UID component with a leading zero"
    return None


def is_valid_uid(value: str) -> bool:
    """Whether ``value`` follows the UID grammar (see :func:`uid_problem`)."""
    return uid_problem(value) is None
