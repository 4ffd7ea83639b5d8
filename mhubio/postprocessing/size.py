"""Size filtering of connected components by physical diameter.

Two diameter measures are offered, both in mm and both exact for the voxelized
component (each voxel is the box of its spacing around its centre):

``EQUIVALENT_SPHERE``
    Diameter of the sphere with the component's volume:
    ``d = (6 V / pi) ** (1 / 3)`` with ``V = voxel count * sx * sy * sz``.
``MAX_EXTENT``
    Largest 3-D extent (maximum Feret diameter) of the union of the component's
    voxel boxes, i.e. the largest Euclidean distance between two voxel corners.
    A single 1 x 1 x 1 mm voxel measures sqrt(3) mm.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
from scipy.spatial import ConvexHull

from mhubio.postprocessing._validation import (
    Connectivity,
    Spacing,
    check_binary_volume,
    check_choice,
    check_fill_label,
    check_label_map,
    check_labels,
    spacing_zyx,
)
from mhubio.postprocessing.components import Component, find_components

_CORNER_OFFSETS = np.array(
    [[dz, dy, dx] for dz in (-0.5, 0.5) for dy in (-0.5, 0.5) for dx in (-0.5, 0.5)]
)
_PAIRWISE_BLOCK = 512


class DiameterMeasure(str, Enum):
    """Definition of a component's diameter; see the module docstring."""

    EQUIVALENT_SPHERE = "equivalent_sphere"
    MAX_EXTENT = "max_extent"


@dataclass(frozen=True)
class MeasuredComponent:
    """A connected component and its diameter in mm."""

    component: Component
    diameter_mm: float


def measure_components(
    mask: np.ndarray,
    spacing: Spacing,
    measure: DiameterMeasure,
    connectivity: int = Connectivity.VERTEX,
) -> tuple[np.ndarray, list[MeasuredComponent]]:
    """Find the connected components of ``mask`` and measure their diameters.

    Parameters
    ----------
    mask:
        Boolean array (z, y, x).
    spacing:
        Voxel spacing (x, y, z) in mm.
    measure:
        Diameter definition.
    connectivity:
        6, 18 or 26.

    Returns
    -------
    tuple[numpy.ndarray, list[MeasuredComponent]]
        The component image and the components ranked as by
        :func:`~mhubio.postprocessing.components.find_components`.
    """
    check_binary_volume(mask)
    scale = spacing_zyx(spacing)
    measure = check_choice(measure, DiameterMeasure, "measure")
    image, components = find_components(mask, connectivity)
    if not components:
        return image, []
    if measure is DiameterMeasure.EQUIVALENT_SPHERE:
        voxel_volume = float(np.prod(scale))
        diameters = [(6.0 * c.voxel_count * voxel_volume / np.pi) ** (1.0 / 3.0) for c in components]
    else:
        extents = _max_extents(image, scale)
        diameters = [extents[c.index] for c in components]
    return image, [MeasuredComponent(c, float(d)) for c, d in zip(components, diameters, strict=True)]


def _max_extents(image: np.ndarray, scale: np.ndarray) -> dict[int, float]:
    """Maximum Feret diameter in mm of every component of a component image.

    Only the first and last voxel of every (z, y) row of a component can carry a
    corner on the convex hull, so the hull is built from those voxels' corners.
    """
    positions = np.flatnonzero(image)
    ids = image.ravel()[positions].astype(np.int64)
    order = np.lexsort((positions, ids))
    positions, ids = positions[order], ids[order]
    rows = positions // image.shape[2]
    new_row = np.ones(positions.size, dtype=bool)
    new_row[1:] = (ids[1:] != ids[:-1]) | (rows[1:] != rows[:-1])
    row_ends = np.flatnonzero(new_row)
    ends = np.union1d(row_ends, np.append(row_ends[1:], positions.size) - 1)
    voxels = np.stack(np.unravel_index(positions[ends], image.shape), axis=1).astype(np.float64)
    voxel_ids = ids[ends]
    splits = np.flatnonzero(voxel_ids[1:] != voxel_ids[:-1]) + 1
    extents: dict[int, float] = {}
    for index, group in zip(voxel_ids[np.r_[0, splits]], np.split(voxels, splits), strict=True):
        corners = (group[:, None, :] + _CORNER_OFFSETS).reshape(-1, 3)
        points = np.unique(corners, axis=0) * scale
        hull = points[ConvexHull(points).vertices]
        extents[int(index)] = _largest_distance(hull)
    return extents


