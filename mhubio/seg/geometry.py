"""Reference grids of DICOM series and resampling of label maps onto them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pydicom
import SimpleITK as sitk

from mhubio.dicom.series import SeriesGeometry, orientation_normal

GEOMETRY_TOLERANCE_MM = 1e-3


def slice_normal(dataset: pydicom.Dataset) -> np.ndarray:
    """Unit normal of an image plane (row x column direction cosines)."""
    return orientation_normal(dataset.ImageOrientationPatient)


def sort_by_position(datasets: Sequence[pydicom.Dataset]) -> list[pydicom.Dataset]:
    """Datasets ordered by position along the slice normal (ascending)."""
    if not datasets:
        raise ValueError("no source images")
    normal = slice_normal(datasets[0])
    return sorted(datasets, key=lambda ds: float(np.dot(normal, np.asarray(ds.ImagePositionPatient, float))))


def reference_image(datasets: Sequence[pydicom.Dataset]) -> sitk.Image:
    """An empty SimpleITK image on the grid of single-frame slices given in slice order.

    The grid is the one :class:`mhubio.dicom.SeriesGeometry` derives for an indexed
    series (series QC has already rejected irregular spacing).
    """
    first = datasets[0]
    normal = slice_normal(first)
    positions = np.array([np.dot(normal, np.asarray(ds.ImagePositionPatient, float)) for ds in datasets])
    if np.any(np.diff(positions) <= 0):
        raise ValueError("source images are not in ascending order along the slice normal")
    geometry = SeriesGeometry.from_slices(
        first.ImagePositionPatient,
        first.ImageOrientationPatient,
        first.PixelSpacing,
        first.Rows,
        first.Columns,
        positions,
        getattr(first, "SliceThickness", None),
    )
    return geometry.reference_image()


def same_grid(a: sitk.Image, b: sitk.Image, tolerance: float = GEOMETRY_TOLERANCE_MM) -> bool:
    """Whether two images share size, origin, spacing and direction."""
    return (
        a.GetSize() == b.GetSize()
        and np.allclose(a.GetOrigin(), b.GetOrigin(), atol=tolerance)
        and np.allclose(a.GetSpacing(), b.GetSpacing(), atol=tolerance)
        and np.allclose(a.GetDirection(), b.GetDirection(), atol=1e-6)
    )


def resample_labels(labels: sitk.Image, reference: sitk.Image) -> sitk.Image:
    """``labels`` on the grid of ``reference`` (nearest neighbour; identity if already there)."""
    if same_grid(labels, reference):
        return labels
    return sitk.Resample(labels, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, labels.GetPixelID())
