"""Deterministic DICOM UIDs: the same seed and names give the same UIDs on every run."""

from __future__ import annotations

from pydicom.uid import UID, generate_uid


def synthetic_uid(*parts: object) -> UID:
    """UID under the pydicom root derived from a hash of ``parts``.

    Parameters
    ----------
    *parts : object
        Anything with a stable ``str``: the seed, the role of the UID ("study", "series", ...), indices.

    Returns
    -------
    pydicom.uid.UID
        A valid UID of at most 64 characters.
    """
    return generate_uid(entropy_srcs=["mhubio.synthetic", *(str(part) for part in parts)])
