"""Known-answer tests of mhubio.postprocessing on hand-made label maps (z, y, x)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import SimpleITK as sitk

from mhubio.postprocessing import (
    CenterDistance,
    DiameterMeasure,
    RegionSide,
    Unmapped,
    close_label,
    field_of_view_mask,
    filter_components_by_diameter,
    find_components,
    keep_centermost_component,
    keep_components_connected_to_region,
    keep_largest_components,
    label_voxel_counts,
    majority_vote,
    mask_outside_field_of_view,
    measure_components,
    merge_labels,
    region_from_labels,
    remap_labels,
    restrict_to_region,
    structuring_element,
    zero_edge_slices,
    zero_inside_bounding_box,
)

ISO = (1.0, 1.0, 1.0)


def volume(shape=(10, 10, 10), dtype=np.uint8) -> np.ndarray:
    return np.zeros(shape, dtype=dtype)


def cube(vol: np.ndarray, corner: tuple[int, int, int], size: int | tuple[int, int, int], label: int = 1):
    sz = (size,) * 3 if isinstance(size, int) else size
    vol[tuple(slice(c, c + s) for c, s in zip(corner, sz, strict=True))] = label
    return vol


def blob_with_voxels(vol: np.ndarray, start_z: int, n: int, label: int = 1) -> np.ndarray:
    """Fill exactly ``n`` voxels as a compact, 6-connected block of 10 x 10 rows from slice start_z."""
    flat = np.zeros(vol.shape[1] * vol.shape[2] * 4, dtype=bool)
    flat[:n] = True
    block = flat.reshape(4, vol.shape[1], vol.shape[2])
    sub = vol[start_z : start_z + 4]
    sub[block] = label
    return vol


# ---------------------------------------------------------------- components


def test_find_components_ranks_by_size_then_raster_order():
    vol = volume()
    cube(vol, (6, 6, 6), 2)  # 8 voxels, later in raster order
    cube(vol, (0, 0, 0), 2)  # 8 voxels, first in raster order
    cube(vol, (0, 5, 5), 3)  # 27 voxels
    image, components = find_components(vol > 0)
    assert [c.voxel_count for c in components] == [27, 8, 8]
    assert image[0, 0, 0] == components[1].index
    assert image[6, 6, 6] == components[2].index
    assert components[0].centroid == (1.0, 6.0, 6.0)


def test_find_components_on_empty_mask():
    image, components = find_components(np.zeros((3, 4, 5), dtype=bool))
    assert components == [] and not image.any()


def test_keep_largest_per_label_keeps_each_labels_largest():
    vol = volume()
    cube(vol, (0, 0, 0), 3, label=1)  # 27
    cube(vol, (7, 7, 7), 2, label=1)  # 8
    cube(vol, (0, 6, 0), 2, label=2)  # 8
    cube(vol, (6, 0, 6), 3, label=2)  # 27
    out = keep_largest_components(vol, k=1)
    assert (out == 1).sum() == 27 and out[0, 0, 0] == 1 and out[7, 7, 7] == 0
    assert (out == 2).sum() == 27 and out[6, 0, 6] == 2 and out[0, 6, 0] == 0


def test_keep_largest_only_touches_selected_labels():
    vol = volume()
    cube(vol, (0, 0, 0), 3, label=1)
    cube(vol, (7, 7, 7), 2, label=1)
    cube(vol, (0, 6, 0), 2, label=2)
    cube(vol, (6, 0, 6), 1, label=2)
    out = keep_largest_components(vol, k=1, labels=[1])
    assert (out == 2).sum() == 9
    assert (out == 1).sum() == 27


def test_keep_largest_union_keeps_two_organs_with_their_labels():
    """Kidney: components on kidney + cyst + tumour; the two largest survive with labels kept."""
    vol = volume((12, 12, 12))
    cube(vol, (0, 0, 0), 4, label=1)  # left kidney 64
    cube(vol, (0, 0, 4), (4, 4, 2), label=3)  # tumour touching left kidney: 32
    cube(vol, (8, 8, 8), 3, label=1)  # right kidney 27
    cube(vol, (8, 8, 11), (1, 1, 1), label=2)  # cyst touching right kidney
    cube(vol, (0, 10, 0), 2, label=2)  # false-positive cyst 8 (largest cyst!)
    out = keep_largest_components(vol, k=2, labels=[1, 2, 3], union=True)
    assert (out == 1).sum() == 64 + 27
    assert (out == 3).sum() == 32
    assert (out == 2).sum() == 1 and out[8, 8, 11] == 2
    per_label = keep_largest_components(vol, k=2, labels=[1, 2, 3], union=False)
    assert (per_label == 2).sum() == 9  # per label, the false-positive cyst would survive


def test_keep_largest_empty_volume_and_absent_label():
    vol = volume()
    assert not keep_largest_components(vol, k=2).any()
    assert not keep_largest_components(vol, k=1, labels=[4], union=True).any()


def test_keep_largest_tie_goes_to_first_voxel_in_raster_order():
    vol = volume()
    cube(vol, (6, 0, 0), 2)
    cube(vol, (0, 6, 6), 2)  # same size, earlier slice -> wins
    out = keep_largest_components(vol, k=1)
    assert out[0, 6, 6] == 1 and out[6, 0, 0] == 0
    flipped = np.ascontiguousarray(vol[::-1])
    out = keep_largest_components(flipped, k=1)
    assert out[2, 0, 0] == 1 and out[8, 6, 6] == 0


@pytest.mark.parametrize(
    ("connectivity", "offset", "expected_voxels"),
    [
        (6, (1, 1, 1), 1),
        (18, (1, 1, 1), 1),
        (26, (1, 1, 1), 2),
        (6, (0, 1, 1), 1),
        (18, (0, 1, 1), 2),
        (26, (0, 1, 1), 2),
    ],
)
def test_connectivity_on_diagonal_neighbours(connectivity, offset, expected_voxels):
    vol = volume((4, 4, 4))
    vol[1, 1, 1] = 1
    vol[1 + offset[0], 1 + offset[1], 1 + offset[2]] = 1
    out = keep_largest_components(vol, k=1, connectivity=connectivity)
    assert out.sum() == expected_voxels
    assert out[1, 1, 1] == 1  # on a tie the first voxel in raster order wins


@pytest.mark.parametrize(("second", "kept"), [(19, False), (20, False), (21, True)])
def test_second_component_fraction_of_largest(second, kept):
    vol = volume((20, 10, 10))
    blob_with_voxels(vol, 0, 100)
    blob_with_voxels(vol, 10, second)
    out = keep_largest_components(vol, k=2, min_fraction_of_largest=0.2)
    assert out[:5].sum() == 100
    assert out[10:].sum() == (second if kept else 0)


def test_fraction_applies_to_every_component_after_the_largest():
    vol = volume((30, 10, 10))
    blob_with_voxels(vol, 0, 100)
    blob_with_voxels(vol, 10, 50)
    blob_with_voxels(vol, 20, 15)
    out = keep_largest_components(vol, k=3, min_fraction_of_largest=0.2)
    assert out.sum() == 150


def test_minimum_size_in_voxels_and_mm3():
    vol = volume()
    cube(vol, (0, 0, 0), 3)  # 27 voxels
    cube(vol, (6, 6, 6), 2)  # 8 voxels
    out = keep_largest_components(vol, k=2, min_voxels=9)
    assert out.sum() == 27
    # 8 voxels of 0.5 x 0.5 x 2 mm = 4 mm3; 27 voxels = 13.5 mm3
    out = keep_largest_components(vol, k=2, min_volume_mm3=5.0, spacing=(0.5, 0.5, 2.0))
    assert out.sum() == 27
    out = keep_largest_components(vol, k=2, min_volume_mm3=14.0, spacing=(0.5, 0.5, 2.0))
    assert out.sum() == 0
    with pytest.raises(ValueError, match="spacing"):
        keep_largest_components(vol, min_volume_mm3=5.0)


# ---------------------------------------------------------------- centermost


def test_centermost_keeps_central_component_over_larger_off_centre_one():
    vol = volume((21, 21, 21))
    cube(vol, (0, 0, 0), 5)  # 125 voxels in a corner
    cube(vol, (9, 9, 9), 3)  # 27 voxels at the centre (10, 10, 10)
    out = keep_centermost_component(vol, ISO)
    assert out.sum() == 27 and out[10, 10, 10] == 1
    out = keep_centermost_component(vol, ISO, min_fraction_of_largest=0.5)
    assert out.sum() == 125


def test_centermost_uses_physical_distance_in_all_three_axes():
    vol = volume((21, 21, 21))
    cube(vol, (14, 10, 10), 1)  # 4 slices off-centre in z
    cube(vol, (10, 10, 16), 1)  # 6 columns off-centre in x
    assert keep_centermost_component(vol, (1.0, 1.0, 1.0))[14, 10, 10] == 1
    anisotropic = keep_centermost_component(vol, (1.0, 1.0, 3.0))  # z: 12 mm vs x: 6 mm
    assert anisotropic[10, 10, 16] == 1 and anisotropic[14, 10, 10] == 0


def test_centermost_centroid_versus_nearest_voxel_on_a_ring():
    vol = volume((31, 31, 31))
    vol[15, 5:26, 5:26] = 1
    vol[15, 6:25, 6:25] = 0  # square ring around the centre, centroid at the centre
    vol[15, 15, 19] = 2  # single voxel 4 voxels from the centre
    by_centroid = keep_centermost_component(vol, ISO, distance=CenterDistance.CENTROID)
    assert (by_centroid == 1).sum() == 80 and (by_centroid == 2).sum() == 0
    by_voxel = keep_centermost_component(vol, ISO, distance="nearest_voxel")
    assert (by_voxel == 1).sum() == 0 and (by_voxel == 2).sum() == 1


def test_centermost_equal_distance_prefers_larger_component():
    vol = volume((21, 21, 21))
    cube(vol, (10, 10, 2), (1, 1, 1))  # 8 voxels from the centre
    cube(vol, (10, 10, 17), (1, 1, 3))  # centroid at x = 18, 8 voxels from the centre
    out = keep_centermost_component(vol, ISO)
    assert out.sum() == 3 and out[10, 10, 2] == 0


def test_centermost_on_empty_volume_and_with_other_labels():
    assert not keep_centermost_component(volume(), ISO).any()
    vol = volume((21, 21, 21))
    cube(vol, (0, 0, 0), 2, label=1)
    cube(vol, (10, 10, 10), 1, label=1)
    cube(vol, (18, 18, 18), 2, label=5)
    out = keep_centermost_component(vol, ISO, labels=[1])
    assert (out == 1).sum() == 1 and (out == 5).sum() == 8


# ---------------------------------------------------------------- size


def brute_force_max_extent(mask: np.ndarray, spacing_xyz) -> float:
    scale = np.array(spacing_xyz[::-1])
    corners = [
        (np.array(v) + np.array(o)) * scale
        for v in np.argwhere(mask)
        for o in itertools.product((-0.5, 0.5), repeat=3)
    ]
    return max(float(np.linalg.norm(a - b)) for a, b in itertools.combinations(corners, 2))


@pytest.mark.parametrize(
    ("size", "spacing", "expected"),
    [
        ((1, 1, 1), (1.0, 1.0, 1.0), math.sqrt(3)),
        ((1, 1, 3), (1.0, 1.0, 1.0), math.sqrt(11)),
        ((1, 1, 3), (2.0, 1.0, 1.0), math.sqrt(38)),
        ((2, 1, 1), (0.5, 0.5, 3.0), math.sqrt(36 + 0.5)),
    ],
)
def test_max_extent_of_boxes(size, spacing, expected):
    vol = cube(volume(), (2, 2, 2), size)
    _, measured = measure_components(vol > 0, spacing, DiameterMeasure.MAX_EXTENT)
    assert measured[0].diameter_mm == pytest.approx(expected)


def test_max_extent_matches_brute_force_on_irregular_shapes():
    rng = np.random.default_rng(7)
    mask = rng.random((5, 6, 7)) > 0.55
    spacing = (0.7, 1.1, 2.5)
    image, measured = measure_components(mask, spacing, "max_extent")
    assert len(measured) >= 2
    for m in measured:
        assert m.diameter_mm == pytest.approx(
            brute_force_max_extent(image == m.component.index, spacing)
        )


def test_equivalent_sphere_diameter():
    vol = cube(volume(), (0, 0, 0), (2, 3, 4))  # 24 voxels
    _, measured = measure_components(vol > 0, (0.5, 1.0, 2.0), DiameterMeasure.EQUIVALENT_SPHERE)
    assert measured[0].diameter_mm == pytest.approx((6 * 24 * 1.0 / math.pi) ** (1 / 3))


def test_anisotropic_spacing_changes_size_verdict():
    vol = cube(volume(), (2, 2, 2), 2, label=2)  # 8 voxels
    kw = dict(label=2, min_diameter_mm=3.0, max_diameter_mm=30.0, measure="equivalent_sphere")
    # 8 mm3 -> 2.48 mm: removed; 8 * 2.5 mm3 = 20 mm3 -> 3.37 mm: kept
    assert not filter_components_by_diameter(vol, (1.0, 1.0, 1.0), **kw).any()
    assert (filter_components_by_diameter(vol, (1.0, 1.0, 2.5), **kw) == 2).sum() == 8


def test_nodule_size_filter_small_kept_large():
    """Lung (1) with nodules (2): < 3 mm filled with lung, 3-30 mm kept, > 30 mm relabelled 3."""
    vol = np.ones((40, 40, 40), dtype=np.uint8)
    vol[2, 2, 2] = 2  # 1 voxel: 1.24 mm
    cube(vol, (5, 5, 5), 4, label=2)  # 64 mm3: 4.96 mm
    cube(vol, (10, 10, 10), 30, label=2)  # 27000 mm3: 37.2 mm
    out = filter_components_by_diameter(
        vol,
        ISO,
        label=2,
        min_diameter_mm=3,
        max_diameter_mm=30,
        measure=DiameterMeasure.EQUIVALENT_SPHERE,
        oversize_label=3,
        fill_label=1,
    )
    assert out[2, 2, 2] == 1
    assert (out == 2).sum() == 64
    assert (out == 3).sum() == 27000
    removed = filter_components_by_diameter(
        vol, ISO, label=2, min_diameter_mm=3, max_diameter_mm=30, measure="equivalent_sphere"
    )
    assert (removed == 2).sum() == 64 and (removed == 0).sum() == 27001


def test_size_filter_max_extent_verdict_differs_from_sphere():
    vol = volume((4, 4, 40))
    vol[1, 1, 2:34] = 2  # a 32 mm long, 1 voxel thin line: equivalent sphere 3.9 mm
    kw = dict(label=2, min_diameter_mm=3.0, max_diameter_mm=30.0)
    assert (filter_components_by_diameter(vol, ISO, measure="equivalent_sphere", **kw) == 2).sum() == 32
    assert not filter_components_by_diameter(vol, ISO, measure="max_extent", **kw).any()


def test_size_filter_empty_and_invalid():
    kw = dict(label=2, measure="max_extent")
    assert not filter_components_by_diameter(volume(), ISO, min_diameter_mm=3, **kw).any()
    with pytest.raises(ValueError, match="min_diameter_mm"):
        filter_components_by_diameter(volume(), ISO, **kw)
    with pytest.raises(ValueError, match="larger than"):
        filter_components_by_diameter(volume(), ISO, min_diameter_mm=5, max_diameter_mm=3, **kw)
    with pytest.raises(ValueError, match="spacing"):
        filter_components_by_diameter(volume(), (1.0, 0.0, 1.0), min_diameter_mm=3, **kw)
    with pytest.raises(ValueError, match="spacing"):
        filter_components_by_diameter(volume(), (1.0, 1.0), min_diameter_mm=3, **kw)
    with pytest.raises(ValueError, match="oversize_label=300"):
        filter_components_by_diameter(volume(), ISO, max_diameter_mm=3, oversize_label=300, **kw)
    with pytest.raises(ValueError, match="measure must be one of"):
        filter_components_by_diameter(volume(), ISO, label=2, min_diameter_mm=3, measure="feret")


# ---------------------------------------------------------------- masking


def lung_and_tumours() -> np.ndarray:
    vol = volume((12, 12, 12))
    cube(vol, (2, 2, 2), 5, label=1)  # lung 2..6
    cube(vol, (3, 3, 3), 2, label=2)  # tumour inside the lung
    cube(vol, (2, 2, 7), 2, label=2)  # tumour against the lung (x = 7, 8)
    cube(vol, (9, 9, 9), 2, label=2)  # tumour far from the lung
    return vol


def test_region_from_labels():
    vol = lung_and_tumours()
    assert region_from_labels(vol, [1]).sum() == 125 - 8
    assert region_from_labels(vol, [1, 2]).sum() == 125 + 16


def test_restrict_inside_and_outside_region():
    vol = lung_and_tumours()
    lung = cube(volume((12, 12, 12)), (2, 2, 2), 5) > 0
    inside = restrict_to_region(vol, lung, labels=[2])
    assert (inside == 2).sum() == 8 and (inside == 1).sum() == 117
    outside = restrict_to_region(vol, lung, labels=[2], side=RegionSide.OUTSIDE)
    assert (outside == 2).sum() == 16 and outside[3, 3, 3] == 0
    filled = restrict_to_region(vol, lung, labels=[2], side="outside", fill_label=1)
    assert (filled == 1).sum() == 125


def test_keep_components_connected_to_region():
    vol = lung_and_tumours()
    lung = region_from_labels(vol, [1])
    out = keep_components_connected_to_region(vol, lung, labels=[2])
    assert (out == 2).sum() == 16 and out[9, 9, 9] == 0
    voxelwise = restrict_to_region(vol, lung, labels=[2])
    assert (voxelwise == 2).sum() == 0  # the inner tumour is not part of the lung label


def test_connected_to_region_depends_on_connectivity():
    vol = volume((6, 6, 6))
    vol[1, 1, 1] = 1  # region voxel
    vol[2, 2, 2] = 2  # corner neighbour
    region = vol == 1
    assert keep_components_connected_to_region(vol, region, labels=[2])[2, 2, 2] == 2
    assert keep_components_connected_to_region(vol, region, labels=[2], connectivity=6)[2, 2, 2] == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda v, r, **kw: restrict_to_region(v, r, labels=[2], **kw),
        lambda v, r, **kw: keep_components_connected_to_region(v, r, labels=[2], **kw),
        lambda v, r, **kw: zero_inside_bounding_box(v, r, labels=[2], **kw),
    ],
)
def test_empty_region_is_an_error_unless_allowed(call):
    vol = lung_and_tumours()
    empty = np.zeros(vol.shape, dtype=bool)
    with pytest.raises(ValueError, match="region is empty"):
        call(vol, empty)
    assert call(vol, empty, allow_empty_region=True).dtype == vol.dtype


def test_empty_region_when_allowed_removes_inside_keeps_outside():
    vol = lung_and_tumours()
    empty = np.zeros(vol.shape, dtype=bool)
    assert (restrict_to_region(vol, empty, labels=[2], allow_empty_region=True) == 2).sum() == 0
    out = restrict_to_region(vol, empty, labels=[2], side="outside", allow_empty_region=True)
    np.testing.assert_array_equal(out, vol)
    assert (zero_inside_bounding_box(vol, empty, allow_empty_region=True) == vol).all()


def test_region_shape_and_dtype_are_checked():
    vol = lung_and_tumours()
    with pytest.raises(ValueError, match="shape"):
        restrict_to_region(vol, np.ones((12, 12, 11), dtype=bool))
    with pytest.raises(TypeError, match="bool"):
        restrict_to_region(vol, (vol == 1).astype(np.uint8))


def test_field_of_view_mask_by_resampling():
    original = sitk.Image([4, 5, 6], sitk.sitkInt16)
    original.SetSpacing((1.0, 1.0, 2.0))
    target = sitk.Image([10, 10, 17], sitk.sitkUInt8)
    target.SetOrigin((-2.0, -3.0, -4.25))
    fov = field_of_view_mask(original, target)
    assert fov.shape == (17, 10, 10) and fov.dtype == bool
    expected = np.zeros((17, 10, 10), dtype=bool)
    # z: the original's voxels cover -1..11 mm; target centres -0.25..10.75 mm are indices 4..15
    expected[4:16, 3:8, 2:6] = True
    np.testing.assert_array_equal(fov, expected)


def test_field_of_view_mask_with_oblique_original_matches_point_by_point_check():
    original = sitk.Image([5, 4, 3], sitk.sitkInt16)
    original.SetSpacing((1.5, 1.0, 2.5))
    original.SetOrigin((3.3, -1.7, 0.4))
    angle = np.deg2rad(20)
    original.SetDirection((np.cos(angle), -np.sin(angle), 0, np.sin(angle), np.cos(angle), 0, 0, 0, -1))
    target = sitk.Image([12, 11, 9], sitk.sitkUInt8)
    target.SetOrigin((-4.1, -6.2, -9.3))
    target.SetSpacing((1.1, 0.9, 1.3))
    fov = field_of_view_mask(original, target)
    size = np.array(original.GetSize())
    expected = np.zeros(fov.shape, dtype=bool)
    for z, y, x in itertools.product(*map(range, fov.shape)):
        point = target.TransformIndexToPhysicalPoint((x, y, z))
        index = np.array(original.TransformPhysicalPointToContinuousIndex(point))
        expected[z, y, x] = bool(np.all(index >= -0.5) and np.all(index < size - 0.5))
    assert 0 < expected.sum() < expected.size
    np.testing.assert_array_equal(fov, expected)


def test_mask_outside_field_of_view():
    vol = lung_and_tumours()
    fov = np.zeros(vol.shape, dtype=bool)
    fov[:, :, :8] = True
    out = mask_outside_field_of_view(vol, fov)
    assert out[:, :, 8:].sum() == 0
    np.testing.assert_array_equal(out[:, :, :8], vol[:, :, :8])


# ---------------------------------------------------------------- morphology


def test_structuring_element_shapes():
    assert structuring_element(1).sum() == 7
    assert structuring_element(1, per_slice=True).shape == (1, 3, 3)
    assert structuring_element(2, per_slice=True).sum() == 13


def test_close_fills_hole_and_keeps_border_intact():
    vol = cube(volume((7, 7, 7)), (0, 0, 0), 5)  # touches the volume border
    vol[2, 2, 2] = 0
    out = close_label(vol, 1, 1)
    assert out[2, 2, 2] == 1 and out.sum() == 125


def test_close_per_slice_does_not_bridge_missing_slice():
    vol = volume((9, 9, 9))
    cube(vol, (1, 2, 2), (3, 5, 5))
    cube(vol, (5, 2, 2), (3, 5, 5))  # slice 4 missing
    assert (close_label(vol, 1, 1)[4] == 1).sum() > 0
    assert (close_label(vol, 1, 1, per_slice=True)[4] == 1).sum() == 0


def test_close_per_slice_fills_in_plane_gap():
    vol = volume((3, 9, 9))
    vol[1, 2:7, 2:7] = 1
    vol[1, 4, 2:7] = 0  # a one-row gap inside slice 1
    out = close_label(vol, 1, 1, per_slice=True)
    # the radius-1 disk is a cross: the gap fills except at its two ends on the object's edge
    assert out[1, 4, 2:7].tolist() == [0, 1, 1, 1, 0]
    assert out[0].sum() == 0 and out[2].sum() == 0


def test_close_does_not_overwrite_other_labels_by_default():
    vol = cube(volume((7, 7, 7)), (1, 1, 1), 5)
    vol[3, 3, 3] = 2
    assert close_label(vol, 1, 1)[3, 3, 3] == 2
    assert close_label(vol, 1, 1, overwrite=True)[3, 3, 3] == 1


def test_zero_inside_bounding_box_with_margin():
    vol = np.full((10, 10, 10), 2, dtype=np.uint8)
    region = np.zeros(vol.shape, dtype=bool)
    region[4, 4, 4] = region[5, 6, 4] = True  # box z 4..5, y 4..6, x 4
    out = zero_inside_bounding_box(vol, region)
    assert (out == 0).sum() == 2 * 3 * 1
    out = zero_inside_bounding_box(vol, region, margin=(0, 1, 5))  # x clipped at 0 and 9
    assert (out == 0).sum() == 2 * 5 * 10
    vol[4, 4, 4] = 7
    out = zero_inside_bounding_box(vol, region, labels=[7])
    assert (out == 0).sum() == 1


def test_zero_edge_slices():
    vol = np.ones((6, 4, 4), dtype=np.int16)
    vol[0, 0, 0] = 3
    out = zero_edge_slices(vol, 1)
    assert out[0].sum() == 0 and out[5].sum() == 0 and out[1:5].sum() == 64
    assert zero_edge_slices(vol, 1, labels=[3])[0, 0, 1] == 1
    assert not zero_edge_slices(vol, 3).any()
    assert zero_edge_slices(vol, 1, axis=2)[:, :, 1:3].sum() == 6 * 4 * 2
    np.testing.assert_array_equal(zero_edge_slices(vol, 0), vol)
    with pytest.raises(ValueError, match="axis"):
        zero_edge_slices(vol, 1, axis=3)


# ---------------------------------------------------------------- labels


def lobes() -> np.ndarray:
    vol = volume((5, 5, 5))
    for i, label in enumerate((10, 11, 12, 13, 14)):
        vol[i, 0, 0] = label
    vol[0, 4, 4] = 20
    return vol


def test_merge_lobes_into_left_and_right_lung():
    vol = lobes()
    out = merge_labels(merge_labels(vol, [10, 11], 1), [12, 13, 14], 2)
    assert out[:, 0, 0].tolist() == [1, 1, 2, 2, 2] and out[0, 4, 4] == 20


def test_remap_unmapped_policies():
    vol = lobes()
    mapping = {10: 1, 11: 1, 12: 2, 13: 2, 14: 2}
    with pytest.raises(ValueError, match=r"\[20\]"):
        remap_labels(vol, mapping)
    assert remap_labels(vol, mapping, unmapped=Unmapped.KEEP)[0, 4, 4] == 20
    zeroed = remap_labels(vol, mapping, unmapped="zero")
    assert zeroed[0, 4, 4] == 0 and zeroed.sum() == 8
    assert remap_labels(vol, {**mapping, 20: 0})[0, 4, 4] == 0


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.uint32])
def test_label_voxel_counts(dtype):
    vol = lobes().astype(dtype)
    assert label_voxel_counts(vol) == {10: 1, 11: 1, 12: 1, 13: 1, 14: 1, 20: 1}
    assert label_voxel_counts(np.zeros((2, 2, 2), dtype=bool)) == {}


def test_remap_large_values_and_bool_maps():
    big = np.array([[[0, 5, 70000, 5]]], dtype=np.int32)
    assert remap_labels(big, {5: 1, 70000: 2}).tolist() == [[[0, 1, 2, 1]]]
    flags = np.zeros((2, 2, 2), dtype=bool)
    flags[0, 0, 0] = True
    assert not remap_labels(flags, {1: 0}).any()
    np.testing.assert_array_equal(remap_labels(flags, {1: 1}), flags)


def test_remap_validates_sources_against_known_labels():
    vol = lobes()
    known = [10, 11, 12, 13, 14, 20]
    with pytest.raises(ValueError, match=r"\[15\]"):
        remap_labels(vol, {15: 1}, known_labels=known, unmapped="keep")
    with pytest.raises(ValueError, match=r"\[20\]"):
        remap_labels(vol, {10: 1}, known_labels=known[:-1], unmapped="keep")
    with pytest.raises(ValueError, match="300"):
        remap_labels(vol, {10: 300}, unmapped="keep")
    with pytest.raises(ValueError, match="background"):
        remap_labels(vol, {0: 3}, unmapped="keep")


# ---------------------------------------------------------------- ensemble


def test_majority_vote_three_of_five():
    folds = [np.zeros((1, 1, 6), dtype=np.uint8) for _ in range(5)]
    for votes, column in zip(range(6), range(6), strict=True):
        for fold in folds[:votes]:
            fold[0, 0, column] = 1
    assert majority_vote(folds)[0, 0].tolist() == [0, 0, 0, 1, 1, 1]
    assert majority_vote(folds, threshold=1.0)[0, 0].tolist() == [0, 0, 0, 0, 0, 1]
    assert majority_vote([f.astype(bool) for f in folds]).dtype == np.bool_


def test_majority_vote_validation():
    a = np.zeros((2, 2, 2), dtype=np.uint8)
    with pytest.raises(ValueError, match="non-empty"):
        majority_vote([])
    with pytest.raises(ValueError, match="binary"):
        majority_vote([a, a + 2])
    with pytest.raises(ValueError, match="masks\\[1\\]"):
        majority_vote([a, a.astype(np.int16)])
    with pytest.raises(ValueError, match="threshold"):
        majority_vote([a, a], threshold=0.0)


# ---------------------------------------------------------------- contracts of every function


def sample() -> np.ndarray:
    vol = lung_and_tumours().astype(np.int16)
    vol[0, 0, 0] = 1
    return vol


REGION = cube(volume((12, 12, 12)), (2, 2, 2), 5) > 0

CALLS = {
    "keep_largest": lambda v: keep_largest_components(v, k=2),
    "centermost": lambda v: keep_centermost_component(v, ISO),
    "size": lambda v: filter_components_by_diameter(
        v, ISO, label=2, min_diameter_mm=3, measure="max_extent"
    ),
    "restrict": lambda v: restrict_to_region(v, REGION),
    "connected": lambda v: keep_components_connected_to_region(v, REGION),
    "fov": lambda v: mask_outside_field_of_view(v, REGION),
    "close": lambda v: close_label(v, 1, 1),
    "bbox": lambda v: zero_inside_bounding_box(v, REGION),
    "edges": lambda v: zero_edge_slices(v, 1),
    "remap": lambda v: remap_labels(v, {1: 3, 2: 4}),
    "vote": lambda v: majority_vote([(v > 0).astype(v.dtype)] * 3),
}


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint32])
def test_input_untouched_and_dtype_kept(name, dtype):
    vol = sample().astype(dtype)
    before = vol.copy()
    out = CALLS[name](vol)
    np.testing.assert_array_equal(vol, before)
    assert out.dtype == vol.dtype and out.shape == vol.shape and out is not vol


@pytest.mark.parametrize("name", sorted(CALLS))
def test_bad_label_maps_are_rejected(name):
    with pytest.raises(TypeError, match="integer or bool"):
        CALLS[name](sample().astype(np.float32))
    with pytest.raises((TypeError, ValueError)):
        CALLS[name](sample()[0])


def test_negative_values_suggest_an_image_was_passed():
    ct = np.full((4, 4, 4), -1000, dtype=np.int16)
    with pytest.raises(ValueError, match="looks like an image"):
        keep_largest_components(ct)


def test_bool_label_map_is_supported():
    vol = np.zeros((5, 5, 5), dtype=bool)
    vol[0, 0, 0] = vol[2:5, 2:5, 2:5] = True
    out = keep_largest_components(vol)
    assert out.dtype == np.bool_ and out.sum() == 27


def test_parameter_errors_are_actionable():
    vol = sample()
    with pytest.raises(ValueError, match="connectivity must be 6, 18 or 26"):
        keep_largest_components(vol, connectivity=8)
    with pytest.raises(ValueError, match="k must be"):
        keep_largest_components(vol, k=0)
    with pytest.raises(ValueError, match="min_fraction_of_largest"):
        keep_largest_components(vol, min_fraction_of_largest=1.5)
    with pytest.raises(ValueError, match="0 is background"):
        keep_largest_components(vol, labels=[0])
    with pytest.raises(TypeError, match="sequence"):
        keep_largest_components(vol, labels=2)
    with pytest.raises(ValueError, match="does not fit"):
        keep_largest_components(vol.astype(np.uint8), labels=[256])
    with pytest.raises(ValueError, match="radius"):
        close_label(vol, 1, 0)
    with pytest.raises(ValueError, match="margin"):
        zero_inside_bounding_box(vol, REGION, margin=(1, 2))
