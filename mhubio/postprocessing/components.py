"""Connected-component selection: largest components and the centermost component.

Components are found with :func:`cc3d.connected_components`. All functions are
deterministic: components of equal size are ranked by their first voxel in C
(raster) order of the (z, y, x) array, i.e. the component that reaches the lowest
slice first (then lowest row, then lowest column) ranks higher.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import cc3d
import numpy as np

from mhubio.postprocessing._validation import (
    Connectivity,
    Spacing,
    check_choice,
    check_connectivity,
    check_label_map,
    selected_labels,
    spacing_zyx,
)


@dataclass(frozen=True)
class Component:
    """One connected component of a binary mask.

    Attributes
    ----------
    index:
        Value of the component in the component image (1..N).
    voxel_count:
        Number of voxels.
    first_voxel:
        Flat C-order index of its first voxel; used for tie-breaking.
    centroid:
        Mean voxel position in index coordinates (z, y, x).
    """

    index: int
    voxel_count: int
    first_voxel: int
    centroid: tuple[float, float, float]


class CenterDistance(str, Enum):
    """How the distance of a component to the volume centre is measured."""

    CENTROID = "centroid"
    """Distance from the component's centroid (mean voxel position) to the centre."""
    NEAREST_VOXEL = "nearest_voxel"
    """Distance from the component's voxel nearest to the centre."""


def find_components(
    mask: np.ndarray, connectivity: int = Connectivity.VERTEX
) -> tuple[np.ndarray, list[Component]]:
    """Label the connected components of a boolean mask and rank them.

    Parameters
    ----------
    mask:
        Boolean array (z, y, x).
    connectivity:
        6, 18 or 26.

    Returns
    -------
    tuple[numpy.ndarray, list[Component]]
        The component image (0 = background, 1..N = component index) and the
        components ranked by voxel count, descending; ties go to the component
        whose first voxel comes first in C order.
    """
    connectivity = check_connectivity(connectivity)
    image, count = cc3d.connected_components(mask, connectivity=connectivity.cc3d, return_N=True)
    if count == 0:
        return image, []
    flat = image.ravel()
    positions = np.flatnonzero(flat)
    ids = flat[positions].astype(np.int64)
    sizes = np.bincount(ids, minlength=count + 1)
    first = np.full(count + 1, flat.size, dtype=np.int64)
    np.minimum.at(first, ids, positions)
    coordinates = np.unravel_index(positions, mask.shape)
    centroids = np.stack(
        [np.bincount(ids, weights=c, minlength=count + 1) for c in coordinates], axis=1
    ) / np.maximum(sizes, 1)[:, None]
    components = [
        Component(
            index=i,
            voxel_count=int(sizes[i]),
            first_voxel=int(first[i]),
            centroid=(float(centroids[i, 0]), float(centroids[i, 1]), float(centroids[i, 2])),
        )
        for i in range(1, count + 1)
    ]
    components.sort(key=lambda c: (-c.voxel_count, c.first_voxel))
    return image, components


def _size_filtered(
    components: list[Component], min_voxels: int, min_volume_mm3: float, voxel_volume: float
) -> list[Component]:
    return [
        c
        for c in components
        if c.voxel_count >= min_voxels and c.voxel_count * voxel_volume >= min_volume_mm3
    ]


def _check_size_arguments(
    min_voxels: int, min_volume_mm3: float, spacing: Spacing | None
) -> float:
    """Validate minimum sizes and return the voxel volume in mm3 (1 if no spacing)."""
    if isinstance(min_voxels, bool) or not isinstance(min_voxels, (int, np.integer)) or min_voxels < 1:
        raise ValueError(f"min_voxels must be an integer >= 1; got {min_voxels!r}")
    if not min_volume_mm3 >= 0:
        raise ValueError(f"min_volume_mm3 must be >= 0; got {min_volume_mm3!r}")
    if spacing is None:
        if min_volume_mm3 > 0:
            raise ValueError("min_volume_mm3 needs the voxel spacing: pass spacing=(x, y, z) in mm")
        return 1.0
    return float(np.prod(spacing_zyx(spacing)))


def _check_fraction(fraction: float, name: str) -> float:
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"{name} must be in [0, 1); got {fraction!r}")
    return float(fraction)


def _label_groups(
    label_map: np.ndarray, labels: Sequence[int] | None, union: bool
) -> list[tuple[int, ...]]:
    selected = selected_labels(label_map, labels)
    if not selected:
        return []
    return [selected] if union else [(label,) for label in selected]


