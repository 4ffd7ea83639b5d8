"""Voxel grids in LPS patient space: slice sorting, reference grids, grid comparison and resampling.

The one place where mhubio decides how DICOM slices are ordered, which grid a
series has, whether two images share a grid, and how images and label maps are
brought onto another grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pydicom
import SimpleITK as sitk

__all__ = [
    "DIRECTION_TOLERANCE",
    "GRID_TOLERANCE_MM",
    "Interpolation",
    "SeriesGeometry",
    "SeriesGeometryError",
    "orientation_normal",
    "reference_image",
    "resample_image",
    "resample_labels",
    "same_grid",
    "slice_geometry",
    "sort_datasets",
]

GRID_TOLERANCE_MM = 1e-3
"""Default tolerance (mm) on origin and spacing when deciding whether two grids are the same."""

DIRECTION_TOLERANCE = 1e-6
"""Default tolerance on the direction cosines when deciding whether two grids are the same."""


class SeriesGeometryError(ValueError):
    """Raised when the geometry of a series cannot be derived from its headers."""


def orientation_normal(orientation: Sequence[float]) -> np.ndarray:
    """Unit normal (row x column direction) of an ImageOrientationPatient value.

    Raises
    ------
    SeriesGeometryError
        If the row and column directions are parallel.
    """
    normal = np.cross(np.asarray(orientation[:3], dtype=float), np.asarray(orientation[3:], dtype=float))
    norm = np.linalg.norm(normal)
    if norm < 1e-6:
        raise SeriesGeometryError(f"ImageOrientationPatient {orientation} is degenerate")
    return normal / norm


def _float_triple(values: Sequence[float] | np.ndarray, name: str) -> tuple[float, float, float]:
    """``values`` as a tuple of three floats.

    Raises
    ------
    SeriesGeometryError
        If ``values`` does not hold exactly three values.
    """
    if len(values) != 3:
        raise SeriesGeometryError(f"{name} must have 3 values, got {len(values)}")
    return float(values[0]), float(values[1]), float(values[2])


@dataclass(frozen=True)
class SeriesGeometry:
    """Voxel grid of a series in LPS patient coordinates (the SimpleITK convention).

    Attributes
    ----------
    origin
        Position of the centre of the first voxel of the first sorted slice (mm).
    spacing
        (column spacing, row spacing, mean distance between adjacent slices) in mm.
    direction
        3x3 matrix whose columns are the row direction, the column direction and the
        slice normal (row x column).
    size
        (columns, rows, number of slices).
    """

    origin: tuple[float, float, float]
    spacing: tuple[float, float, float]
    direction: tuple[tuple[float, float, float], ...]
    size: tuple[int, int, int]

    @classmethod
    def from_slices(
        cls,
        first_position: Sequence[float],
        orientation: Sequence[float],
        pixel_spacing: Sequence[float],
        rows: int,
        columns: int,
        locations: Sequence[float] | np.ndarray,
        slice_thickness: float | None = None,
    ) -> SeriesGeometry:
        """Grid of single-frame slices sorted along their normal.

        The slice spacing is the distance between the first and last location
        divided by the number of gaps, as ITK's ImageSeriesReader computes it; a
        single slice (or slices that do not advance) gets ``slice_thickness``, or 1 mm.

        Parameters
        ----------
        first_position
            ImagePositionPatient of the first slice.
        orientation
            ImageOrientationPatient shared by the slices.
        pixel_spacing
            PixelSpacing as (row spacing, column spacing) in mm.
        rows, columns
            Matrix size.
        locations
            Positions of the sorted slices along the normal (mm).
        slice_thickness
            SliceThickness, used when the locations give no spacing.
        """
        row = np.asarray(orientation[:3], dtype=float)
        col = np.asarray(orientation[3:], dtype=float)
        if len(locations) > 1 and locations[-1] > locations[0]:
            slice_spacing = float((locations[-1] - locations[0]) / (len(locations) - 1))
        else:
            slice_spacing = float(slice_thickness or 1.0)
        direction = np.column_stack([row, col, orientation_normal(orientation)])
        return cls(
            origin=_float_triple(first_position, "ImagePositionPatient"),
            spacing=(float(pixel_spacing[1]), float(pixel_spacing[0]), slice_spacing),
            direction=tuple(_float_triple(r, "direction row") for r in direction),
            size=(int(columns), int(rows), len(locations)),
        )

    def reference_image(self) -> sitk.Image:
        """Return an empty ``SimpleITK.Image`` (one byte per voxel) on this grid."""
        image = sitk.Image(list(self.size), sitk.sitkUInt8)
        self.apply_to(image)
        return image

    def apply_to(self, image: sitk.Image) -> None:
        """Set origin, spacing and direction of ``image`` to this geometry."""
        if tuple(image.GetSize()) != self.size:
            raise SeriesGeometryError(
                f"image size {image.GetSize()} does not match the series size {self.size}"
            )
        image.SetOrigin(self.origin)
        image.SetSpacing(self.spacing)
        image.SetDirection(np.asarray(self.direction, dtype=float).ravel().tolist())


def _location(normal: np.ndarray, dataset: pydicom.Dataset) -> float:
    return float(np.dot(normal, np.asarray(dataset.ImagePositionPatient, float)))


def sort_datasets(datasets: Sequence[pydicom.Dataset]) -> list[pydicom.Dataset]:
    """Single-frame datasets in ascending order along the slice normal of the first one.

    One dataset, e.g. an enhanced multi-frame image whose frames carry the planes, is returned as it is.

    Raises
    ------
    ValueError
        If no dataset is given.
    """
    if not datasets:
        raise ValueError("no source images")
    if len(datasets) == 1:
        return list(datasets)
    normal = orientation_normal(datasets[0].ImageOrientationPatient)
    return sorted(datasets, key=lambda ds: _location(normal, ds))


def slice_geometry(datasets: Sequence[pydicom.Dataset]) -> SeriesGeometry:
    """The grid of single-frame slices given in slice order.

    The grid is the one :class:`SeriesGeometry` derives for an indexed series
    (series QC has already rejected irregular spacing).

    Raises
    ------
    ValueError
        If the slices are not in ascending order along the slice normal.
    """
    first = datasets[0]
    normal = orientation_normal(first.ImageOrientationPatient)
    locations = np.array([_location(normal, ds) for ds in datasets])
    if np.any(np.diff(locations) <= 0):
        raise ValueError("source images are not in ascending order along the slice normal")
    return SeriesGeometry.from_slices(
        first.ImagePositionPatient,
        first.ImageOrientationPatient,
        first.PixelSpacing,
        first.Rows,
        first.Columns,
        locations,
        getattr(first, "SliceThickness", None),
    )


def reference_image(datasets: Sequence[pydicom.Dataset]) -> sitk.Image:
    """An empty SimpleITK image on the grid of single-frame slices given in slice order (:func:`slice_geometry`).

    Raises
    ------
    ValueError
        If the slices are not in ascending order along the slice normal.
    """
    return slice_geometry(datasets).reference_image()


def same_grid(
    a: sitk.Image | SeriesGeometry, b: sitk.Image | SeriesGeometry, *, tolerance_mm: float,
    direction_tolerance: float = DIRECTION_TOLERANCE,
) -> bool:
    """Whether two images (or grids) share size, origin, spacing and direction.

    Parameters
    ----------
    a, b
        Images or grids to compare.
    tolerance_mm
        Largest accepted difference of origin and spacing values (mm).
    direction_tolerance
        Largest accepted difference of direction cosines.
    """
    (size_a, origin_a, spacing_a, direction_a), (size_b, origin_b, spacing_b, direction_b) = _grid(a), _grid(b)
    return (
        tuple(size_a) == tuple(size_b)
        and np.allclose(origin_a, origin_b, rtol=0, atol=tolerance_mm)
        and np.allclose(spacing_a, spacing_b, rtol=0, atol=tolerance_mm)
        and np.allclose(direction_a, direction_b, rtol=0, atol=direction_tolerance)
    )


def _grid(image: sitk.Image | SeriesGeometry) -> tuple[Sequence[int], Sequence[float], Sequence[float],
                                                       Sequence[float]]:
    """Size, origin, spacing and direction (row by row) of an image or a grid."""
    if isinstance(image, SeriesGeometry):
        return image.size, image.origin, image.spacing, np.ravel(image.direction).tolist()
    return image.GetSize(), image.GetOrigin(), image.GetSpacing(), image.GetDirection()


class Interpolation(str, Enum):
    """Interpolators for intensity images (label maps always use nearest neighbour)."""

    LINEAR = "linear"
    BSPLINE = "bspline"
    NEAREST = "nearest"

    @property
    def sitk(self) -> int:
        """The SimpleITK interpolator constant."""
        return {
            Interpolation.LINEAR: sitk.sitkLinear,
            Interpolation.BSPLINE: sitk.sitkBSpline,
            Interpolation.NEAREST: sitk.sitkNearestNeighbor,
        }[self]


def resample_image(
    image: sitk.Image,
    reference: sitk.Image,
    transform: sitk.Transform | None = None,
    interpolation: Interpolation = Interpolation.LINEAR,
    default_value: float | None = None,
) -> sitk.Image:
    """``image`` on the grid of ``reference``, in the pixel type of ``image``.

    Parameters
    ----------
    image:
        Moving image in patient coordinates.
    reference:
        Image whose size, origin, spacing and direction the result takes.
    transform:
        Maps points of the reference space into ``image`` space (as returned
        by :func:`~mhubio.registration.register_translation`); identity if ``None``.
    interpolation:
        Interpolator.
    default_value:
        Value of voxels outside ``image``; default the minimum of ``image``
        (for a CT the value that marks 'no data', as in the BAMF code).
    """
    if image.GetDimension() != reference.GetDimension():
        raise ValueError(f"cannot resample a {image.GetDimension()}-D image onto a {reference.GetDimension()}-D grid")
    outside = float(np.min(sitk.GetArrayViewFromImage(image))) if default_value is None else float(default_value)
    return sitk.Resample(image, reference, transform or sitk.Transform(), interpolation.sitk, outside,
                         image.GetPixelID())


def resample_labels(
    labels: sitk.Image,
    reference: sitk.Image | SeriesGeometry,
    transform: sitk.Transform | None = None,
    *,
    tolerance_mm: float = GRID_TOLERANCE_MM,
) -> sitk.Image:
    """Label map ``labels`` on the grid of ``reference`` (an image or a grid) by nearest neighbour (background 0
    outside).

    Without ``transform``, a label map already on the grid (within ``tolerance_mm``)
    is returned unchanged (and no image of a grid is made).

    Raises
    ------
    ValueError
        If ``labels`` must be resampled and is not a scalar integer image.
    """
    if transform is None and same_grid(labels, reference, tolerance_mm=tolerance_mm):
        return labels
    if labels.GetPixelID() in (sitk.sitkFloat32, sitk.sitkFloat64) or labels.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(f"a label map must be a scalar integer image, got {labels.GetPixelIDTypeAsString()}")
    grid = reference.reference_image() if isinstance(reference, SeriesGeometry) else reference
    return sitk.Resample(labels, grid, transform or sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                         labels.GetPixelID())
