"""Label map -> DICOM Segmentation with highdicom."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.sr.codedict import codes

from mhubio import __version__
from mhubio.core.data import AlgorithmInfo
from mhubio.seg.geometry import reference_image, resample_labels, sort_by_position
from mhubio.segdb import get_segment, to_segment_description

log = logging.getLogger("mhub.module.seg")


class SegmentationKind(Enum):
    """Encoding of the SEG pixel data."""

    BINARY = "BINARY"
    """One bit-plane per segment: the widest viewer support."""
    LABELMAP = "LABELMAP"
    """One label value per pixel (DICOM 2024 Label Map Segmentation)."""


class EmptySegmentationError(ValueError):
    """Every segment of the label map is empty and empty segments are dropped."""


@dataclass(frozen=True)
class SegOptions:
    """Descriptive and encoding options of a SEG."""

    series_description: str = "Segmentation"
    series_number: int = 901
    content_label: str = "SEGMENTATION"
    content_creator: str = "MHub^"
    kind: SegmentationKind = SegmentationKind.BINARY
    keep_empty: bool = False
    manufacturer: str = "MHub"
    device_serial_number: str = "0"


@dataclass
class SegResult:
    """The encoded SEG and how label values became segment numbers."""

    dataset: hd.seg.Segmentation
    segment_numbers: dict[int, int] = field(default_factory=dict)
    """Label value -> SegmentNumber (dropped empty labels are absent)."""
    dropped: list[str] = field(default_factory=list)
    """Segment ids dropped because they were empty."""


def load_source_images(files: Sequence[Path]) -> list[pydicom.Dataset]:
    """Read source slices (headers only) in slice order."""
    datasets = [pydicom.dcmread(f, stop_before_pixels=True, force=True) for f in files]
    return sort_by_position(datasets)


def encode_segmentation(
    labels: sitk.Image,
    source_images: Sequence[pydicom.Dataset],
    segments: Mapping[int, str],
    algorithm: AlgorithmInfo,
    options: SegOptions = SegOptions(),
) -> SegResult:
    """Encode a label map as a DICOM SEG referencing ``source_images``.

    Parameters
    ----------
    labels:
        Integer label map in patient space; resampled (nearest neighbour) onto
        the source grid when its geometry differs.
    source_images:
        Single-frame source slices in ascending order along the slice normal.
    segments:
        Label value -> segment id of :mod:`mhubio.segdb`; label values not in
        the map must not occur in ``labels``.
    algorithm:
        Algorithm identification written for every segment.
    options:
        Series description, number, encoding and empty-segment policy.

    Raises
    ------
    ValueError
        If the label map holds values without a segment id.
    EmptySegmentationError
        If no segment is left to encode.
    """
    source_images = sort_by_position(source_images)
    reference = reference_image(source_images)
    array = sitk.GetArrayFromImage(resample_labels(labels, reference))
    present = {int(v) for v in np.unique(array)} - {0}
    unmapped = sorted(present - set(segments))
    if unmapped:
        raise ValueError(f"label values {unmapped} occur in the label map but have no segment id")
    definitions = {value: get_segment(segment_id) for value, segment_id in segments.items()}
    kept = [v for v in sorted(definitions) if options.keep_empty or v in present]
    dropped = [definitions[v].id for v in sorted(definitions) if v not in kept]
    if not kept:
        raise EmptySegmentationError(f"all segments are empty ({', '.join(dropped)})")
    numbers = {value: number for number, value in enumerate(kept, start=1)}
    algorithm_id = hd.AlgorithmIdentificationSequence(
        name=algorithm.name,
        family=codes.cid7162.ArtificialIntelligence,
        version=algorithm.version,
        parameters=dict(algorithm.parameters) or None,
    )
    descriptions = [to_segment_description(definitions[v], numbers[v], algorithm_id) for v in kept]
    for value, description in zip(kept, descriptions):
        # TrackingID carries the registry id so readers can match segments by meaning.
        description.TrackingID = definitions[value].id
        description.TrackingUID = hd.UID()
    # Both encodings take one array of segment numbers (0 = background);
    # highdicom splits it into bit planes for BINARY.
    lut = np.zeros(max(segments) + 1, dtype=np.uint8 if len(kept) < 256 else np.uint16)
    for value, number in numbers.items():
        lut[value] = number
    pixels = lut[array]
    seg = hd.seg.Segmentation(
        source_images=source_images,
        pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues(options.kind.value),
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=options.series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=options.manufacturer,
        manufacturer_model_name=algorithm.name,
        software_versions=f"mhubio {__version__}",
        device_serial_number=options.device_serial_number,
        content_description=options.series_description[:64],
        content_label=_content_label(options.content_label),
        content_creator_name=options.content_creator,
        series_description=options.series_description[:64],
        omit_empty_frames=True,
    )
    return SegResult(seg, numbers, dropped)


def _content_label(text: str) -> str:
    """A valid CS value: upper case, digits, underscore, space; at most 16 characters."""
    cleaned = "".join(c if c.isalnum() or c in "_ " else "_" for c in text.upper())
    return (cleaned or "SEGMENTATION")[:16]
