"""File and folder names made from data values (UIDs, header attributes): the one way to build them.

A DICOM value is data, never a path.  :func:`safe_name` turns any value into one
path component that cannot leave its folder, cannot be hidden or empty, cannot collide
with the run's own files (``mhub_report.json``, ``mhub_logs``, ...) and cannot be
mistaken for a temporary file.  :func:`path_inside` joins such names to a base folder
and checks the result stays inside it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path, PurePosixPath

__all__ = ["RESERVED_PREFIX", "UnsafeNameError", "path_inside", "safe_name"]

RESERVED_PREFIX = "mhub_"
"""Names of the run's own files and folders start with this prefix; data names never do."""

_MAX_LENGTH = 128
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class UnsafeNameError(ValueError):
    """A path built from data would leave its folder."""


def safe_name(value: str) -> str:
    """One safe path component for the data value ``value``.

    Characters other than ASCII letters, digits, ``_``, ``.`` and ``-`` become ``_``;
    a leading dot or dash, a reserved ``mhub_`` prefix (any case) and an empty value get
    a ``_`` prefix; values longer than 128 characters are cut and end in a hash of the
    whole value, so that distinct long values keep distinct names.  Valid UIDs are
    returned unchanged.

    Parameters
    ----------
    value
        A value read from data (SeriesInstanceUID, SeriesDescription, ...).
    """
    name = _UNSAFE.sub("_", str(value))
    if not name or name[0] in ".-" or name.lower().startswith(RESERVED_PREFIX):
        name = "_" + name
    if len(name) > _MAX_LENGTH:
        digest = hashlib.sha256(str(value).encode("utf-8", "surrogatepass")).hexdigest()[:16]
        name = f"{name[: _MAX_LENGTH - 17]}_{digest}"
    return name


def path_inside(base: Path, *names: str | PurePosixPath) -> Path:
    """``base`` joined with ``names``, checked to stay inside ``base`` (links resolved).

    Raises
    ------
    UnsafeNameError
        If the joined path resolves outside ``base``.
    """
    path = Path(base).joinpath(*names)
    root = Path(base).resolve()
    resolved = path.resolve()
    if resolved != root and root not in resolved.parents:
        raise UnsafeNameError(f"{path} would be written outside {base}")
    return path
