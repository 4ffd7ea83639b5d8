"""Masks <-> planar contours: round trips voxel for voxel, holes, contours through voxel centres, off-grid."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from mhubio.rtstruct import ContourOffGridError, contours_to_mask, mask_to_contours


def grid(size=(40, 30, 6), spacing=(0.7, 0.9, 2.5), origin=(-10.0, 5.0, 30.0), direction=None) -> sitk.Image:
    image = sitk.Image(*size, sitk.sitkUInt8)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    if direction is not None:
        image.SetDirection(np.asarray(direction, dtype=float).ravel().tolist())
    return image


ROTATED = [[0, 1, 0], [1, 0, 0], [0, 0, -1]]
"""Rows and columns swapped, slices going down (a rotation, as in a coronal-looking layout)."""
OBLIQUE = sitk.VersorTransform((0.3, 0.2, 1.0), 0.4).GetMatrix()


@pytest.mark.parametrize("direction", [None, ROTATED, OBLIQUE], ids=["axial", "swapped", "oblique"])
@pytest.mark.parametrize("seed", range(6))
def test_masks_survive_the_round_trip_voxel_for_voxel(direction, seed):
    rng = np.random.default_rng(seed)
    noise = rng.random((6, 30, 40))
    # odd seeds: smooth blobs with holes and islands in holes; even seeds: salt-and-pepper with saddles
    mask = ndimage.binary_opening(noise > 0.3) if seed % 2 else noise > 0.6
    image = grid(direction=direction)
    contours = list(mask_to_contours(mask, image))
    assert {c.slice_index for c in contours} == set(np.flatnonzero(mask.any(axis=(1, 2))))
    assert np.array_equal(contours_to_mask([c.points for c in contours], image), mask)


def test_a_hole_is_a_second_contour_and_cut_out_again():
    mask = np.zeros((1, 12, 12), dtype=bool)
    mask[0, 2:10, 2:10] = True
    mask[0, 4:8, 4:8] = False
    mask[0, 5:7, 5:7] = True  # an island in the hole
    image = grid(size=(12, 12, 1))
    contours = list(mask_to_contours(mask, image))
    assert len(contours) == 3
    assert np.array_equal(contours_to_mask([c.points for c in contours], image), mask)


def test_contours_run_half_way_between_voxel_centres_in_patient_coordinates():
    mask = np.zeros((3, 8, 8), dtype=bool)
    mask[1, 2, 3] = True  # one voxel: a diamond around its centre
    image = grid(size=(8, 8, 3), spacing=(1.0, 2.0, 3.0), origin=(100.0, 200.0, 300.0))
    (contour,) = mask_to_contours(mask, image)
    assert contour.slice_index == 1
    centre = np.array(image.TransformIndexToPhysicalPoint((3, 2, 1)))
    offsets = np.abs(contour.points - centre)
    assert np.allclose(offsets[:, 2], 0.0)
    assert np.allclose(offsets[:, 0] / 0.5 + offsets[:, 1] / 1.0, 1.0)  # on the diamond |dx|/0.5 + |dy|/1 = 1


@pytest.mark.parametrize("spacing", [1.0, 0.7])
def test_contours_traced_through_boundary_voxel_centres_keep_those_voxels(spacing):
    image = grid(size=(8, 8, 1), spacing=(spacing, spacing, 1.0), origin=(0.0, 0.0, 0.0))
    square = np.array([[1, 1, 0], [5, 1, 0], [5, 4, 0], [1, 4, 0]], dtype=float)  # as OpenCV traces a 5 x 4 block
    square[:, :2] = np.round(square[:, :2] * spacing + 0.006, 2)  # in mm, two decimals, 0.01 mm off
    mask = contours_to_mask([square], image)
    expected = np.zeros((1, 8, 8), dtype=bool)
    expected[0, 1:5, 1:6] = True
    assert np.array_equal(mask, expected)
    line = np.array([[2, 6, 0], [6, 6, 0], [2, 6, 0]], dtype=float) * (spacing, spacing, 1.0)  # no inside
    assert contours_to_mask([line], image)[0, 6, 2:7].all()


def test_a_hole_traced_through_the_voxels_around_it_keeps_those_voxels():
    image = grid(size=(9, 9, 1), spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0))
    outer = np.array([[1, 1, 0], [7, 1, 0], [7, 7, 0], [1, 7, 0]], dtype=float)
    hole = np.array([[4, 3, 0], [3, 4, 0], [4, 5, 0], [5, 4, 0]], dtype=float)  # OpenCV's inner contour of (4, 4)
    expected = np.zeros((1, 9, 9), dtype=bool)
    expected[0, 1:8, 1:8] = True
    expected[0, 4, 4] = False
    assert np.array_equal(contours_to_mask([outer, hole], image), expected)


def test_contours_off_the_slice_planes_are_refused():
    image = grid(size=(8, 8, 4), spacing=(1.0, 1.0, 2.0), origin=(0.0, 0.0, 0.0))
    between = np.array([[1, 1, 3.0], [4, 1, 3.0], [4, 4, 3.0]])
    with pytest.raises(ContourOffGridError, match="slice plane"):
        contours_to_mask([between], image)
    tilted = np.array([[1, 1, 2.0], [4, 1, 2.0], [4, 4, 3.0]])
    with pytest.raises(ContourOffGridError):
        contours_to_mask([tilted], image)
    outside = np.array([[1, 1, 20.0], [4, 1, 20.0], [4, 4, 20.0]])
    with pytest.raises(ContourOffGridError, match="outside the volume"):
        contours_to_mask([outside], image)
