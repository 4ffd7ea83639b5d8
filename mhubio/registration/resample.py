"""Resampling of images and label maps onto a reference grid."""

from __future__ import annotations

from enum import Enum

import numpy as np
import SimpleITK as sitk


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


def image_minimum(image: sitk.Image) -> float:
    """Smallest voxel value of ``image`` (the 'outside' value used for a CT: air or padding)."""
    return float(np.min(sitk.GetArrayViewFromImage(image)))


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
    outside = image_minimum(image) if default_value is None else float(default_value)
    return sitk.Resample(image, reference, transform or sitk.Transform(), interpolation.sitk, outside,
                         image.GetPixelID())


def resample_labels(labels: sitk.Image, reference: sitk.Image, transform: sitk.Transform | None = None) -> sitk.Image:
    """Label map ``labels`` on the grid of ``reference`` by nearest neighbour (background 0 outside).

    Raises
    ------
    ValueError
        If ``labels`` is not an integer image.
    """
    if labels.GetPixelID() in (sitk.sitkFloat32, sitk.sitkFloat64) or labels.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(f"a label map must be a scalar integer image, got {labels.GetPixelIDTypeAsString()}")
    return sitk.Resample(labels, reference, transform or sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                         labels.GetPixelID())
