"""Binary masks <-> planar contours in patient coordinates, on the grid of an image series.

Conventions (the same both ways, so that a mask survives a round trip voxel for voxel):

- Voxel centres: integer voxel indices are voxel centres, as ImagePositionPatient is the centre of the first
  pixel (ITK and DICOM agree); ``grid`` is a SimpleITK image whose geometry is that of the series.
- Encoding: each slice's contours are the iso-lines at 0.5 of the binary slice (scikit-image
  ``find_contours``, marching squares), so every contour runs half-way between a voxel centre inside and one
  outside, never through a centre.  Holes become separate contours inside the outer one; orientation is not
  used.
- Decoding: a voxel belongs to the ROI when its centre lies on one of the slice's contours or inside an odd
  number of them (even-odd rule, so a contour inside another one cuts a hole).  "On" keeps the voxels that
  contours traced through boundary voxel centres (OpenCV ``findContours``, as rt-utils writes them) run
  through, around holes too; iso-contours at 0.5 pass through no voxel centre, so it changes nothing for them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from skimage.measure import approximate_polygon, find_contours

__all__ = ["ContourOffGridError", "SliceContour", "mask_to_contours", "contours_to_mask"]

SLICE_TOLERANCE = 0.05
"""Largest distance of a contour point from its slice plane, in slice spacings."""
ON_CONTOUR_TOLERANCE = 0.05
"""Largest distance of a voxel centre from a contour, in voxels, for the centre to count as on it: absorbs the
rounding of points written with few decimals; iso-contours at 0.5 stay at least 0.35 voxels from any centre."""


class ContourOffGridError(ValueError):
    """A contour does not lie in a slice plane of the grid."""


@dataclass(frozen=True)
class SliceContour:
    """One closed planar contour: the slice index it lies in and its points in patient coordinates (mm)."""

    slice_index: int
    points: np.ndarray
    """Array of shape (n, 3), n >= 3: x, y, z in the patient coordinate system, not repeating the first point."""


def _index_to_patient(grid: sitk.Image) -> tuple[np.ndarray, np.ndarray]:
    """Matrix M and origin o such that patient = M @ (i, j, k) + o for continuous voxel indices."""
    direction = np.asarray(grid.GetDirection(), dtype=float).reshape(3, 3)
    matrix = direction @ np.diag(np.asarray(grid.GetSpacing(), dtype=float))
    return matrix, np.asarray(grid.GetOrigin(), dtype=float)


def mask_to_contours(mask: np.ndarray, grid: sitk.Image) -> Iterator[SliceContour]:
    """The contours of a binary mask, slice by slice.

    Parameters
    ----------
    mask
        Boolean array in SimpleITK's axis order (slice, row, column) with the size of ``grid``.
    grid
        Image carrying the geometry of the series (origin, spacing, direction).

    Raises
    ------
    ValueError
        If the mask does not have the grid's size.
    """
    size = grid.GetSize()
    if mask.shape != (size[2], size[1], size[0]):
        raise ValueError(f"mask shape {mask.shape} does not match the grid {size[::-1]} (slice, row, column)")
    matrix, origin = _index_to_patient(grid)
    for k in np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1)):
        # a one-voxel background border closes the contours of regions touching the image edge
        padded = np.pad(mask[k].astype(np.float32), 1)
        for line in find_contours(padded, 0.5):
            vertices = approximate_polygon(line, tolerance=0.0)[:-1] - 1.0  # closed: last point = first
            if len(vertices) < 3:
                continue
            index = np.column_stack([vertices[:, 1], vertices[:, 0], np.full(len(vertices), float(k))])
            yield SliceContour(int(k), index @ matrix.T + origin)


def contours_to_mask(contours: Sequence[np.ndarray], grid: sitk.Image) -> np.ndarray:
    """Rasterise closed planar contours (each an (n, 3) array in patient coordinates) onto the grid.

    Returns
    -------
    numpy.ndarray
        Boolean mask in SimpleITK's axis order (slice, row, column).

    Raises
    ------
    ContourOffGridError
        If a contour is not in a slice plane of the grid (off the slice positions by more than
        :data:`SLICE_TOLERANCE` of the spacing, outside the volume, or not parallel to the slices).
    """
    size = grid.GetSize()
    mask = np.zeros((size[2], size[1], size[0]), dtype=bool)
    on_contour = np.zeros_like(mask)
    matrix, origin = _index_to_patient(grid)
    inverse = np.linalg.inv(matrix)
    for points in contours:
        if len(points) < 3:
            continue
        index = (np.asarray(points, dtype=float) - origin) @ inverse.T
        k = int(np.rint(index[:, 2].mean()))
        off = float(np.abs(index[:, 2] - k).max())
        if off > SLICE_TOLERANCE or not 0 <= k < size[2]:
            where = f"{off:.2f} slice spacings from slice {k}" if 0 <= k < size[2] else "outside the volume"
            raise ContourOffGridError(f"a contour is not in a slice plane of the image grid ({where})")
        box, inside = _fill(index[:, :2], (size[1], size[0]))
        mask[k][box] ^= inside
        on_contour[k][_on_edges(index[:, :2], (size[1], size[0]))] = True
    return mask | on_contour


def _fill(vertices: np.ndarray, shape: tuple[int, int]) -> tuple[tuple[slice, slice], np.ndarray]:
    """Voxels whose centre is inside the polygon (even-odd rule), by scan lines through the voxel centres.

    ``vertices`` are (column, row) continuous indices.  Returns the polygon's bounding box in the slice and the
    mask inside it.  Linear in the number of edges and rows, where a point-in-polygon test per voxel
    (``skimage.draw.polygon``) costs edges x voxels: 0.5 s for one body contour of a 512 x 512 slice.  An edge
    crosses the rows whose centre is in [lower end, upper end), so a vertex on a row is counted once; centres
    exactly on a crossing are inside.
    """
    row0 = max(int(np.floor(vertices[:, 1].min())), 0)
    row1 = min(int(np.ceil(vertices[:, 1].max())) + 1, shape[0])
    col0 = max(int(np.floor(vertices[:, 0].min())), 0)
    col1 = min(int(np.ceil(vertices[:, 0].max())) + 1, shape[1])
    box = (slice(row0, max(row1, row0)), slice(col0, max(col1, col0)))
    height, width = max(row1 - row0, 0), max(col1 - col0, 0)
    local = vertices - (col0, row0)
    start, end = local, np.roll(local, -1, axis=0)
    low = np.minimum(start[:, 1], end[:, 1])
    high = np.maximum(start[:, 1], end[:, 1])
    first = np.maximum(np.ceil(low).astype(int), 0)
    counts = np.maximum(np.minimum(np.ceil(high).astype(int), height) - first, 0)
    edge = np.repeat(np.arange(len(start)), counts)
    rows = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + first[edge]
    a, b = start[edge], end[edge]
    x = a[:, 0] + (rows - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
    order = np.lexsort((x, rows))
    rows, x = rows[order], x[order]
    # even-odd: crossings pair up within each row (a closed polygon crosses every row an even number of times)
    change = np.zeros((height, width + 1), dtype=np.int32)
    begin = np.clip(np.ceil(x[0::2]).astype(int), 0, width)
    stop = np.clip(np.floor(x[1::2]).astype(int) + 1, 0, width)
    keep = stop > begin
    np.add.at(change, (rows[0::2][keep], begin[keep]), 1)
    np.add.at(change, (rows[0::2][keep], stop[keep]), -1)
    return box, np.cumsum(change, axis=1)[:, :-1] > 0


def _on_edges(
    vertices: np.ndarray, shape: tuple[int, int], tolerance: float = ON_CONTOUR_TOLERANCE
) -> tuple[np.ndarray, ...]:
    """(row, column) indices of the voxel centres lying on the polygon's edges (within ``tolerance`` voxels).

    ``vertices`` are (column, row) continuous indices.  Each edge is sampled every half voxel; the nearest
    centre of each sample is kept when its distance to the edge is within the tolerance (a centre that near
    the edge is within 0.3 voxels of a sample in each axis, so rounding that sample finds it).
    """
    start = vertices
    vector = np.roll(vertices, -1, axis=0) - start
    lengths = np.linalg.norm(vector, axis=1)
    steps = np.maximum(np.ceil(lengths * 2).astype(int), 1)
    edge = np.repeat(np.arange(len(start)), steps + 1)
    offsets = np.repeat(np.cumsum(steps + 1) - (steps + 1), steps + 1)
    fraction = (np.arange(len(edge)) - offsets) / steps[edge]
    centres = np.rint(start[edge] + fraction[:, None] * vector[edge])
    offset = centres - start[edge]
    squared = np.maximum((vector * vector).sum(axis=1), 1e-12)[edge]
    along = np.clip((offset * vector[edge]).sum(axis=1) / squared, 0.0, 1.0)
    distance = np.linalg.norm(offset - along[:, None] * vector[edge], axis=1)
    centres = centres[distance <= tolerance].astype(int)
    inside = (centres[:, 0] >= 0) & (centres[:, 0] < shape[1]) & (centres[:, 1] >= 0) & (centres[:, 1] < shape[0])
    centres = centres[inside]
    return centres[:, 1], centres[:, 0]
