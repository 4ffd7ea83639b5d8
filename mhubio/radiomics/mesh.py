"""Surface area, volume and maximum diameters of pyradiomics' marching-cubes mesh, in time linear in the mask.

pyradiomics (``cShape.calculate_coefficients``) builds a marching-cubes mesh whose vertices lie halfway on every
edge between a voxel inside and one outside the mask, sums the area and signed volume of its triangles, and finds
the maximum 3D and 2D diameters by comparing every pair of vertices (quadratic: tens of minutes on a whole-body
mask).  :func:`mesh_measures` returns the same numbers faster:

- every cube of 2 x 2 x 2 voxels contributes an area and a signed volume that depend only on which of its 8
  corners are inside, on the spacing and (the volume) linearly on the cube's position.  Those contributions are
  measured once per spacing by running pyradiomics' own routine on single cubes (:func:`_cube_table`), so the
  triangulation is pyradiomics' by construction; the mask then only needs its cubes counted per configuration.
- the largest distance between points lies between two vertices of their convex hull, so the diameters compare
  hull vertices only: per plane for the 2D diameters, and over the union of the slice-plane hull vertices (a
  superset of the 3D hull's) for the 3D diameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.spatial import ConvexHull, QhullError

__all__ = ["MeshMeasures", "mesh_measures"]

_CORNERS = np.array([((k >> 2) & 1, (k >> 1) & 1, k & 1) for k in range(8)])
"""Corner k of a cube as (z, y, x) offsets; bit k of a cube configuration says whether it is inside."""

_CHUNK = 2048
"""Points per block in the pairwise distance search (a block of distances is _CHUNK x n doubles)."""


@dataclass(frozen=True)
class MeshMeasures:
    """Measures of the marching-cubes mesh of a mask, in physical units (mm, mm2, mm3).

    ``max_2d_slice``, ``max_2d_column`` and ``max_2d_row`` are the largest distances between vertices in
    one plane of constant z, y and x; named as pyradiomics names its Maximum2DDiameter features.
    """

    surface_area: float
    volume: float
    max_2d_slice: float
    max_2d_column: float
    max_2d_row: float
    max_3d: float


def mesh_measures(mask: np.ndarray, spacing: tuple[float, float, float]) -> MeshMeasures:
    """The mesh measures pyradiomics computes for ``mask``.

    Parameters
    ----------
    mask:
        Boolean array in (z, y, x) order whose border voxels are all outside (pyradiomics pads with one voxel).
    spacing:
        Voxel spacing in (z, y, x) order.

    Raises
    ------
    ValueError
        If the mask is not 3D or a border voxel is inside.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 3:
        raise ValueError(f"the mask must be 3D, got {mask.ndim} dimensions")
    inner = mask[1:-1, 1:-1, 1:-1]
    if mask.sum() != inner.sum():
        raise ValueError("the mask must be padded: a voxel on its border is inside")
    step = np.asarray(spacing, dtype=np.float64)
    area, volume = _area_and_volume(mask, step)
    vertices = _vertices(mask)
    diameters = [_plane_diameters(vertices, axis, step) for axis in range(3)]
    slice_max, slice_hull = diameters[0]
    return MeshMeasures(
        surface_area=area,
        volume=volume,
        max_2d_slice=slice_max,
        max_2d_column=diameters[1][0],
        max_2d_row=diameters[2][0],
        max_3d=_diameter(_hull_points(vertices[slice_hull] / 2.0 * step, 3)),
    )


def _area_and_volume(mask: np.ndarray, step: np.ndarray) -> tuple[float, float]:
    """Sums of the per-cube contributions over the cubes the surface passes through."""
    nz, ny, nx = (s - 1 for s in mask.shape)
    config = np.zeros((nz, ny, nx), dtype=np.uint8)
    for k, (dz, dy, dx) in enumerate(_CORNERS):
        config |= mask[dz:dz + nz, dy:dy + ny, dx:dx + nx].astype(np.uint8) << np.uint8(k)
    surface = np.nonzero((config != 0) & (config != 255))
    configs = config[surface]
    area, volume, slope = _cube_table(tuple(float(s) for s in step))
    counts = np.bincount(configs, minlength=256)
    total_volume = float(counts @ volume)
    for axis in range(3):
        position = np.bincount(configs, weights=surface[axis] * step[axis], minlength=256)
        total_volume += float(position @ slope[:, axis])
    return float(counts @ area), total_volume