def keep_largest_components(
    label_map: np.ndarray,
    k: int = 1,
    *,
    labels: Sequence[int] | None = None,
    union: bool = False,
    connectivity: int = Connectivity.VERTEX,
    min_voxels: int = 1,
    min_volume_mm3: float = 0.0,
    spacing: Spacing | None = None,
    min_fraction_of_largest: float = 0.0,
) -> np.ndarray:
    """Keep the ``k`` largest connected components, per label or over a union of labels.

    Parameters
    ----------
    label_map:
        Integer or bool label map (z, y, x).
    k:
        Number of components to keep per group (>= 1).
    labels:
        Labels to process; other labels are left untouched. Default: every
        non-zero label present.
    union:
        If true, components are found on the union of ``labels`` and kept voxels
        keep their original label (kidney: kidney + cyst + tumour as one organ).
        If false, each label is processed on its own.
    connectivity:
        6, 18 or 26.
    min_voxels, min_volume_mm3:
        Components smaller than either are removed before ranking.
        ``min_volume_mm3 > 0`` needs ``spacing``.
    spacing:
        Voxel spacing (x, y, z) in mm.
    min_fraction_of_largest:
        A component ranked below the largest is kept only if its voxel count is
        strictly greater than this fraction of the largest one (lungs: 0.2).

    Returns
    -------
    numpy.ndarray
        A new label map of the same dtype; removed voxels are 0.

    Notes
    -----
    Equal-size components are ranked by their first voxel in C order, so the
    result does not depend on the labelling order of the component library.
    """
    check_label_map(label_map)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1; got {k!r}")
    voxel_volume = _check_size_arguments(min_voxels, min_volume_mm3, spacing)
    fraction = _check_fraction(min_fraction_of_largest, "min_fraction_of_largest")
    connectivity = check_connectivity(connectivity)

    result = label_map.copy()
    for group in _label_groups(label_map, labels, union):
        mask = np.isin(label_map, group)
        image, components = find_components(mask, connectivity)
        candidates = _size_filtered(components, min_voxels, min_volume_mm3, voxel_volume)
        kept = candidates[:1] + [
            c for c in candidates[1:k] if c.voxel_count > fraction * candidates[0].voxel_count
        ]
        keep = np.isin(image, [c.index for c in kept])
        result[mask & ~keep] = 0
    return result


def keep_centermost_component(
    label_map: np.ndarray,
    spacing: Spacing,
    *,
    labels: Sequence[int] | None = None,
    connectivity: int = Connectivity.VERTEX,
    distance: CenterDistance = CenterDistance.CENTROID,
    min_voxels: int = 1,
    min_fraction_of_largest: float = 0.0,
) -> np.ndarray:
    """Keep the single component nearest the centre of the volume.

    Components are found on the union of ``labels``; kept voxels keep their label.
    The centre is the geometric centre of the voxel grid, index
    ((nz - 1) / 2, (ny - 1) / 2, (nx - 1) / 2); distances are Euclidean in mm over
    all three axes ("centermost in all directions").

    Parameters
    ----------
    label_map:
        Integer or bool label map (z, y, x).
    spacing:
        Voxel spacing (x, y, z) in mm.
    labels:
        Labels whose union is searched; other labels are left untouched.
        Default: every non-zero label present.
    connectivity:
        6, 18 or 26.
    distance:
        ``CENTROID`` (default): the component's mean voxel position. It can lie
        outside a non-convex component, e.g. a ring around the centre.
        ``NEAREST_VOXEL``: the component's voxel closest to the centre.
    min_voxels:
        Components with fewer voxels are never selected (and removed).
    min_fraction_of_largest:
        Only components with at least this fraction of the largest component's
        voxels are candidates, so that a speck at the centre does not win over
        the organ ("largest centermost").

    Returns
    -------
    numpy.ndarray
        A new label map of the same dtype with one component left (or none if
        no component qualifies).

    Notes
    -----
    Equal distances go to the larger component, then to the one whose first
    voxel comes first in C order.
    """
    check_label_map(label_map)
    scale = spacing_zyx(spacing)
    _check_size_arguments(min_voxels, 0.0, None)
    fraction = _check_fraction(min_fraction_of_largest, "min_fraction_of_largest")
    distance = check_choice(distance, CenterDistance, "distance")
    connectivity = check_connectivity(connectivity)

    result = label_map.copy()
    for group in _label_groups(label_map, labels, union=True):
        mask = np.isin(label_map, group)
        image, components = find_components(mask, connectivity)
        candidates = _size_filtered(components, min_voxels, 0.0, 1.0)
        if candidates:
            largest = candidates[0].voxel_count
            candidates = [c for c in candidates if c.voxel_count >= fraction * largest]
        centre = (np.array(mask.shape, dtype=np.float64) - 1.0) / 2.0
        distances = _centre_distances(image, candidates, centre, scale, distance)
        ranked = sorted(
            zip(candidates, distances, strict=True), key=lambda p: (p[1], -p[0].voxel_count, p[0].first_voxel)
        )
        keep = image == ranked[0][0].index if ranked else np.zeros_like(mask)
        result[mask & ~keep] = 0
    return result


def _centre_distances(
    image: np.ndarray,
    components: list[Component],
    centre: np.ndarray,
    scale: np.ndarray,
    distance: CenterDistance,
) -> list[float]:
    """Distance in mm of each component to ``centre`` (index coordinates)."""
    if distance is CenterDistance.CENTROID:
        return [
            float(np.linalg.norm((np.array(c.centroid) - centre) * scale)) for c in components
        ]
    nearest = np.full(int(image.max()) + 1, np.inf)
    positions = np.nonzero(image)
    offsets = (np.stack(positions, axis=1) - centre) * scale
    np.minimum.at(nearest, image[positions].astype(np.int64), np.linalg.norm(offsets, axis=1))
    return [float(nearest[c.index]) for c in components]
