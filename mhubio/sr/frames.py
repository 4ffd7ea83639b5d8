"""Image Library (TID 1600) of an enhanced multi-frame source image: one entry per frame, with its frame number.

highdicom's :class:`highdicom.sr.ImageLibrary` describes single-frame images by their top-level
geometry. The frames of an Enhanced CT/MR or Legacy Converted Enhanced image keep theirs in
functional groups, so each frame gets an entry that references the image and the frame
(ReferencedFrameNumber) and carries the frame's own pixel spacing, slice thickness,
position and orientation.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydicom.dataset import Dataset

from mhubio.dicom.frames import FramePlane, frame_planes, has_frame_planes

__all__ = ["frame_views", "is_multi_frame_source"]

# What highdicom's ImageLibraryEntryDescriptors reads besides the frame geometry.
_VIEW_KEYWORDS = ("SOPClassUID", "SOPInstanceUID", "Modality", "FrameOfReferenceUID", "Rows", "Columns",
                  "SpacingBetweenSlices")


def is_multi_frame_source(sources: Sequence[Dataset]) -> bool:
    """Whether ``sources`` is one enhanced multi-frame image (the SR then lists its frames)."""
    return len(sources) == 1 and has_frame_planes(sources[0])


def frame_views(image: Dataset) -> tuple[list[Dataset], list[int]]:
    """One header per frame of the enhanced multi-frame ``image`` (its geometry as top-level attributes, what an
    Image Library entry describes) and the frame numbers, in frame order.

    Raises
    ------
    ValueError
        If a frame lacks its position, orientation, pixel spacing or slice thickness.
    """
    planes = frame_planes(image)
    return [_frame_view(image, plane) for plane in planes], [plane.frame_number for plane in planes]


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
