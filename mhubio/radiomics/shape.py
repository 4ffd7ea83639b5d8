"""pyradiomics' shape features and feature extractor, with the mesh measured by :mod:`mhubio.radiomics.mesh`.

:class:`FastShape` is pyradiomics' ``RadiomicsShape`` with its mesh step (quadratic in the surface size) replaced;
every feature formula stays pyradiomics'.  :func:`shape_extractor` returns a pyradiomics extractor that computes the
3D shape class with it.  pyradiomics is imported when these are first used.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import numpy as np
import SimpleITK as sitk

from mhubio.radiomics.mesh import mesh_measures

__all__ = ["shape_extractor"]

_SHAPE = "shape"


def shape_extractor(**settings: Any) -> Any:
    """A pyradiomics ``RadiomicsFeatureExtractor`` whose 3D shape features use the fast mesh measures."""
    return _build()(**settings)


@lru_cache(maxsize=1)
def _build() -> type:
    """The extractor class (built once pyradiomics is imported)."""
    from radiomics import featureextractor, imageoperations
    from radiomics.shape import RadiomicsShape

    class FastShape(RadiomicsShape):
        """pyradiomics' 3D shape features; surface area, volume and diameters from :func:`mesh_measures`."""

        def _initSegmentBasedCalculation(self) -> None:
            self.pixelSpacing = np.array(self.inputImage.GetSpacing()[::-1])
            self.maskArray = np.pad(sitk.GetArrayViewFromImage(self.inputMask) == self.label, 1)
            self.voxelCount = int(np.count_nonzero(self.maskArray))
            mesh = mesh_measures(self.maskArray, tuple(self.pixelSpacing))
            self.SurfaceArea, self.Volume = mesh.surface_area, mesh.volume
            self.diameters = (mesh.max_2d_slice, mesh.max_2d_column, mesh.max_2d_row, mesh.max_3d)
            self.eigenValues = _eigenvalues(self.maskArray, self.pixelSpacing)

        def getVoxelVolumeFeatureValue(self) -> float:
            """Number of voxels times the volume of one voxel, as pyradiomics computes it."""
            z, y, x = self.pixelSpacing
            return self.voxelCount * (z * x * y)

    class Extractor(featureextractor.RadiomicsFeatureExtractor):
        """pyradiomics' extractor; the 3D shape class is :class:`FastShape` (2D shape is not offered)."""

        def computeShape(self, image, mask, boundingBox, **kwargs):
            features = {}
            if "shape2D" in self.enabledFeatures:
                raise ValueError("2D shape features are not offered; enable the 3D shape class")
            if _SHAPE not in self.enabledFeatures:
                return features
            if mask.GetDimension() != 3:
                raise ValueError(f"3D shape features need a 3D mask, got {mask.GetDimension()}D")
            cropped_image, cropped_mask = imageoperations.cropToTumorMask(image, mask, boundingBox)
            shape = FastShape(cropped_image, cropped_mask, **kwargs)
            for name in self.enabledFeatures[_SHAPE] or []:
                shape.enableFeatureByName(name)
            for name, value in shape.execute().items():
                features[f"original_{_SHAPE}_{name}"] = value
            return features

    return Extractor


def _eigenvalues(mask: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Eigenvalues of the covariance of the voxels' physical coordinates, ascending (pyradiomics' axis lengths).

    The moments come from the mask's projections, centred in exact integer arithmetic.  The covariance is symmetric: its
    eigenvalues are taken as real numbers (pyradiomics' general solver returns complex numbers with a
    rounding-size imaginary part where two are equal, e.g. for a square cross-section).
    """
    count = int(np.count_nonzero(mask))
    index = [np.arange(n, dtype=np.int64) for n in mask.shape]
    first = [0, 0, 0]
    second = [[0] * 3 for _ in range(3)]
    for a in range(3):
        profile = mask.sum(axis=tuple(d for d in range(3) if d != a), dtype=np.int64)
        first[a] = int(profile @ index[a])
        second[a][a] = int(profile @ index[a] ** 2)
    for a, b in ((0, 1), (0, 2), (1, 2)):
        plane = mask.sum(axis=3 - a - b, dtype=np.int64)
        second[a][b] = second[b][a] = int(index[a] @ plane @ index[b])
    centred = [[count * second[a][b] - first[a] * first[b] for b in range(3)] for a in range(3)]
    covariance = np.array(centred, dtype=np.float64) / float(count) ** 2 * np.outer(spacing, spacing)
    values = np.linalg.eigvalsh(covariance)
    # The centred moments are exact integers, so the rank is exact: a flat or linear segment has eigenvalues that
    # are exactly 0 (pyradiomics' 0), where the solver returns rounding noise that a square root magnifies.
    values[: 3 - _rank(centred)] = 0
    rounding = (values < 0) & (values > -1e-10)
    if rounding.any():
        logging.getLogger("mhub.module.radiomics").debug("rounding %d eigenvalues in (-1e-10, 0) to 0",
                                                         rounding.sum())
        values[rounding] = 0
    return values


def _rank(matrix: list[list[int]]) -> int:
    """The exact rank of a symmetric 3x3 integer matrix (its determinant and 2x2 minors in integer arithmetic)."""
    (a, b, c), (_, e, f), (_, _, i) = matrix
    if a * (e * i - f * f) - b * (b * i - f * c) + c * (b * f - e * c) != 0:
        return 3
    minors = (a * e - b * b, a * i - c * c, e * i - f * f, a * f - b * c, b * i - c * f, b * f - c * e)
    if any(minors):
        return 2
    return 1 if any(any(row) for row in matrix) else 0
