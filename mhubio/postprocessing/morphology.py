"""Morphological clean-up: closing, bounding-box exclusion and edge-slice removal."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from mhubio.postprocessing._validation import (
    check_label_map,
    check_labels,
    check_mask,
    selected_labels,
)


def _check_count(value: int, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def structuring_element(radius: int, *, per_slice: bool = False) -> np.ndarray:
    """Return a ball (or an in-plane disk) of ``radius`` voxels as a (z, y, x) boolean array.

    A voxel offset (dz, dy, dx) belongs to it if dz^2 + dy^2 + dx^2 <= radius^2;
    with ``per_slice`` the element is one slice thick (dz = 0).
    """
    radius = _check_count(radius, "radius", 1)
    span = np.arange(-radius, radius + 1)
    dz = np.zeros(1, dtype=int) if per_slice else span
    grid = np.meshgrid(dz, span, span, indexing="ij")
    return sum(g**2 for g in grid) <= radius**2


def close_label(
    label_map: np.ndarray,
    label: int,
    radius: int,
    *,
    per_slice: bool = False,
    overwrite: bool = False,
) -> np.ndarray:
    """Fill gaps and small holes in one label by binary closing.

    The closing is computed on the label's mask padded by ``radius``, so the
    volume border does not erode it, and it never removes voxels of the label.

    Parameters
    ----------
    label_map:
        Integer or bool label map (z, y, x).
    label:
        The label to close.
    radius:
        Radius of the structuring ball in voxels (>= 1); see :func:`structuring_element`.
    per_slice:
        Close each axial (z) slice in 2-D with a disk instead of in 3-D with a ball.
    overwrite:
        If false, voxels added by the closing are labelled only where the label
        map is background; if true, they also replace other labels.

    Returns
    -------
    numpy.ndarray
        A new label map of the same dtype.
    """
    check_label_map(label_map)
    (label,) = check_labels([label], label_map.dtype, "label")
    element = structuring_element(radius, per_slice=per_slice)
    mask = label_map == label
    pad = [(0, 0) if per_slice else (radius, radius), (radius, radius), (radius, radius)]
    closed = ndimage.binary_closing(np.pad(mask, pad), structure=element)
    closed = closed[tuple(slice(before, before + n) for (before, _), n in zip(pad, mask.shape, strict=True))]
    added = closed & ~mask
    if not overwrite:
        added &= label_map == 0
    result = label_map.copy()
    result[added] = label
    return result


def _margin(margin: int | Sequence[int]) -> tuple[int, int, int]:
    values = (margin,) * 3 if isinstance(margin, (int, np.integer)) else tuple(margin)
    if len(values) != 3:
        raise ValueError(f"margin must be one integer or three (z, y, x); got {margin!r}")
    return tuple(_check_count(v, "margin", 0) for v in values)  # type: ignore[return-value]


def zero_inside_bounding_box(
    label_map: np.ndarray,
    region: np.ndarray,
    *,
    labels: Sequence[int] | None = None,
    margin: int | Sequence[int] = 0,
    allow_empty_region: bool = False,
) -> np.ndarray:
    """Set ``labels`` to 0 inside the axis-aligned bounding box of a region.

    Parameters
    ----------
    label_map:
        Integer or bool label map (z, y, x).
    region:
        Boolean region of the same shape whose bounding box is excluded.
    labels:
        Labels to remove in the box; others are untouched. Default: every non-zero label.
    margin:
        Voxels added on each side of the box, one value or (z, y, x); the box is
        clipped to the volume.
    allow_empty_region:
        An empty region has no bounding box and raises ``ValueError`` unless this
        is true, in which case nothing is removed.

    Returns
    -------
    numpy.ndarray
        A new label map of the same dtype.
    """
    check_label_map(label_map)
    check_mask(region, label_map.shape, "region")
    margins = _margin(margin)
    result = label_map.copy()
    if not region.any():
        if allow_empty_region:
            return result
        raise ValueError(
            "region is empty and has no bounding box; check the step that produced it "
            "or pass allow_empty_region=True if an empty region is expected"
        )
    chosen = selected_labels(label_map, labels)
    box = tuple(
        slice(max(int(idx.min()) - m, 0), int(idx.max()) + m + 1)
        for idx, m in zip(np.nonzero(region), margins, strict=True)
    )
    window = result[box]
    window[np.isin(window, chosen)] = 0
    return result


def zero_edge_slices(
    label_map: np.ndarray,
    count: int,
    *,
    axis: int = 0,
    labels: Sequence[int] | None = None,
) -> np.ndarray:
    """Set ``labels`` to 0 in the first and last ``count`` slices along ``axis``.

    Parameters
    ----------
    label_map:
        Integer or bool label map (z, y, x).
    count:
        Number of slices removed at each end (>= 0); if ``2 * count`` reaches the
        axis length every slice is cleared.
    axis:
        Array axis: 0 = z (axial slices, default), 1 = y, 2 = x.
    labels:
        Labels to remove; others are untouched. Default: every non-zero label.

    Returns
    -------
    numpy.ndarray
        A new label map of the same dtype.
    """
    check_label_map(label_map)
    count = _check_count(count, "count", 0)
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0 (z), 1 (y) or 2 (x); got {axis!r}")
    chosen = selected_labels(label_map, labels)
    result = label_map.copy()
    if count == 0:
        return result
    edges = np.zeros(label_map.shape[axis], dtype=bool)
    edges[:count] = True
    edges[-count:] = True
    shape = [1, 1, 1]
    shape[axis] = -1
    result[edges.reshape(shape) & np.isin(label_map, chosen)] = 0
    return result
