"""DICOM RT Structure Sets: label maps to contours (encode) and contours to masks on an image grid (decode)."""

from mhubio.rtstruct.contours import ContourOffGridError, contours_to_mask, mask_to_contours
from mhubio.rtstruct.decode import RoiCodes, StructureSetRoi, read_rois, referenced_series
from mhubio.rtstruct.encode import (
    EmptyStructureSetError,
    RtstructOptions,
    RtstructResult,
    encode_rtstruct,
)

__all__ = [
    "ContourOffGridError",
    "EmptyStructureSetError",
    "RoiCodes",
    "RtstructOptions",
    "RtstructResult",
    "StructureSetRoi",
    "contours_to_mask",
    "encode_rtstruct",
    "mask_to_contours",
    "read_rois",
    "referenced_series",
]
