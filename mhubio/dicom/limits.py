"""Memory a series takes once decoded, from its declared frame size, checked before decoding."""

from __future__ import annotations

from collections.abc import Iterable

from mhubio.dicom.series import DicomInstance

__all__ = ["DEFAULT_MAX_SERIES_BYTES", "declared_pixel_bytes", "declared_series_bytes"]

DEFAULT_MAX_SERIES_BYTES = 4 << 30
"""Default per-series budget: 4 GiB of decoded pixel data (a 512 x 512 CT of 8000 slices)."""

# Decoded slices are widened to 32-bit voxels (int32 or float32) when rescaled.
_VOXEL_BYTES = 4


def declared_pixel_bytes(instance: DicomInstance) -> int:
    """Bytes the decoded pixel data of one file takes (rows x columns x frames x samples x 4 bytes).

    One frame of an enhanced multi-frame file (:attr:`DicomInstance.frame_number`) counts as one
    frame. Missing values count as 1 frame, 1 sample and 16 bits; at least 4 bytes per sample are
    counted because the volume reader stores rescaled voxels as 32-bit values.
    """
    bytes_per_sample = max(_VOXEL_BYTES, -(-(instance.bits_allocated or 16) // 8))
    return (
        max(instance.rows or 0, 0)
        * max(instance.columns or 0, 0)
        * (1 if instance.is_frame else max(instance.number_of_frames, 1))
        * max(instance.samples_per_pixel or 1, 1)
        * bytes_per_sample
    )


def declared_series_bytes(instances: Iterable[DicomInstance]) -> int:
    """Sum of :func:`declared_pixel_bytes` over ``instances``."""
    return sum(declared_pixel_bytes(i) for i in instances)
