"""Analytic shapes that paint label maps and images on axis-aligned voxel grids.

Shapes live in a normalised body frame: ``u`` runs along the image rows (patient left for axial HFS), ``v`` along
the image columns (posterior) and ``w`` along the slice normal (superior); the body fills ``u, v`` in [-1, 1] and
``w`` in [0, 1]. Grids are given as three ascending 1-D coordinate arrays, so every shape is evaluated only inside
its bounding box, with broadcasting, which keeps 300 x 512 x 512 volumes fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BoxSlices = tuple[slice, slice, slice]


def _span(coords: np.ndarray, low: float, high: float) -> slice:
    """Index range of the ascending ``coords`` inside ``[low, high]``."""
    return slice(int(np.searchsorted(coords, low, side="left")), int(np.searchsorted(coords, high, side="right")))


@dataclass(frozen=True)
class Ellipsoid:
    """Solid ellipsoid with axes along u, v, w.

    Parameters
    ----------
    center : tuple of float
        Centre (u, v, w) in the body frame.
    radii : tuple of float
        Semi-axes (u, v, w) in the body frame.
    """

    center: tuple[float, float, float]
    radii: tuple[float, float, float]

    def mask(self, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> tuple[BoxSlices, np.ndarray]:
        """Bounding box (slices over z, y, x) and the boolean mask inside it."""
        (cu, cv, cw), (ru, rv, rw) = self.center, self.radii
        box = (_span(w, cw - rw, cw + rw), _span(v, cv - rv, cv + rv), _span(u, cu - ru, cu + ru))
        dz = ((w[box[0]] - cw) / rw) ** 2
        dy = ((v[box[1]] - cv) / rv) ** 2
        dx = ((u[box[2]] - cu) / ru) ** 2
        return box, (dz[:, None, None] + dy[None, :, None] + dx[None, None, :]) <= 1.0


@dataclass(frozen=True)
class Tube:
    """Elliptic cylinder along w, between two w levels.

    Parameters
    ----------
    center : tuple of float
        Centre (u, v) of the cross-section.
    radii : tuple of float
        Semi-axes (u, v) of the cross-section.
    extent : tuple of float
        Lowest and highest w level.
    """

    center: tuple[float, float]
    radii: tuple[float, float]
    extent: tuple[float, float] = (-np.inf, np.inf)

    def mask(self, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> tuple[BoxSlices, np.ndarray]:
        """Bounding box (slices over z, y, x) and the boolean mask inside it (broadcast along z)."""
        (cu, cv), (ru, rv) = self.center, self.radii
        box = (_span(w, *self.extent), _span(v, cv - rv, cv + rv), _span(u, cu - ru, cu + ru))
        dy = ((v[box[1]] - cv) / rv) ** 2
        dx = ((u[box[2]] - cu) / ru) ** 2
        return box, ((dy[:, None] + dx[None, :]) <= 1.0)[None, :, :]


Shape = Ellipsoid | Tube


@dataclass(frozen=True)
class Structure:
    """One painted shape: the segment it belongs to and its tissue.

    Parameters
    ----------
    segment : str
        Segment id (label name) the voxels belong to.
    shape : Ellipsoid or Tube
        Where the structure is.
    tissue : str
        Tissue name, looked up in a modality's table of values when painting.
    """

    segment: str
    shape: Shape
    tissue: str


@dataclass(frozen=True)
class PaintedVolume:
    """Label map and tissue map of painted structures.

    Parameters
    ----------
    labels : numpy.ndarray
        uint8 label map (slices, rows, columns); 0 outside every structure.
    tissue_index : numpy.ndarray
        uint8 map of the same shape indexing ``tissues``.
    tissues : tuple of str
        Tissue names; index 0 is the background tissue.
    """

    labels: np.ndarray
    tissue_index: np.ndarray
    tissues: tuple[str, ...]

    def values(self, table: dict[str, float]) -> np.ndarray:
        """float32 image with each voxel set to its tissue's value in ``table``."""
        missing = [tissue for tissue in self.tissues if tissue not in table]
        if missing:
            raise KeyError(f"tissue table has no value for {missing}")
        return np.asarray([table[tissue] for tissue in self.tissues], dtype=np.float32)[self.tissue_index]


def paint(
    structures: list[Structure],
    label_ids: dict[str, int],
    u: np.ndarray,
    v: np.ndarray,
    w: np.ndarray,
    background: str = "air",
) -> PaintedVolume:
    """Paint structures in order (later ones overwrite earlier ones).

    Parameters
    ----------
    structures : list of Structure
        Structures in painting order.
    label_ids : dict
        Label value of each segment id.
    u, v, w : numpy.ndarray
        Ascending body-frame coordinates of the columns, rows and slices.
    background : str
        Tissue outside every structure.

    Returns
    -------
    PaintedVolume
        Label and tissue maps of shape (w.size, v.size, u.size).
    """
    tissues = (background, *sorted({s.tissue for s in structures} - {background}))
    tissue_ids = {tissue: index for index, tissue in enumerate(tissues)}
    shape = (w.size, v.size, u.size)
    tissue_index = np.zeros(shape, dtype=np.uint8)
    labels = np.zeros(shape, dtype=np.uint8)
    for structure in structures:
        box, mask = structure.shape.mask(u, v, w)
        np.copyto(tissue_index[box], np.uint8(tissue_ids[structure.tissue]), where=mask)
        np.copyto(labels[box], np.uint8(label_ids[structure.segment]), where=mask)
    return PaintedVolume(labels, tissue_index, tissues)
