"""Region masking: keep labels inside or outside a region, or where connected to it,
and remove labels outside the scanner's field of view.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

import cc3d
import numpy as np
import SimpleITK as sitk

from mhubio.postprocessing._validation import (
    Connectivity,
    check_choice,
    check_connectivity,
    check_fill_label,
    check_label_map,
    check_labels,
    check_mask,
    selected_labels,
)


class RegionSide(str, Enum):
    """Which side of a region a label is kept on."""

    INSIDE = "inside"
    OUTSIDE = "outside"


def region_from_labels(label_map: np.ndarray, labels: Sequence[int]) -> np.ndarray:
    """Return the boolean region covered by ``labels`` in ``label_map``.

    Parameters
    ----------
    label_map:
        Integer or bool label map (z, y, x), e.g. a TotalSegmentator output.
    labels:
        Labels forming the region (e.g. the five lung lobes).

    Returns
    -------
    numpy.ndarray
        Boolean array of the same shape.
    """
    check_label_map(label_map)
    return np.isin(label_map, check_labels(labels, label_map.dtype))


def _selected(label_map: np.ndarray, labels: Sequence[int] | None) -> np.ndarray:
    return np.isin(label_map, selected_labels(label_map, labels))


def _check_region(region: np.ndarray, label_map: np.ndarray, allow_empty_region: bool) -> None:
    check_mask(region, label_map.shape, "region")
    if not allow_empty_region and not region.any():
        raise ValueError(
            "region is empty, so the restriction would remove every selected label; check the "
            "step that produced the region (e.g. a missing organ segmentation) or pass "
            "allow_empty_region=True if an empty region is expected"
        )


def restrict_to_region(
    label_map: np.ndarray,
    region: np.ndarray,
    *,
    labels: Sequence[int] | None = None,
    side: RegionSide = RegionSide.INSIDE,
    fill_label: int = 0,
    allow_empty_region: bool = False,
) -> np.ndarray:
    """Keep ``labels`` only on one side of a region, voxel by voxel.

    Parameters
    ----------
    label_map:
        Integer or bool label map (z, y, x).
    region:
        Boolean region of the same shape (see :func:`region_from_labels`).
    labels:
        Labels to restrict; others are left untouched. Default: every non-zero label.
    side:
        ``INSIDE`` keeps the labels inside the region (breast tumour within the
        breast), ``OUTSIDE`` keeps them outside it.
    fill_label:
        Label given to removed voxels.
    allow_empty_region:
        An empty region raises ``ValueError`` unless this is true.

    Returns
    -------
    numpy.ndarray
        A new label map of the same dtype.
    """
    check_label_map(label_map)
    _check_region(region, label_map, allow_empty_region)
    side = check_choice(side, RegionSide, "side")
    fill_label = check_fill_label(fill_label, label_map.dtype)
    off_side = ~region if side is RegionSide.INSIDE else region
    result = label_map.copy()
    result[_selected(label_map, labels) & off_side] = fill_label
    return result


def keep_components_connected_to_region(
    label_map: np.ndarray,
    region: np.ndarray,
    *,
    labels: Sequence[int] | None = None,
    connectivity: int = Connectivity.VERTEX,
    fill_label: int = 0,
    allow_empty_region: bool = False,
) -> np.ndarray:
    """Keep the components of ``labels`` that overlap or touch a region.

    A component is kept whole if it shares a voxel with the region or is a
    neighbour (under ``connectivity``) of a region voxel; this keeps a lung tumour
    that lies against the lung although part of it is outside the lung mask.

    Parameters
    ----------
    label_map:
        Integer or bool label map (z, y, x).
    region:
        Boolean region of the same shape.
    labels:
        Labels whose components are tested, as one union. Default: every non-zero label.
    connectivity:
        6, 18 or 26; both for the components and for "touching".
    fill_label:
        Label given to the voxels of removed components.
    allow_empty_region:
        An empty region raises ``ValueError`` unless this is true.

    Returns
    -------
    numpy.ndarray
        A new label map of the same dtype.
    """
    check_label_map(label_map)
    _check_region(region, label_map, allow_empty_region)
    connectivity = check_connectivity(connectivity)
    fill_label = check_fill_label(fill_label, label_map.dtype)
    selected = _selected(label_map, labels)
    joined = cc3d.connected_components(selected | region, connectivity=connectivity.cc3d)
    connected_ids = np.unique(joined[region])
    result = label_map.copy()
    result[selected & ~np.isin(joined, connected_ids)] = fill_label
    return result


def field_of_view_mask(original: sitk.Image, target: sitk.Image) -> np.ndarray:
    """Return where the ``target`` grid lies inside the ``original`` image's field of view.

    A ones-image on the original grid is resampled onto the target grid with
    nearest-neighbour interpolation and 0 as default value, so a target voxel is
    inside if its centre falls within the original image's voxel boxes.

    Parameters
    ----------
    original:
        The image as acquired (e.g. the CT before resampling onto the PET grid).
    target:
        The image whose grid the label map lives on.

    Returns
    -------
    numpy.ndarray
        Boolean array (z, y, x) of the target grid.
    """
    for name, image in (("original", original), ("target", target)):
        if not isinstance(image, sitk.Image) or image.GetDimension() != 3:
            raise ValueError(f"{name} must be a 3-D SimpleITK.Image")
    ones = sitk.Image(original.GetSize(), sitk.sitkUInt8) + 1
    ones.CopyInformation(original)
    resampled = sitk.Resample(
        ones, target, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8
    )
    return sitk.GetArrayFromImage(resampled).astype(bool)


def mask_outside_field_of_view(label_map: np.ndarray, field_of_view: np.ndarray) -> np.ndarray:
    """Set every label outside the field of view to 0.

    Parameters
    ----------
    label_map:
        Integer or bool label map (z, y, x).
    field_of_view:
        Boolean array, true where image data exists (see :func:`field_of_view_mask`).

    Returns
    -------
    numpy.ndarray
        A new label map of the same dtype.
    """
    check_label_map(label_map)
    check_mask(field_of_view, label_map.shape, "field_of_view")
    result = label_map.copy()
    result[~field_of_view] = 0
    return result
