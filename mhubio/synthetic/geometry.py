"""Slice geometry of a synthetic series: orientation, positions and spacing in patient (LPS) coordinates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

AXIAL: tuple[float, float, float, float, float, float] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
"""ImageOrientationPatient of a standard axial head-first-supine acquisition."""


def float_triple(values: Sequence[float] | np.ndarray, name: str) -> tuple[float, float, float]:
    """``values`` as a tuple of three floats.

    Raises
    ------
    ValueError
        If ``values`` does not hold exactly three values.
    """
    if len(values) != 3:
        raise ValueError(f"{name} must have 3 values, got {len(values)}")
    return float(values[0]), float(values[1]), float(values[2])


def int_triple(values: Sequence[int] | np.ndarray, name: str) -> tuple[int, int, int]:
    """``values`` as a tuple of three ints.

    Raises
    ------
    ValueError
        If ``values`` does not hold exactly three values.
    """
    if len(values) != 3:
        raise ValueError(f"{name} must have 3 values, got {len(values)}")
    return int(values[0]), int(values[1]), int(values[2])


def orientation_cosines(values: Sequence[float] | np.ndarray) -> tuple[float, float, float, float, float, float]:
    """ImageOrientationPatient ``values`` as a tuple of six floats.

    Raises
    ------
    ValueError
        If ``values`` does not hold exactly six direction cosines.
    """
    if len(values) != 6:
        raise ValueError(f"orientation needs 6 direction cosines, got {len(values)}")
    return (float(values[0]), float(values[1]), float(values[2]),
            float(values[3]), float(values[4]), float(values[5]))


@dataclass(frozen=True)
class SeriesGeometry:
    """Geometry of an equally spaced stack of parallel slices.

    Parameters
    ----------
    origin : tuple of float
        ImagePositionPatient (mm, LPS) of the first slice along the slice normal, i.e. of voxel (0, 0, 0).
    orientation : tuple of float
        ImageOrientationPatient: direction cosines of the row (+column index) and the column (+row index).
    spacing : tuple of float
        Voxel spacing (x, y, z) in mm, in the order SimpleITK uses: column spacing, row spacing, slice spacing.
    shape : tuple of int
        Array shape (slices, rows, columns).
    """

    origin: tuple[float, float, float]
    orientation: tuple[float, float, float, float, float, float]
    spacing: tuple[float, float, float]
    shape: tuple[int, int, int]

    def __post_init__(self) -> None:
        row, col = np.asarray(self.orientation[:3]), np.asarray(self.orientation[3:])
        if len(self.orientation) != 6:
            raise ValueError(f"orientation needs 6 direction cosines, got {len(self.orientation)}")
        if not (np.isclose(np.linalg.norm(row), 1.0, atol=1e-6) and np.isclose(np.linalg.norm(col), 1.0, atol=1e-6)
                and abs(float(row @ col)) < 1e-6):
            raise ValueError(f"orientation {self.orientation} is not two orthonormal direction cosines")
        if len(self.spacing) != 3 or min(self.spacing) <= 0:
            raise ValueError(f"spacing must be three positive values (x, y, z) in mm, got {self.spacing}")
        if len(self.shape) != 3 or min(self.shape) < 1:
            raise ValueError(f"shape must be three positive sizes (slices, rows, columns), got {self.shape}")

    @property
    def row_direction(self) -> np.ndarray:
        """Unit vector along a row (direction of increasing column index)."""
        return np.asarray(self.orientation[:3], dtype=float)

    @property
    def column_direction(self) -> np.ndarray:
        """Unit vector along a column (direction of increasing row index)."""
        return np.asarray(self.orientation[3:], dtype=float)

    @property
    def normal(self) -> np.ndarray:
        """Slice normal, row direction x column direction."""
        return np.cross(self.row_direction, self.column_direction)

    @property
    def direction(self) -> tuple[float, ...]:
        """Direction matrix as SimpleITK's ``Image.GetDirection()`` returns it (row-major, columns x, y, z)."""
        matrix = np.stack([self.row_direction, self.column_direction, self.normal], axis=1)
        return tuple(float(v) for v in matrix.ravel())

    def slice_position(self, index: int) -> tuple[float, float, float]:
        """ImagePositionPatient of slice ``index`` (0 = lowest along the slice normal)."""
        position = np.asarray(self.origin, dtype=float) + index * self.spacing[2] * self.normal
        return float_triple(position, "slice position")

    @classmethod
    def centered(
        cls,
        shape: tuple[int, int, int],
        spacing: tuple[float, float, float],
        orientation: tuple[float, float, float, float, float, float] = AXIAL,
        center: tuple[float, float, float] = (0.0, 0.0, 0.0),
    ) -> SeriesGeometry:
        """Geometry whose volume centre lies at ``center`` (mm, LPS).

        Parameters
        ----------
        shape : tuple of int
            Array shape (slices, rows, columns).
        spacing : tuple of float
            Voxel spacing (x, y, z) in mm.
        orientation : tuple of float
            ImageOrientationPatient.
        center : tuple of float
            Patient coordinates of the volume centre.
        """
        row, col = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
        normal = np.cross(row, col)
        half = [(n - 1) * s / 2.0 for n, s in zip((shape[2], shape[1], shape[0]), spacing, strict=True)]
        origin = np.asarray(center, float) - half[0] * row - half[1] * col - half[2] * normal
        return cls(float_triple([round(v, 4) for v in origin], "origin"), orientation_cosines(orientation),
                   float_triple(spacing, "spacing"), int_triple(shape, "shape"))
