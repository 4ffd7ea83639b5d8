"""mhubio.radiomics.mesh: pyradiomics' mesh measures in linear time, equal to pyradiomics' own output."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from mhubio.radiomics import SegmentMask, extract_mask_features
from mhubio.radiomics.mesh import mesh_measures
from tests.radiomics_helpers import pyradiomics_shape

pytest.importorskip("radiomics")


def blobs(shape: tuple[int, int, int], seed: int, sigma: float = 2.0) -> np.ndarray:
    """Irregular, partly disconnected blobs: many mesh vertices, ambiguous cube configurations included."""
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.random(shape), sigma) > 0.5


def image_of(array: np.ndarray, spacing_xyz: tuple[float, float, float]) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing_xyz)
    image.SetOrigin((-120.5, 33.0, 410.25))
    return image


@pytest.mark.parametrize(("seed", "spacing"), [(1, (1.0, 1.0, 1.0)), (2, (2.5, 0.7, 0.9)), (3, (0.6, 1.3, 1.3))])
def test_mesh_measures_equal_pyradiomics_cshape(seed, spacing):
    from radiomics import cShape

    mask = np.pad(blobs((24, 40, 36), seed), 1)
    area, volume, diameters = cShape.calculate_coefficients(mask, np.array(spacing))
    got = mesh_measures(mask, spacing)
    expected = (area, volume, *diameters)
    measured = (got.surface_area, got.volume, got.max_2d_slice, got.max_2d_column, got.max_2d_row, got.max_3d)
    assert measured == pytest.approx(expected, rel=1e-9)


def test_a_single_voxel_and_a_line_of_voxels_are_measured_like_pyradiomics():
    from radiomics import cShape

    for mask in (np.zeros((3, 3, 3), bool), np.zeros((3, 3, 12), bool)):
        mask[1, 1, 1:-1] = True
        area, volume, diameters = cShape.calculate_coefficients(mask, np.array([2.0, 0.5, 0.5]))
        got = mesh_measures(mask, (2.0, 0.5, 0.5))
        assert (got.surface_area, got.volume, got.max_2d_slice, got.max_2d_column, got.max_2d_row, got.max_3d) \
            == pytest.approx((area, volume, *diameters), rel=1e-9)


def test_mesh_measures_need_a_padded_3d_mask():
    with pytest.raises(ValueError, match="padded"):
        mesh_measures(np.ones((4, 4, 4), bool), (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="3D"):
        mesh_measures(np.zeros((4, 4), bool), (1.0, 1.0, 1.0))


def test_the_14_shape_features_equal_pyradiomics_own_extractor_on_a_mask_with_many_vertices():
    labels = blobs((24, 48, 44), seed=7).astype(np.uint8)
    spacing_xyz = (0.8, 0.8, 2.5)
    image = image_of(np.zeros_like(labels, dtype=np.int16), spacing_xyz)
    mask = image_of(labels, spacing_xyz)
    expected = pyradiomics_shape(image, mask)
    result = extract_mask_features(image, [SegmentMask("LIVER", 1, mask)])
    (segment,) = result.segments
    assert set(segment.features) == set(expected) and len(expected) == 14
    for key, value in expected.items():
        assert segment.features[key] == pytest.approx(value, rel=1e-6), key


def test_each_segment_reports_its_progress(caplog):
    labels = np.zeros((12, 20, 20), np.uint8)
    labels[2:6, 3:9, 3:9] = 1
    image = image_of(np.zeros_like(labels, dtype=np.int16), (1.0, 1.0, 1.0))
    mask = image_of(labels, (1.0, 1.0, 1.0))
    with caplog.at_level(logging.INFO, logger="mhub.module.radiomics"):
        extract_mask_features(image, [SegmentMask("LIVER", 1, mask), SegmentMask("SPLEEN", 2, mask, 2)])
    lines = [r.getMessage() for r in caplog.records if r.name == "mhub.module.radiomics"]
    assert any(line.startswith("radiomics 1/2 LIVER: ") and line.endswith(" s") for line in lines)
    assert "radiomics 2/2 SPLEEN: empty, skipped" in lines


def test_equal_axes_give_real_axis_lengths():
    """A square cross-section has two equal eigenvalues (pyradiomics' own solver then returns complex numbers)."""
    labels = np.zeros((12, 20, 20), np.uint8)
    labels[2:6, 3:9, 3:9] = 1
    image = image_of(np.zeros_like(labels, dtype=np.int16), (1.0, 1.0, 1.0))
    (segment,) = extract_mask_features(image, [SegmentMask("LIVER", 1, image_of(labels, (1.0, 1.0, 1.0)))]).segments
    assert segment.features["shape_MajorAxisLength"] == pytest.approx(segment.features["shape_MinorAxisLength"])
    assert segment.features["shape_Elongation"] == pytest.approx(1.0)


def test_a_flat_segment_has_axis_lengths_of_exactly_zero_like_pyradiomics():
    """A one-slice segment: the solver's rounding noise must not become a nonzero axis length (sqrt magnifies it)."""
    labels = np.zeros((10, 40, 40), np.uint8)
    labels[4][blobs((40, 40, 1), seed=3)[:, :, 0]] = 1
    spacing_xyz = (0.7, 0.7, 3.0)
    image = image_of(np.zeros_like(labels, dtype=np.int16), spacing_xyz)
    mask = image_of(labels, spacing_xyz)
    expected = pyradiomics_shape(image, mask)
    (segment,) = extract_mask_features(image, [SegmentMask("AORTA", 1, mask)]).segments
    assert expected["shape_LeastAxisLength"] == segment.features["shape_LeastAxisLength"] == 0.0
    assert expected["shape_Flatness"] == segment.features["shape_Flatness"] == 0.0
    for key, value in expected.items():
        assert segment.features[key] == pytest.approx(value, rel=1e-6), key


def test_a_diagonal_line_of_voxels_has_minor_axis_length_of_exactly_zero_like_pyradiomics():
    """Collinear voxels off the axes: the 2x2 covariance block is singular but not diagonal, and the solver's
    rounding (1e-16) would become a minor axis of 1e-7 mm and a nonzero elongation."""
    labels = np.zeros((10, 40, 40), np.uint8)
    for k in range(5):
        labels[4, 2 + k, 3 + 2 * k] = 1
    spacing_xyz = (0.6, 0.8, 3.0)  # a case where the solver gives 2.2e-16 instead of 0
    image = image_of(np.zeros_like(labels, dtype=np.int16), spacing_xyz)
    mask = image_of(labels, spacing_xyz)
    expected = pyradiomics_shape(image, mask, ["MinorAxisLength", "LeastAxisLength", "Elongation", "MajorAxisLength"])
    (segment,) = extract_mask_features(image, [SegmentMask("AORTA", 1, mask)]).segments
    for key in ("shape_MinorAxisLength", "shape_LeastAxisLength", "shape_Elongation"):
        assert expected[key] == segment.features[key] == 0.0, key
    assert segment.features["shape_MajorAxisLength"] == pytest.approx(expected["shape_MajorAxisLength"], rel=1e-6)
