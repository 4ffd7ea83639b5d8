"""DICOM RT Structure Set -> ROIs with their names, codes and masks on an image grid.

An ROI is named by its codes when it has them (RT ROI Identification Code Sequence, with the type modifier,
and the Segmented Property Category Code Sequence of its RT ROI Observations): the segment registry id whose
type and modifier are those codes, or the codes themselves.  An ROI without codes keeps its ROI Name as text;
no code is guessed from a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.dataelem import RawDataElement
from pydicom.sr.coding import Code
from pydicom.tag import Tag
from pydicom.uid import RTStructureSetStorage

from mhubio.rtstruct.contours import contours_to_mask
from mhubio.segdb import all_segments

__all__ = ["AREA_GEOMETRIC_TYPES", "RoiCodes", "StructureSetRoi", "read_rois", "referenced_series"]

_CONTOUR_DATA = Tag("ContourData")
AREA_GEOMETRIC_TYPES = frozenset({"CLOSED_PLANAR", "CLOSEDPLANAR_XOR"})
"""Contour Geometric Types that enclose an area; points and open contours are not rasterised."""


@dataclass(frozen=True)
class RoiCodes:
    """The codes of an ROI from its RT ROI Observations."""

    type: Code
    modifier: Code | None = None
    category: Code | None = None


@dataclass(frozen=True)
class StructureSetRoi:
    """One ROI of a structure set.

    Parameters
    ----------
    number
        ROI Number.
    name
        ROI Name (may be empty).
    frame_of_reference_uid
        Referenced Frame of Reference UID of the ROI.
    codes
        The ROI's codes, or ``None`` when it has none.
    segment_id
        The segment registry id whose type and modifier equal ``codes``, or ``None``.
    color
        ROI Display Color, or ``None``.
    generation_algorithm
        ROI Generation Algorithm (``AUTOMATIC``, ``SEMIAUTOMATIC``, ``MANUAL`` or empty).
    contours
        The closed planar contours, each an (n, 3) array in patient coordinates (mm).
    ignored_contours
        Number of contours that enclose no area (points, open contours) or have fewer than 3 points.
    """

    number: int
    name: str
    frame_of_reference_uid: str
    codes: RoiCodes | None
    segment_id: str | None
    color: tuple[int, int, int] | None
    generation_algorithm: str
    contours: tuple[np.ndarray, ...]
    ignored_contours: int

    def mask(self, grid: sitk.Image) -> np.ndarray:
        """The ROI rasterised onto ``grid`` (see :func:`mhubio.rtstruct.contours.contours_to_mask`)."""
        return contours_to_mask(self.contours, grid)


def _code(item: pydicom.Dataset) -> Code:
    return Code(str(item.CodeValue), str(item.CodingSchemeDesignator), str(item.CodeMeaning))


@cache
def _ids_by_type() -> dict[tuple, str]:
    return {(d.coding_key[0], d.coding_key[1]): d.id for d in all_segments()
            if d.anatomic_region is None}


def _key(code: Code | None) -> tuple[str, str] | None:
    return None if code is None else (code.scheme_designator, code.value)


def _roi_codes(observation: pydicom.Dataset | None) -> RoiCodes | None:
    if observation is None or not observation.get("RTROIIdentificationCodeSequence"):
        return None
    identification = observation.RTROIIdentificationCodeSequence[0]
    modifiers = identification.get("SegmentedPropertyTypeModifierCodeSequence") or []
    categories = observation.get("SegmentedPropertyCategoryCodeSequence") or []
    return RoiCodes(
        _code(identification),
        _code(modifiers[0]) if modifiers else None,
        _code(categories[0]) if categories else None,
    )


def _decimals(contour: pydicom.Dataset) -> np.ndarray:
    """Contour Data as floats, parsed from the encoded text when pydicom has not converted it yet (pydicom
    validates each DS value on conversion: seconds per structure set)."""
    element = contour.get_item(_CONTOUR_DATA)
    if element is None:
        return np.zeros(0)
    if isinstance(element, RawDataElement) and isinstance(element.value, bytes):
        text = element.value.strip(b" \0")
        return np.array(text.split(b"\\"), dtype=float) if text else np.zeros(0)
    value = contour.ContourData
    return np.asarray(value if value is not None else [], dtype=float)


def _contours(item: pydicom.Dataset | None) -> tuple[tuple[np.ndarray, ...], int]:
    contours: list[np.ndarray] = []
    ignored = 0
    for contour in (item.get("ContourSequence") or []) if item is not None else []:
        points = _decimals(contour)
        if str(contour.get("ContourGeometricType", "")) not in AREA_GEOMETRIC_TYPES or points.size < 9:
            ignored += 1
            continue
        if points.size % 3:
            raise ValueError(f"Contour Data of {points.size} values is not a list of (x, y, z) points")
        contours.append(points.reshape(-1, 3))
    return tuple(contours), ignored


def read_rois(dataset: pydicom.Dataset) -> list[StructureSetRoi]:
    """Every ROI of an RT Structure Set, in the order of its Structure Set ROI Sequence.

    Raises
    ------
    ValueError
        If ``dataset`` is not an RT Structure Set, two ROIs share a number, or Contour Data is malformed.
    """
    if str(dataset.get("SOPClassUID", "")) != RTStructureSetStorage:
        raise ValueError(f"not an RT Structure Set (SOP Class {dataset.get('SOPClassUID', 'missing')})")
    contours_by_number = {int(i.ReferencedROINumber): i for i in dataset.get("ROIContourSequence") or []}
    observations = {int(i.ReferencedROINumber): i for i in dataset.get("RTROIObservationsSequence") or []}
    rois: list[StructureSetRoi] = []
    for item in dataset.get("StructureSetROISequence") or []:
        number = int(item.ROINumber)
        if any(r.number == number for r in rois):
            raise ValueError(f"ROI Number {number} is used twice")
        codes = _roi_codes(observations.get(number))
        contour_item = contours_by_number.get(number)
        color = contour_item.get("ROIDisplayColor") if contour_item is not None else None
        contours, ignored = _contours(contour_item)
        rois.append(StructureSetRoi(
            number=number,
            name=str(item.get("ROIName", "") or ""),
            frame_of_reference_uid=str(item.get("ReferencedFrameOfReferenceUID", "") or ""),
            codes=codes,
            segment_id=None if codes is None else _ids_by_type().get((_key(codes.type), _key(codes.modifier))),
            color=(int(color[0]), int(color[1]), int(color[2])) if color is not None and len(color) == 3 else None,
            generation_algorithm=str(item.get("ROIGenerationAlgorithm", "") or "").strip().upper(),
            contours=contours,
            ignored_contours=ignored,
        ))
    return rois


def referenced_series(dataset: pydicom.Dataset) -> frozenset[str]:
    """SeriesInstanceUIDs the structure set references (Referenced Frame of Reference Sequence)."""
    return frozenset(
        str(series.SeriesInstanceUID)
        for frame in dataset.get("ReferencedFrameOfReferenceSequence") or []
        for study in frame.get("RTReferencedStudySequence") or []
        for series in study.get("RTReferencedSeriesSequence") or []
    )