def _largest_distance(points: np.ndarray) -> float:
    """Largest Euclidean distance between two of ``points``, in blocks to bound memory."""
    norms = (points**2).sum(axis=1)
    best = 0.0
    for start in range(0, len(points), _PAIRWISE_BLOCK):
        block = points[start : start + _PAIRWISE_BLOCK]
        squared = norms[start : start + _PAIRWISE_BLOCK, None] + norms[None, :] - 2.0 * block @ points.T
        best = max(best, float(squared.max()))
    return float(np.sqrt(best))


def filter_components_by_diameter(
    label_map: np.ndarray,
    spacing: Spacing,
    *,
    label: int,
    min_diameter_mm: float | None = None,
    max_diameter_mm: float | None = None,
    measure: DiameterMeasure,
    oversize_label: int | None = None,
    fill_label: int = 0,
    connectivity: int = Connectivity.VERTEX,
) -> np.ndarray:
    """Remove or relabel the components of one label by their diameter.

    Components with ``min_diameter_mm <= d <= max_diameter_mm`` (bounds inclusive)
    are kept. Smaller ones get ``fill_label``; larger ones get ``oversize_label``,
    or ``fill_label`` if that is None. Lung nodules:
    ``min_diameter_mm=3, max_diameter_mm=30``.

    Parameters
    ----------
    label_map:
        Integer or bool label map (z, y, x).
    spacing:
        Voxel spacing (x, y, z) in mm.
    label:
        The label whose components are measured.
    min_diameter_mm, max_diameter_mm:
        Bounds of the kept range; None means unbounded. At least one is needed.
    measure:
        Diameter definition (see :class:`DiameterMeasure`); required because
        "diameter" is ambiguous (LIDC-IDRI's 3-30 mm refers to the longest
        dimension, closest to ``MAX_EXTENT``).
    oversize_label:
        Label given to components above ``max_diameter_mm``; None removes them.
    fill_label:
        Label given to removed voxels (0, or the surrounding organ's label so that
        removing a nodule leaves no hole in the lung).
    connectivity:
        6, 18 or 26.

    Returns
    -------
    numpy.ndarray
        A new label map of the same dtype.
    """
    check_label_map(label_map)
    (label,) = check_labels([label], label_map.dtype, "label")
    if min_diameter_mm is None and max_diameter_mm is None:
        raise ValueError("give min_diameter_mm, max_diameter_mm or both; with neither nothing is filtered")
    for name, bound in (("min_diameter_mm", min_diameter_mm), ("max_diameter_mm", max_diameter_mm)):
        if bound is not None and not bound >= 0:
            raise ValueError(f"{name} must be >= 0; got {bound!r}")
    low = 0.0 if min_diameter_mm is None else float(min_diameter_mm)
    high = np.inf if max_diameter_mm is None else float(max_diameter_mm)
    if low > high:
        raise ValueError(f"min_diameter_mm ({low}) is larger than max_diameter_mm ({high})")
    fill_label = check_fill_label(fill_label, label_map.dtype)
    if oversize_label is not None:
        (oversize_label,) = check_labels([oversize_label], label_map.dtype, "oversize_label")

    mask = label_map == label
    image, measured = measure_components(mask, spacing, measure, connectivity)
    too_small = [m.component.index for m in measured if m.diameter_mm < low]
    too_large = [m.component.index for m in measured if m.diameter_mm > high]
    result = label_map.copy()
    result[np.isin(image, too_small)] = fill_label
    result[np.isin(image, too_large)] = fill_label if oversize_label is None else oversize_label
    return result
