"""DICOM Segmentation encoding of label maps."""

from mhubio.seg.encode import (
    ENCODABLE_TYPES,
    EmptySegmentationError,
    SegOptions,
    SegResult,
    encode_segmentation,
    load_source_images,
)

__all__ = [
    "ENCODABLE_TYPES",
    "EmptySegmentationError",
    "SegOptions",
    "SegResult",
    "encode_segmentation",
    "load_source_images",
]
