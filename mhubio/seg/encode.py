"""Label map -> DICOM Segmentation with highdicom."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import highdicom as hd
import numpy as np
import pydicom
import SimpleITK as sitk
from highdicom.seg import SegmentationTypeValues
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mhubio import __version__
from mhubio.core.algorithm import AlgorithmType
from mhubio.core.data import AlgorithmInfo
from mhubio.dicom.frames import has_frame_planes, is_multi_frame, multi_frame_geometry
from mhubio.geometry import resample_labels, slice_geometry, sort_datasets
from mhubio.seg.frames import (
    FramesNotAssembled,
    PlaneLabels,
    SourcePlanes,
    as_segment_numbers,
    assemble_frames,
    plane_label_presence,
    probe_array,
)
from mhubio.segdb import get_segment, to_segment_description

log = logging.getLogger("mhub.module.seg")

ENCODABLE_TYPES = (SegmentationTypeValues.BINARY, SegmentationTypeValues.LABELMAP)
"""Segmentation types a label map can be encoded as: BINARY (one bit plane per segment, the widest
viewer support) and LABELMAP (one label value per pixel, DICOM 2024 Label Map Segmentation)."""


class EmptySegmentationError(ValueError):
    """Every segment of the label map is empty and empty segments are dropped."""


class SegOptions(BaseModel):
    """Descriptive and encoding options of a SEG, validated when constructed.

    Parameters
    ----------
    series_description
        SeriesDescription and ContentDescription; cut to the 64 characters DICOM allows.
    series_number
        SeriesNumber (a positive IS value).
    content_label
        ContentLabel; turned into a valid CS value (upper case, digits, underscore, space; 16 characters).
    content_creator
        ContentCreatorName (PN).
    segmentation_type
        ``BINARY`` (default) or ``LABELMAP`` (:class:`highdicom.seg.SegmentationTypeValues`).
    keep_empty
        Keep segments without voxels (otherwise they are left out).
    manufacturer, device_serial_number
        Equipment module values.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    series_description: str = "Segmentation"
    series_number: Annotated[int, Field(ge=1, le=2**31 - 1)] = 901
    content_label: str = "SEGMENTATION"
    content_creator: Annotated[str, Field(max_length=64)] = "MHub^"
    segmentation_type: SegmentationTypeValues = SegmentationTypeValues.BINARY
    keep_empty: bool = False
    manufacturer: Annotated[str, Field(max_length=64)] = "MHub"
    device_serial_number: Annotated[str, Field(max_length=64)] = "0"

    @field_validator("segmentation_type", mode="before")
    @classmethod
    def _type_name(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("segmentation_type")
    @classmethod
    def _encodable(cls, value: SegmentationTypeValues) -> SegmentationTypeValues:
        if value not in ENCODABLE_TYPES:
            raise ValueError(f"a label map is encoded as {' or '.join(t.value for t in ENCODABLE_TYPES)}, "
                             f"not {value.value}")
        return value

    @field_validator("series_description")
    @classmethod
    def _description(cls, value: str) -> str:
        return value[:64]

    @field_validator("content_label")
    @classmethod
    def _content_label(cls, value: str) -> str:
        cleaned = "".join(c if c.isalnum() or c in "_ " else "_" for c in value.upper())
        return (cleaned or "SEGMENTATION")[:16]


@dataclass
class SegResult:
    """The encoded SEG and how label values became segment numbers."""

    dataset: pydicom.Dataset
    """The SEG (read it with :func:`highdicom.seg.segread` for highdicom's query methods)."""
    segment_numbers: dict[int, int] = field(default_factory=dict)
    """Label value -> SegmentNumber (dropped empty labels are absent)."""
    dropped: list[str] = field(default_factory=list)
    """Segment ids dropped because they were empty."""


def load_source_images(files: Sequence[Path]) -> list[pydicom.Dataset]:
    """Read source slices (headers only) in slice order."""
    datasets = [pydicom.dcmread(f, stop_before_pixels=True, force=True) for f in files]
    return sort_datasets(datasets)


DEFAULT_SEG_OPTIONS = SegOptions()
"""The options of a SEG encoded without explicit ones (frozen, so one instance serves every call)."""


def encode_segmentation(
    labels: sitk.Image,
    source_images: Sequence[pydicom.Dataset],
    segments: Mapping[int, str],
    algorithm: AlgorithmInfo,
    options: SegOptions = DEFAULT_SEG_OPTIONS,
) -> SegResult:
    """Encode a label map as a DICOM SEG referencing ``source_images``.

    Parameters
    ----------
    labels:
        Integer label map in patient space; resampled (nearest neighbour) onto
        the source grid when its geometry differs.
    source_images:
        Single-frame source slices, or one enhanced multi-frame image (Enhanced CT/MR, Legacy
        Converted Enhanced); the SEG then references the image's frames by ReferencedFrameNumber.
    segments:
        Label value -> segment id of :mod:`mhubio.segdb`; label values not in
        the map must not occur in ``labels``.
    algorithm:
        Algorithm identification written for every segment: its type as Segment Algorithm Type, its family
        (DICOM CID 7162) as Segment Algorithm Family.
    options:
        Series description, number, encoding and empty-segment policy.

    Raises
    ------
    ValueError
        If the label map holds values without a segment id, or the algorithm states no family and is not
        ``MANUAL``.
    EmptySegmentationError
        If no segment is left to encode.
    """
    algorithm_id = _algorithm_identification(algorithm)
    sources, array, to_source = _on_source_grid(labels, source_images)
    presence = plane_label_presence(array)
    if presence is None:
        present = {int(v) for v in np.unique(array)} - {0}
    else:
        present = set(np.flatnonzero(presence.any(axis=0)).tolist()) - {0}
    unmapped = sorted(present - set(segments))
    if unmapped:
        raise ValueError(f"label values {unmapped} occur in the label map but have no segment id")
    definitions = {value: get_segment(segment_id) for value, segment_id in segments.items()}
    kept = [v for v in sorted(definitions) if options.keep_empty or v in present]
    dropped = [definitions[v].id for v in sorted(definitions) if v not in kept]
    if not kept:
        raise EmptySegmentationError(f"all segments are empty ({', '.join(dropped)})")
    numbers = {value: number for number, value in enumerate(kept, start=1)}
    algorithm_type = hd.seg.SegmentAlgorithmTypeValues(algorithm.type.value)
    descriptions = [to_segment_description(definitions[v], numbers[v], algorithm_id, algorithm_type) for v in kept]
    for value, description in zip(kept, descriptions, strict=True):
        # TrackingID carries the registry id so readers can match segments by meaning.
        description.TrackingID = definitions[value].id
        description.TrackingUID = hd.UID()
    # Label value -> segment number (0 = background).
    lut = np.zeros(max(segments) + 1, dtype=np.uint8 if len(kept) < 256 else np.uint16)
    for value, number in numbers.items():
        lut[value] = number
    series_uid, sop_uid = hd.UID(), hd.UID()

    def segmentation(
        images: Sequence[pydicom.Dataset], pixel_array: np.ndarray, described: Sequence[hd.seg.SegmentDescription]
    ) -> hd.seg.Segmentation:
        return hd.seg.Segmentation(
            source_images=images,
            pixel_array=pixel_array,
            segmentation_type=options.segmentation_type,
            segment_descriptions=described,
            series_instance_uid=series_uid,
            series_number=options.series_number,
            sop_instance_uid=sop_uid,
            instance_number=1,
            manufacturer=options.manufacturer,
            manufacturer_model_name=algorithm.name,
            software_versions=f"mhubio {__version__}",
            device_serial_number=options.device_serial_number,
            content_description=options.series_description,
            content_label=options.content_label,
            content_creator_name=options.content_creator,
            series_description=options.series_description,
            omit_empty_frames=True,
        )

    planes = SourcePlanes.of(sources) if presence is not None and present else None
    if planes is not None and presence is not None:
        # highdicom's cost grows with segments x planes for BINARY, with the planes for its checks, and its
        # per-frame items are written one element at a time: it builds the frame-independent modules and the
        # items of the first and last plane on a probe label map of one-pixel planes (one segment for BINARY,
        # all for LABELMAP), and the other planes and the frames follow.
        labelmap = options.segmentation_type is SegmentationTypeValues.LABELMAP
        probed = planes.probed()
        probe = segmentation(probed, probe_array(len(probed), lut.dtype),
                             descriptions if labelmap else descriptions[:1])
        try:
            seg = assemble_frames(probe, planes, PlaneLabels(array, presence, lut), descriptions)
            return SegResult(seg, numbers, dropped)
        except FramesNotAssembled as exc:
            log.debug("SEG frames encoded by highdicom: %s", exc)
    # Multi-frame sources, all-empty label maps (kept empty segments: every frame is encoded) and sources that
    # highdicom refuses or that cannot be spliced stay with highdicom.
    seg = segmentation(sources, to_source(as_segment_numbers(array, lut, present)), descriptions)
    return SegResult(seg, numbers, dropped)


def _algorithm_identification(algorithm: AlgorithmInfo) -> hd.AlgorithmIdentificationSequence | None:
    """The Segmentation Algorithm Identification of ``algorithm``; ``None`` for a MANUAL segmentation."""
    if algorithm.type is AlgorithmType.MANUAL:
        return None
    if algorithm.family is None:
        raise ValueError(
            f"algorithm {algorithm.name} states no algorithm family (DICOM CID 7162); the module that made the "
            "label map must set AlgorithmInfo.family"
        )
    return hd.AlgorithmIdentificationSequence(
        name=algorithm.name,
        family=algorithm.family.code,
        version=algorithm.version,
        parameters=dict(algorithm.parameters) or None,
    )


def _on_source_grid(
    labels: sitk.Image, source_images: Sequence[pydicom.Dataset]
) -> tuple[list[pydicom.Dataset], np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """The sources in the order highdicom takes, ``labels`` on their grid, and the map to source frame order.

    Single-frame sources are sorted along the slice normal and the label array keeps that order; for
    one multi-frame image the array's slices are put back in the image's frame order.
    """
    if len(source_images) == 1 and is_multi_frame(source_images[0]):
        image = source_images[0]
        if not has_frame_planes(image):
            raise ValueError("the multi-frame source image has no per-frame plane positions")
        geometry, order = multi_frame_geometry(image)
        array = sitk.GetArrayFromImage(resample_labels(labels, geometry))

        def in_frame_order(pixels: np.ndarray) -> np.ndarray:
            frames = np.empty_like(pixels)
            frames[order] = pixels
            return frames

        return [image], array, in_frame_order
    ordered = sort_datasets(source_images)
    on_grid = resample_labels(labels, slice_geometry(ordered))
    # the caller's image outlives the encoding, so a view of it needs no copy; a resampled one is copied out
    array = sitk.GetArrayViewFromImage(labels) if on_grid is labels else sitk.GetArrayFromImage(on_grid)
    return ordered, array, lambda pixels: pixels
