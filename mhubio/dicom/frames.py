"""Per-frame geometry and rescale of enhanced multi-frame images (functional groups).

Enhanced CT, Enhanced MR and Legacy Converted Enhanced images keep the plane
position, orientation, pixel measures and rescale of each frame in the
Per-frame Functional Groups Sequence, or once for all frames in the Shared
Functional Groups Sequence (PS3.3 C.7.6.16). :func:`frame_planes` resolves both
into one :class:`FramePlane` per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import (
    EnhancedCTImageStorage,
    EnhancedMRImageStorage,
    EnhancedPETImageStorage,
    LegacyConvertedEnhancedCTImageStorage,
    LegacyConvertedEnhancedMRImageStorage,
    LegacyConvertedEnhancedPETImageStorage,
)

from mhubio.geometry import SeriesGeometry, orientation_normal

__all__ = [
    "ENHANCED_IMAGE_STORAGE",
    "FUNCTIONAL_GROUP_KEYWORDS",
    "FramePlane",
    "frame_planes",
    "has_frame_planes",
    "is_multi_frame",
    "multi_frame_geometry",
]

FUNCTIONAL_GROUP_KEYWORDS = ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence")
"""Top-level attributes that hold the functional groups."""

ENHANCED_IMAGE_STORAGE = frozenset({
    EnhancedCTImageStorage,
    EnhancedMRImageStorage,
    EnhancedPETImageStorage,
    LegacyConvertedEnhancedCTImageStorage,
    LegacyConvertedEnhancedMRImageStorage,
    LegacyConvertedEnhancedPETImageStorage,
})
"""SOP classes of the enhanced multi-frame cross-sectional images whose frames are read as slices (derived
objects with functional groups, such as a SEG, are not images of the series)."""


@dataclass(frozen=True)
class FramePlane:
    """Geometry and rescale of one frame of an enhanced multi-frame image.

    Attributes
    ----------
    frame_number
        One-based frame number (the value a ReferencedFrameNumber carries).
    image_position, image_orientation, pixel_spacing, slice_thickness
        ImagePositionPatient, ImageOrientationPatient, PixelSpacing (row, column) and SliceThickness of
        the frame, ``None`` where the functional groups lack them.
    rescale_slope, rescale_intercept
        Pixel Value Transformation of the frame, ``None`` where absent.
    """

    frame_number: int
    image_position: tuple[float, float, float] | None
    image_orientation: tuple[float, float, float, float, float, float] | None
    pixel_spacing: tuple[float, float] | None
    slice_thickness: float | None
    rescale_slope: float | None
    rescale_intercept: float | None


def is_multi_frame(dataset: Dataset) -> bool:
    """Whether ``dataset`` is a multi-frame image (an enhanced image of one frame included)."""
    return "PerFrameFunctionalGroupsSequence" in dataset or int(dataset.get("NumberOfFrames", 1) or 1) > 1


def has_frame_planes(dataset: Dataset, sop_class_uid: str = "") -> bool:
    """Whether ``dataset`` is an enhanced image (:data:`ENHANCED_IMAGE_STORAGE`) whose frames carry a Plane
    Position Sequence (per frame, or shared, as in an image of one frame).

    ``sop_class_uid`` overrides the data set's SOPClassUID (e.g. with the file meta's MediaStorageSOPClassUID).
    """
    if (sop_class_uid or str(dataset.get("SOPClassUID", ""))) not in ENHANCED_IMAGE_STORAGE:
        return False
    per_frame = dataset.get("PerFrameFunctionalGroupsSequence")
    shared = dataset.get("SharedFunctionalGroupsSequence") or []
    groups = [*(per_frame or []), *shared[:1]]
    return bool(per_frame) and any("PlanePositionSequence" in item for item in groups)


def frame_planes(dataset: Dataset) -> tuple[FramePlane, ...]:
    """The geometry and rescale of every frame of an enhanced multi-frame ``dataset``.

    Per-frame values take precedence over shared ones.

    Raises
    ------
    ValueError
        If the Per-frame Functional Groups Sequence is missing, does not hold one item per frame,
        or a geometry value is malformed.
    """
    per_frame = dataset.get("PerFrameFunctionalGroupsSequence")
    if not per_frame:
        raise ValueError("the Per-frame Functional Groups Sequence is missing")
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if len(per_frame) != frames:
        raise ValueError(
            f"the Per-frame Functional Groups Sequence has {len(per_frame)} items for {frames} frames"
        )
    shared_sequence = dataset.get("SharedFunctionalGroupsSequence")
    shared = shared_sequence[0] if shared_sequence else Dataset()
    return tuple(_frame_plane(number, item, shared) for number, item in enumerate(per_frame, start=1))


def multi_frame_geometry(dataset: Dataset) -> tuple[SeriesGeometry, list[int]]:
    """The voxel grid of an enhanced multi-frame ``dataset`` and its frames in grid order.

    Frames are sorted along the slice normal of the first frame, as the frames of an
    indexed series are (:meth:`~mhubio.dicom.DicomSeries.sorted_instances`).

    Returns
    -------
    tuple
        The grid, and the zero-based frame index of each slice of the grid.

    Raises
    ------
    ValueError
        If a frame lacks its position, or the first frame its orientation, pixel spacing or matrix size.
    """
    planes = frame_planes(dataset)
    first = planes[0]
    if first.image_orientation is None or first.pixel_spacing is None:
        raise ValueError("the first frame needs ImageOrientationPatient and PixelSpacing")
    if any(p.image_position is None for p in planes):
        raise ValueError("every frame needs ImagePositionPatient")
    normal = orientation_normal(first.image_orientation)
    locations = [float(np.dot(normal, np.asarray(p.image_position, float))) for p in planes]
    order = sorted(range(len(planes)), key=lambda k: (locations[k], k))
    start = planes[order[0]].image_position
    assert start is not None
    geometry = SeriesGeometry.from_slices(
        start,
        first.image_orientation,
        first.pixel_spacing,
        int(dataset.Rows),
        int(dataset.Columns),
        [locations[k] for k in order],
        first.slice_thickness,
    )
    return geometry, order


def _frame_plane(number: int, item: Dataset, shared: Dataset) -> FramePlane:
    def value(sequence: str, keyword: str) -> Any:
        for group in (item, shared):
            entries = group.get(sequence)
            if entries and keyword in entries[0] and entries[0].get(keyword) not in (None, ""):
                return entries[0].get(keyword)
        return None

    return FramePlane(
        frame_number=number,
        image_position=_position(value("PlanePositionSequence", "ImagePositionPatient")),
        image_orientation=_orientation(value("PlaneOrientationSequence", "ImageOrientationPatient")),
        pixel_spacing=_spacing(value("PixelMeasuresSequence", "PixelSpacing")),
        slice_thickness=_float(value("PixelMeasuresSequence", "SliceThickness")),
        rescale_slope=_float(value("PixelValueTransformationSequence", "RescaleSlope")),
        rescale_intercept=_float(value("PixelValueTransformationSequence", "RescaleIntercept")),
    )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def _floats(value: Any, count: int) -> tuple[float, ...] | None:
    if value is None:
        return None
    values = tuple(float(v) for v in _as_list(value))
    if len(values) != count:
        raise ValueError(f"a functional group value has {len(values)} values, {count} expected")
    return values


def _position(value: Any) -> tuple[float, float, float] | None:
    values = _floats(value, 3)
    return None if values is None else (values[0], values[1], values[2])


def _orientation(value: Any) -> tuple[float, float, float, float, float, float] | None:
    values = _floats(value, 6)
    return None if values is None else (values[0], values[1], values[2], values[3], values[4], values[5])


def _spacing(value: Any) -> tuple[float, float] | None:
    values = _floats(value, 2)
    return None if values is None else (values[0], values[1])


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
