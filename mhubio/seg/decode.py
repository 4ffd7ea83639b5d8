"""DICOM Segmentation -> segment masks and label maps on a reference grid, named by segment id.

Any SEG decodes: BINARY, LABELMAP and FRACTIONAL (thresholded), segments that overlap (as separate masks) and
frames that cover only part of the reference grid (the rest is background).  Segments are named by
:func:`mhubio.seg.codes.segment_names`: the registry id when their codes are known, else ``segment-<number>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import highdicom as hd
import numpy as np
import SimpleITK as sitk

from mhubio.geometry import resample_labels
from mhubio.seg.codes import segment_names

__all__ = [
    "DEFAULT_FRACTIONAL_THRESHOLD",
    "FRACTIONAL_THRESHOLD_META",
    "DecodedSegment",
    "OverlappingSegmentsError",
    "check_fractional_threshold",
    "decode_label_map",
    "decode_segments",
    "segment_mask",
]

DEFAULT_FRACTIONAL_THRESHOLD = 0.5
"""Probability or occupancy from which a voxel of a FRACTIONAL segment belongs to the segment."""

FRACTIONAL_THRESHOLD_META = "fractional_threshold"
"""Metadata key of a ``dicomseg`` item: the threshold that its FRACTIONAL segments are read with."""


class OverlappingSegmentsError(ValueError):
    """Segments of a SEG share voxels, so one label map cannot hold them."""


@dataclass(frozen=True)
class DecodedSegment:
    """One segment of a SEG as a binary mask (uint8, 0/1) on the reference grid."""

    number: int
    segment_id: str
    label: str
    mask: sitk.Image


def check_fractional_threshold(value: float) -> float:
    """``value`` if it is a usable threshold of fractional segments (0 < value <= 1), else ``ValueError``."""
    if not 0.0 < value <= 1.0:
        raise ValueError(f"the fractional threshold must be above 0 and at most 1, got {value}")
    return value


def decode_segments(
    seg: hd.seg.Segmentation, reference: sitk.Image, fractional_threshold: float = DEFAULT_FRACTIONAL_THRESHOLD
) -> list[DecodedSegment]:
    """Every segment of ``seg`` as a mask on the grid of ``reference``, in Segment Sequence order.

    Masks are resampled with nearest neighbour when the SEG grid differs from ``reference``; voxels that no
    frame of the SEG covers are background.  A voxel of a FRACTIONAL segment belongs to the segment when its
    value (scaled to 0..1) is at least ``fractional_threshold``.

    Raises
    ------
    ValueError
        If the SEG is not a regularly spaced volume in patient space, a segment lacks its codes, or the
        threshold is not in (0, 1].
    """
    check_fractional_threshold(fractional_threshold)
    names = segment_names(seg)
    labels = {int(item.SegmentNumber): str(item.get("SegmentLabel", "") or "") for item in seg.SegmentSequence}
    return [
        DecodedSegment(number, segment_id, labels[number],
                       _segment_mask(seg, number, reference, fractional_threshold))
        for number, segment_id in names.items()
    ]


def _segment_mask(seg: hd.seg.Segmentation, number: int, reference: sitk.Image, threshold: float) -> sitk.Image:
    fractional = str(seg.SegmentationType) == "FRACTIONAL"
    try:
        if fractional:
            volume = seg.get_volume(segment_numbers=[number], dtype=np.float32).squeeze_channel()
            volume = volume.with_array((volume.array >= threshold).astype(np.uint8))
        else:
            volume = seg.get_volume(segment_numbers=[number], combine_segments=True, relabel=True, dtype=np.uint8)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"SEG {seg.SOPInstanceUID} segment {number} is not a regular 3-D volume: {exc}") from exc
    image = volume.to_simpleitk()
    return resample_labels(sitk.Cast(image, sitk.sitkUInt8), reference)


def segment_mask(
    seg: hd.seg.Segmentation, number: int, reference: sitk.Image,
    fractional_threshold: float = DEFAULT_FRACTIONAL_THRESHOLD,
) -> sitk.Image:
    """Segment ``number`` of ``seg`` as a uint8 0/1 mask on the grid of ``reference``, whatever its codes (a
    FRACTIONAL segment from ``fractional_threshold`` on).

    Raises
    ------
    ValueError
        If the segment is not a regularly spaced volume in patient space.
    """
    return _segment_mask(seg, number, reference, fractional_threshold)


def decode_label_map(
    seg: hd.seg.Segmentation, reference: sitk.Image, fractional_threshold: float = DEFAULT_FRACTIONAL_THRESHOLD
) -> tuple[sitk.Image, dict[int, str]]:
    """The segments of ``seg`` as one label map (label value = SegmentNumber) on ``reference``'s grid.

    Returns
    -------
    tuple
        Label map (uint16 if a segment number exceeds 255, else uint8) and label value -> segment id.

    Raises
    ------
    OverlappingSegmentsError
        If two segments share voxels.
    """
    decoded = decode_segments(seg, reference, fractional_threshold)
    dtype = np.uint16 if any(d.number > 255 for d in decoded) else np.uint8
    size = reference.GetSize()
    array = np.zeros((size[2], size[1], size[0]), dtype=dtype)
    for segment in decoded:
        mask = sitk.GetArrayViewFromImage(segment.mask).astype(bool)
        clash = np.unique(array[mask & (array > 0)])
        if clash.size:
            others = ", ".join(d.segment_id for d in decoded if d.number in set(clash.tolist()))
            raise OverlappingSegmentsError(
                f"SEG {seg.SOPInstanceUID}: segment {segment.number} ({segment.segment_id}) overlaps {others}; "
                "a label map cannot hold overlapping segments"
            )
        array[mask] = segment.number
    labels = sitk.GetImageFromArray(array)
    labels.CopyInformation(reference)
    return labels, {d.number: d.segment_id for d in decoded}
