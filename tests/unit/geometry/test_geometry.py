"""mhubio.geometry: grid comparison with an explicit tolerance, label resampling; SegOptions validation."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest
import SimpleITK as sitk
from highdicom.seg import SegmentationTypeValues

from mhubio.geometry import resample_labels, same_grid, sort_datasets
from mhubio.modules.encoders.seg_encoder import SegEncoder
from mhubio.seg import SegOptions
from mhubio.synthetic import write_ct_series


def _grid(origin=(0.0, 0.0, 0.0), spacing=(1.0, 1.0, 2.0), size=(8, 8, 4)) -> sitk.Image:
    image = sitk.Image(list(size), sitk.sitkUInt8)
    image.SetOrigin(origin)
    image.SetSpacing(spacing)
    return image


def test_same_grid_uses_the_given_tolerance() -> None:
    a, b = _grid(), _grid(origin=(5e-4, 0.0, 0.0))
    assert same_grid(a, b, tolerance_mm=1e-3)
    assert not same_grid(a, b, tolerance_mm=1e-4)
    assert not same_grid(a, _grid(size=(8, 8, 5)), tolerance_mm=1.0)
    far = _grid(origin=(-500.0004, 0.0, 0.0))
    assert not same_grid(_grid(origin=(-500.0, 0.0, 0.0)), far, tolerance_mm=1e-4), "the tolerance is absolute"


def test_same_grid_direction_tolerance() -> None:
    a, b = _grid(), _grid()
    b.SetDirection((1.0, 1e-5, 0.0, -1e-5, 1.0, 0.0, 0.0, 0.0, 1.0))
    assert not same_grid(a, b, tolerance_mm=1e-3)
    assert same_grid(a, b, tolerance_mm=1e-3, direction_tolerance=1e-4)


def test_resample_labels_keeps_a_label_map_on_the_grid_and_moves_others() -> None:
    labels = sitk.GetImageFromArray(np.arange(256, dtype=np.uint8).reshape(4, 8, 8) % 3)
    labels.CopyInformation(_grid())
    assert resample_labels(labels, _grid()) is labels
    moved = resample_labels(labels, _grid(origin=(1.0, 0.0, 0.0)))
    assert moved is not labels
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(moved)[:, :, :-1],
                                  sitk.GetArrayViewFromImage(labels)[:, :, 1:])


def test_sort_datasets_follows_the_slice_normal(tmp_path) -> None:
    import pydicom

    written = write_ct_series(tmp_path, shape=(5, 8, 8), seed=1, slice_order="descending")
    datasets = [pydicom.dcmread(f, stop_before_pixels=True) for f in written.files]
    positions = [float(ds.ImagePositionPatient[2]) for ds in sort_datasets(datasets)]
    assert positions == sorted(positions)


def test_seg_options_validate_the_segmentation_type() -> None:
    assert SegOptions(segmentation_type="labelmap").segmentation_type is SegmentationTypeValues.LABELMAP
    with pytest.raises(pydantic.ValidationError, match="BINARY or LABELMAP"):
        SegOptions(segmentation_type="FRACTIONAL")
    with pytest.raises(pydantic.ValidationError):
        SegOptions(series_number=0)
    with pytest.raises(pydantic.ValidationError):
        SegOptions(kind="BINARY")


def test_seg_options_clean_the_dicom_values() -> None:
    options = SegOptions(series_description="x" * 80, content_label="lungs & bones!")
    assert options.series_description == "x" * 64
    assert options.content_label == "LUNGS _ BONES_"


def test_seg_encoder_parameters_are_seg_options_with_the_workflow_keys() -> None:
    params = SegEncoder.Params.model_validate({"segmentation_type": "LABELMAP", "keep_empty": True,
                                                "series_number": 5, "content_label": "AI"})
    assert isinstance(params, SegOptions)
    assert params.segmentation_type is SegmentationTypeValues.LABELMAP and params.keep_empty
    with pytest.raises(pydantic.ValidationError):
        SegEncoder.Params.model_validate({"segmentation_type": "PROBABILITY"})
