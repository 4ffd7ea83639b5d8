"""Image Library (TID 1600) of an enhanced multi-frame source image: one entry per frame, with its frame number.

highdicom's :class:`highdicom.sr.ImageLibrary` describes single-frame images by their top-level
geometry. The frames of an Enhanced CT/MR or Legacy Converted Enhanced image keep theirs in
functional groups, so each frame gets an entry that references the image and the frame
(ReferencedFrameNumber) and carries the frame's own pixel spacing, slice thickness,
position and orientation.
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from mhubio.dicom.frames import FramePlane, frame_planes, has_frame_planes

__all__ = ["frame_image_library", "insert_image_library", "is_multi_frame_source"]

# What highdicom's ImageLibraryEntryDescriptors reads besides the frame geometry.
_VIEW_KEYWORDS = ("SOPClassUID", "SOPInstanceUID", "Modality", "FrameOfReferenceUID", "Rows", "Columns",
                  "SpacingBetweenSlices")


def is_multi_frame_source(sources: Sequence[Dataset]) -> bool:
    """Whether ``sources`` is one enhanced multi-frame image (the SR then lists its frames)."""
    return len(sources) == 1 and has_frame_planes(sources[0])


def frame_image_library(image: Dataset) -> hd.sr.ImageLibrary:
    """The Image Library of the frames of the enhanced multi-frame ``image``, in frame order.

    Raises
    ------
    ValueError
        If a frame lacks its position, orientation, pixel spacing or slice thickness.
    """
    planes = frame_planes(image)
    library = hd.sr.ImageLibrary([_frame_view(image, plane) for plane in planes])
    entries = [
        entry
        for group in library[0].ContentSequence
        if group.ValueType == "CONTAINER"
        for entry in group.ContentSequence
        if entry.ValueType == "IMAGE"
    ]
    for entry, plane in zip(entries, planes, strict=True):
        entry.ReferencedSOPSequence[0].ReferencedFrameNumber = plane.frame_number
    return library


def insert_image_library(report: hd.sr.MeasurementReport, library: hd.sr.ImageLibrary) -> None:
    """Put ``library`` into a TID 1500 ``report`` made without one, where TID 1500 has it (before the
    Imaging Measurements)."""
    content = report[0].ContentSequence
    measurements = codes.DCM.ImagingMeasurements
    index = next(
        (k for k, item in enumerate(content)
         if item.ConceptNameCodeSequence[0].CodeValue == measurements.value
         and item.ConceptNameCodeSequence[0].CodingSchemeDesignator == measurements.scheme_designator),
        len(content),
    )
    for offset, item in enumerate(library):
        content.insert(index + offset, item)


def _frame_view(image: Dataset, plane: FramePlane) -> Dataset:
    """The image's header with the frame's geometry as top-level attributes (what the library entry describes)."""
    missing = [
        name for name, value in (
            ("ImagePositionPatient", plane.image_position),
            ("ImageOrientationPatient", plane.image_orientation),
            ("PixelSpacing", plane.pixel_spacing),
            ("SliceThickness", plane.slice_thickness),
        ) if value is None
    ]
    if missing:
        raise ValueError(f"frame {plane.frame_number} of the source image lacks {', '.join(missing)}")
    view = Dataset()
    for keyword in _VIEW_KEYWORDS:
        if keyword in image:
            setattr(view, keyword, image[keyword].value)
    view.ImagePositionPatient = list(plane.image_position or ())
    view.ImageOrientationPatient = list(plane.image_orientation or ())
    view.PixelSpacing = list(plane.pixel_spacing or ())
    view.SliceThickness = plane.slice_thickness
    return view
