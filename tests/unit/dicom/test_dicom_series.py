"""DicomSeries: validation, slice sorting and geometry against SimpleITK/GDCM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from mhubio.dicom.scan import scan_folder
from mhubio.dicom.series import DicomInstance, DicomSeries, SeriesGeometryError
from mhubio.synthetic import FileNaming, SliceOrder, write_ct_series

SHAPE = (12, 24, 20)
OBLIQUE = (float(np.cos(0.5)), float(np.sin(0.5)), 0.0, 0.0, 0.0, -1.0)


def gdcm_sorted_files(folder: Path) -> list[Path]:
    return [Path(p) for p in sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder))]


@pytest.mark.parametrize("order", [SliceOrder.ASCENDING, SliceOrder.DESCENDING])
@pytest.mark.parametrize("orientation", [(1.0, 0.0, 0.0, 0.0, 1.0, 0.0), OBLIQUE])
def test_sorted_files_follow_the_slice_normal_like_gdcm(tmp_path: Path, order, orientation):
    written = write_ct_series(tmp_path, shape=SHAPE, seed=1, slice_order=order, orientation=orientation,
                              file_names=FileNaming.RANDOM)
    series = scan_folder(tmp_path).series[written.series_uid]
    assert list(series.sorted_files()) == gdcm_sorted_files(tmp_path)
    locations = series.slice_locations(series.sorted_instances())
    assert np.all(np.diff(locations) > 0)


@pytest.mark.parametrize("order", [SliceOrder.ASCENDING, SliceOrder.DESCENDING])
@pytest.mark.parametrize("orientation", [(1.0, 0.0, 0.0, 0.0, 1.0, 0.0), OBLIQUE])
def test_geometry_matches_the_written_geometry(tmp_path: Path, order, orientation):
    written = write_ct_series(tmp_path, shape=SHAPE, seed=2, slice_order=order, orientation=orientation)
    geometry = scan_folder(tmp_path).series[written.series_uid].geometry
    assert geometry.size == (SHAPE[2], SHAPE[1], SHAPE[0])
    np.testing.assert_allclose(geometry.origin, written.origin, atol=1e-4)
    np.testing.assert_allclose(geometry.spacing, written.spacing, atol=1e-4)
    np.testing.assert_allclose(np.ravel(geometry.direction), written.direction, atol=1e-6)


def test_reference_image_has_series_geometry(tmp_path: Path):
    written = write_ct_series(tmp_path, shape=SHAPE, seed=3, orientation=OBLIQUE)
    series = scan_folder(tmp_path).series[written.series_uid]
    image = series.reference_image()
    assert image.GetSize() == series.geometry.size
    np.testing.assert_allclose(image.GetOrigin(), written.origin, atol=1e-4)
    np.testing.assert_allclose(image.GetDirection(), written.direction, atol=1e-6)
    # The last voxel centre lies at the position of the last slice's last pixel.
    last = image.TransformIndexToPhysicalPoint([SHAPE[2] - 1, SHAPE[1] - 1, SHAPE[0] - 1])
    top = series.sorted_instances()[-1]
    row, col = np.asarray(top.image_orientation[:3]), np.asarray(top.image_orientation[3:])
    expected = (np.asarray(top.image_position) + (SHAPE[2] - 1) * top.pixel_spacing[1] * row
                + (SHAPE[1] - 1) * top.pixel_spacing[0] * col)
    np.testing.assert_allclose(last, expected, atol=1e-4)


def instance(k: int, **changes) -> DicomInstance:
    values = dict(
        path=Path(f"/x/{k}"), sop_instance_uid=f"1.2.{k}", series_instance_uid="1.9",
        study_instance_uid="1.8", image_position=(0.0, 0.0, float(k)),
        image_orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0), pixel_spacing=(1.0, 1.0), rows=4, columns=4,
        patient_id="PHI-ID", series_number=3,
    )
    values.update(changes)
    return DicomInstance(**values)


def test_instance_and_series_are_validated():
    with pytest.raises(ValueError, match="series_instance_uid"):
        instance(0, series_instance_uid="")
    with pytest.raises(ValueError, match="ImageOrientationPatient"):
        instance(0, image_orientation=(1.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="at least one"):
        DicomSeries(())
    with pytest.raises(ValueError, match="several series"):
        DicomSeries((instance(0), instance(1, series_instance_uid="1.7")))


def test_geometry_errors_are_explicit():
    with pytest.raises(SeriesGeometryError, match="lack ImagePositionPatient"):
        _ = DicomSeries((instance(0), instance(1, image_position=None))).geometry
    with pytest.raises(SeriesGeometryError, match="degenerate"):
        _ = DicomSeries((instance(0, image_orientation=(1.0, 0.0, 0.0, 1.0, 0.0, 0.0)),)).slice_normal


def test_single_slice_uses_slice_thickness_as_spacing():
    series = DicomSeries((instance(0, slice_thickness=5.0),))
    assert series.geometry.spacing == (1.0, 1.0, 5.0)


def test_label_and_repr_carry_no_patient_data():
    series = DicomSeries((instance(0), instance(1)))
    assert series.label == "series 3 (1.9)"
    assert "PHI-ID" not in repr(series) and "PHI-ID" not in repr(series.instances[0])
    assert series.patient_id == "PHI-ID"


def test_without_drops_instances():
    series = DicomSeries((instance(0), instance(1), instance(2)))
    assert series.without([Path("/x/1")]).files == (Path("/x/0"), Path("/x/2"))