@lru_cache(maxsize=8)
def _cube_table(step: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Area, signed volume at the origin, and volume change per mm of displacement, of each cube configuration.

    Measured with pyradiomics' own routine: a 2 x 2 x 2 mask holds exactly one cube; the same cube one voxel
    further along an axis (behind a cube holding only its first layer) gives the volume's slope along that axis.
    """
    from radiomics import cShape

    spacing = np.asarray(step, dtype=np.float64)
    area = np.zeros(256)
    volume = np.zeros(256)
    slope = np.zeros((256, 3))
    for config in range(256):
        cube = np.zeros((2, 2, 2), dtype=bool)
        for k, corner in enumerate(_CORNERS):
            cube[tuple(corner)] = bool(config >> k & 1)
        area[config], volume[config], _ = cShape.calculate_coefficients(cube, spacing)
        for axis in range(3):
            shifted = np.concatenate([np.zeros_like(cube.take([0], axis=axis)), cube], axis=axis)
            behind = np.concatenate([np.zeros_like(cube.take([0], axis=axis)), cube.take([0], axis=axis)], axis=axis)
            both = cShape.calculate_coefficients(shifted, spacing)[1]
            first = cShape.calculate_coefficients(behind, spacing)[1]
            slope[config, axis] = (both - first - volume[config]) / spacing[axis]
    return area, volume, slope


def _vertices(mask: np.ndarray) -> np.ndarray:
    """Mesh vertices in doubled index units (integers): midpoints of the edges between inside and outside voxels."""
    found = []
    for axis in range(3):
        lower = [slice(None)] * 3
        upper = [slice(None)] * 3
        lower[axis] = slice(None, -1)
        upper[axis] = slice(1, None)
        index = np.argwhere(mask[tuple(lower)] != mask[tuple(upper)]).astype(np.int64) * 2
        index[:, axis] += 1
        found.append(index)
    return np.concatenate(found)


def _plane_diameters(vertices: np.ndarray, axis: int, step: np.ndarray) -> tuple[float, np.ndarray]:
    """Largest distance between vertices sharing their coordinate along ``axis``, and the planes' hull vertices."""
    order = np.argsort(vertices[:, axis], kind="stable")
    keys = vertices[order, axis]
    bounds = np.flatnonzero(np.diff(keys)) + 1
    physical = vertices / 2.0 * step
    in_plane = [d for d in range(3) if d != axis]
    best = 0.0
    hull_rows = []
    for rows in np.split(order, bounds):
        points = physical[rows]
        hull = _hull_indices(points[:, in_plane], 2)
        hull_rows.append(rows[hull])
        best = max(best, _diameter(points[hull]))
    return best, np.concatenate(hull_rows)


def _hull_points(points: np.ndarray, dim: int) -> np.ndarray:
    return points[_hull_indices(points, dim)]


def _hull_indices(points: np.ndarray, dim: int) -> np.ndarray:
    """Indices of the convex hull's vertices; all points where the hull is degenerate (too few, collinear)."""
    if len(points) <= dim + 1:
        return np.arange(len(points))
    try:
        return ConvexHull(points).vertices
    except QhullError:
        return np.arange(len(points))


def _diameter(points: np.ndarray) -> float:
    """Largest distance between two of ``points``, squared differences summed as pyradiomics sums them."""
    best = 0.0
    for start in range(0, len(points), _CHUNK):
        block = points[start:start + _CHUNK]
        delta = block[:, None, :] - points[None, :, :]
        delta *= delta
        best = max(best, float(((delta[..., 0] + delta[..., 1]) + delta[..., 2]).max(initial=0.0)))
    return float(np.sqrt(best))
