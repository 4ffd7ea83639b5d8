"""Reference grids of DICOM series and resampling of label maps onto them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pydicom
import SimpleITK as sitk

GEOMETRY_TOLERANCE_MM = 1e-3


def slice_normal(dataset: pydicom.Dataset) -> np.ndarray:
    """Unit normal of an image plane (row x column direction cosines)."""
    iop = np.asarray(dataset.ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    return normal / np.linalg.norm(normal)


def sort_by_position(datasets: Sequence[pydicom.Dataset]) -> list[pydicom.Dataset]:
    """Datasets ordered by position along the slice normal (ascending)."""
    if not datasets:
        raise ValueError("no source images")
    normal = slice_normal(datasets[0])
    return sorted(datasets, key=lambda ds: float(np.dot(normal, np.asarray(ds.ImagePositionPatient, float))))


def reference_image(datasets: Sequence[pydicom.Dataset]) -> sitk.Image:
    """An empty SimpleITK image on the grid of single-frame slices given in slice order.

    The slice spacing is the mean distance between consecutive positions
    (series QC has already rejected irregular spacing).
    """
    first = datasets[0]
    iop = np.asarray(first.ImageOrientationPatient, dtype=float)
    normal = slice_normal(first)
    positions = np.array([np.dot(normal, np.asarray(ds.ImagePositionPatient, float)) for ds in datasets])
    row_spacing, column_spacing = (float(v) for v in first.PixelSpacing)
    if len(datasets) > 1:
        steps = np.diff(positions)
        if np.any(steps <= 0):
            raise ValueError("source images are not in ascending order along the slice normal")
        z_spacing = float(np.mean(steps))
    else:
        z_spacing = float(getattr(first, "SliceThickness", 1.0) or 1.0)
    image = sitk.Image([int(first.Columns), int(first.Rows), len(datasets)], sitk.sitkUInt8)
    image.SetOrigin([float(v) for v in first.ImagePositionPatient])
    image.SetSpacing([column_spacing, row_spacing, z_spacing])
    image.SetDirection(np.column_stack([iop[:3], iop[3:], normal]).flatten().tolist())
    return image


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
