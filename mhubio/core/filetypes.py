"""Closed set of file types that data items carry."""

from __future__ import annotations

from enum import Enum


class FileType(Enum):
    """Type of a data item; the value is the name used in queries (``nifti:mod=ct``)."""

    DICOM = "dicom"
    NIFTI = "nifti"
    NRRD = "nrrd"
    DICOMSEG = "dicomseg"
    DICOMSR = "dicomsr"
    RTSTRUCT = "rtstruct"
    JSON = "json"
    CSV = "csv"
    TXT = "txt"

    @property
    def suffix(self) -> str:
        """File name suffix used for items of this type."""
        return _SUFFIXES[self]

    @classmethod
    def from_name(cls, name: str) -> FileType:
        """Look a type up by its query name, with an actionable error."""
        try:
            return cls(name.lower())
        except ValueError:
            known = ", ".join(t.value for t in cls)
            raise ValueError(f"unknown file type {name!r} (known: {known})") from None


_SUFFIXES = {
    FileType.DICOM: "",
    FileType.NIFTI: ".nii",  # work files: uncompressed is ~30x faster to write; exports may compress
    FileType.NRRD: ".nrrd",
    FileType.DICOMSEG: ".seg.dcm",
    FileType.DICOMSR: ".sr.dcm",
    FileType.RTSTRUCT: ".rtstruct.dcm",
    FileType.JSON: ".json",
    FileType.CSV: ".csv",
    FileType.TXT: ".txt",
}
