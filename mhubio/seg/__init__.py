"""DICOM Segmentation encoding of label maps."""

from mhubio.seg.encode import (
    EmptySegmentationError,
    SegmentationKind,
    SegOptions,
    SegResult,
    encode_segmentation,
    load_source_images,
)

__all__ = [
    "EmptySegmentationError",
    "SegOptions",
    "SegResult",
    "SegmentationKind",
    "encode_segmentation",
    "load_source_images",
]
