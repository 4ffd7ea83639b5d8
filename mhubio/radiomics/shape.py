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
            self.maskArray = np.pad(sitk.GetArrayFromImage(self.inputMask) == self.label, 1)
            self.labelledVoxelCoordinates = np.where(self.maskArray)
            mesh = mesh_measures(self.maskArray, tuple(self.pixelSpacing))
            self.SurfaceArea, self.Volume = mesh.surface_area, mesh.volume
            self.diameters = (mesh.max_2d_slice, mesh.max_2d_column, mesh.max_2d_row, mesh.max_3d)
            self.eigenValues = _eigenvalues(self.labelledVoxelCoordinates, self.pixelSpacing)

    class Extractor(featureextractor.RadiomicsFeatureExtractor):
        """pyradiomics' extractor; the 3D shape class is :class:`FastShape` (2D shape is not offered)."""

        def computeShape(self, image, mask, boundingBox, **kwargs):  # noqa: N802 (pyradiomics' name)
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


def _eigenvalues(coordinates: tuple[np.ndarray, ...], spacing: np.ndarray) -> np.ndarray:
    """Eigenvalues of the voxel coordinates' covariance, ascending, as pyradiomics computes them.

    The covariance is symmetric: its eigenvalues are taken as real numbers (pyradiomics' general solver returns
    complex numbers with a rounding-size imaginary part where two are equal, e.g. for a square cross-section).
    """
    count = len(coordinates[0])
    points = np.array(coordinates, dtype=int).T * spacing[None, :]
    points -= points.mean(axis=0)
    points /= np.sqrt(count)
    values = np.linalg.eigvalsh(points.T.copy() @ points)
    rounding = (values < 0) & (values > -1e-10)
    if rounding.any():
        logging.getLogger("mhub.module.radiomics").debug("rounding %d eigenvalues in (-1e-10, 0) to 0",
                                                         rounding.sum())
        values[rounding] = 0
    return values
