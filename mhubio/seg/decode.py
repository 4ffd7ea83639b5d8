"""DICOM Segmentation -> segment masks and label maps on a reference grid, named by segdb segment id."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import highdicom as hd
import numpy as np
import pydicom
import SimpleITK as sitk

from mhubio.geometry import resample_labels
from mhubio.segdb import all_segments

__all__ = [
    "DecodedSegment",
    "OverlappingSegmentsError",
    "UnknownSegment",
    "decode_label_map",
    "decode_segments",
    "name_segments",
    "segment_id_of",
    "segment_mask",
]


class OverlappingSegmentsError(ValueError):
    """Segments of a SEG share voxels, so one label map cannot hold them."""


@dataclass(frozen=True)
class DecodedSegment:
    """One segment of a SEG as a binary mask (uint8, 0/1) on the reference grid."""

    number: int
    segment_id: str
    label: str
    mask: sitk.Image


@dataclass(frozen=True)
class UnknownSegment:
    """A SEG segment whose codes match no segdb entry."""

    number: int
    label: str
    codes: str


def _key(item: pydicom.Dataset | None) -> tuple[str, str] | None:
    if item is None:
        return None
    return (str(item.CodingSchemeDesignator), str(item.CodeValue))


@cache
def _ids_by_coding_key() -> dict[tuple, str]:
    return {definition.coding_key: definition.id for definition in all_segments()}


def segment_id_of(item: pydicom.Dataset) -> str | None:
    """The segdb id whose codes (type, type modifier, anatomic region, region modifier) equal those of a
    Segment Sequence item, or ``None``."""
    type_item = item.SegmentedPropertyTypeCodeSequence[0]
    modifiers = type_item.get("SegmentedPropertyTypeModifierCodeSequence") or [None]
    regions = item.get("AnatomicRegionSequence") or [None]
    region_modifiers = (regions[0].get("AnatomicRegionModifierSequence") if regions[0] is not None else None) or [None]
    key = (_key(type_item), _key(modifiers[0]), _key(regions[0]), _key(region_modifiers[0]))
    return _ids_by_coding_key().get(key)


def _describe(item: pydicom.Dataset) -> str:
    type_item = item.SegmentedPropertyTypeCodeSequence[0]
    text = f"type {type_item.CodingSchemeDesignator} {type_item.CodeValue} {type_item.CodeMeaning!r}"
    for modifier in type_item.get("SegmentedPropertyTypeModifierCodeSequence") or []:
        text += f", modifier {modifier.CodingSchemeDesignator} {modifier.CodeValue}"
    for region in item.get("AnatomicRegionSequence") or []:
        text += f", region {region.CodingSchemeDesignator} {region.CodeValue}"
    return text


def name_segments(seg: pydicom.Dataset) -> tuple[dict[int, str], list[UnknownSegment]]:
    """SegmentNumber -> segdb id of every segment whose codes are in the registry, and the others.

    Raises
    ------
    ValueError
        If two segments map to the same segdb id.
    """
    named: dict[int, str] = {}
    unknown: list[UnknownSegment] = []
    for item in seg.SegmentSequence:
        number = int(item.SegmentNumber)
        segment_id = segment_id_of(item)
        if segment_id is None:
            unknown.append(UnknownSegment(number, str(item.get("SegmentLabel", "")), _describe(item)))
        else:
            named[number] = segment_id
    ids = list(named.values())
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"SEG {seg.SOPInstanceUID}: several segments have the codes of {', '.join(repeated)}")
    return named, unknown


def decode_segments(
    seg: hd.seg.Segmentation, reference: sitk.Image
) -> tuple[list[DecodedSegment], list[UnknownSegment]]:
    """Every named segment of ``seg`` (see :func:`name_segments`) as a mask on the grid of ``reference``.

    Masks are resampled with nearest neighbour when the SEG grid differs from
    ``reference``.  Segments whose codes have no segdb entry are returned
    separately, so that the caller decides whether to go on without them.

    Raises
    ------
    ValueError
        If the SEG is not a regularly spaced volume in patient space, or two
        segments map to the same segdb id.
    """
    named, unknown = name_segments(seg)
    labels = {int(item.SegmentNumber): str(item.get("SegmentLabel", "")) for item in seg.SegmentSequence}
    decoded = [
        DecodedSegment(number, segment_id, labels[number], _segment_mask(seg, number, reference))
        for number, segment_id in named.items()
    ]
    return decoded, unknown


def _segment_mask(seg: hd.seg.Segmentation, number: int, reference: sitk.Image) -> sitk.Image:
    try:
        volume = seg.get_volume(segment_numbers=[number], combine_segments=True, relabel=True, dtype=np.uint8)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"SEG {seg.SOPInstanceUID} segment {number} is not a regular 3-D volume: {exc}") from exc
    image = volume.to_simpleitk()
    return resample_labels(sitk.Cast(image, sitk.sitkUInt8), reference)


def segment_mask(seg: hd.seg.Segmentation, number: int, reference: sitk.Image) -> sitk.Image:
    """Segment ``number`` of ``seg`` as a uint8 0/1 mask on the grid of ``reference``, whatever its codes.

    Raises
    ------
    ValueError
        If the segment is not a regularly spaced volume in patient space.
    """
    return _segment_mask(seg, number, reference)


def decode_label_map(
    seg: hd.seg.Segmentation, reference: sitk.Image
) -> tuple[sitk.Image, dict[int, str], list[UnknownSegment]]:
    """The known segments of ``seg`` as one label map (label value = SegmentNumber) on ``reference``'s grid.

    Returns
    -------
    tuple
        Label map (uint16 if a segment number exceeds 255, else uint8), label
        value -> segment id, and the segments without a segdb entry (left out).

    Raises
    ------
    OverlappingSegmentsError
        If two known segments share voxels.
    """
    decoded, unknown = decode_segments(seg, reference)
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
    return labels, {d.number: d.segment_id for d in decoded}, unknown
