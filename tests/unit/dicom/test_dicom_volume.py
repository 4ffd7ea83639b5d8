"""Volume reading against SimpleITK's GDCM series reader and the synthetic ground truth; NIfTI writing."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, JPEGLSLossless, RLELossless

from mhubio.dicom import volume as volume_module
from mhubio.dicom.qc import run_qc
from mhubio.dicom.scan import scan_folder
from mhubio.dicom.volume import VolumeReadError, read_series_image, write_nifti
from mhubio.synthetic import SliceOrder, write_ct_series

SHAPE = (10, 36, 32)
OBLIQUE = (float(np.cos(0.5)), float(np.sin(0.5)), 0.0, 0.0, 0.0, -1.0)
REAL_CT = Path("/work/shared/data/pancreas-ct-cb001")


def read_with_gdcm(folder: Path) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def assert_same_image(ours: sitk.Image, reference: sitk.Image) -> None:
    assert ours.GetSize() == reference.GetSize()
    np.testing.assert_allclose(ours.GetOrigin(), reference.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(ours.GetSpacing(), reference.GetSpacing(), atol=1e-4)
    np.testing.assert_allclose(ours.GetDirection(), reference.GetDirection(), atol=1e-4)
    assert np.array_equal(sitk.GetArrayViewFromImage(ours), sitk.GetArrayViewFromImage(reference))


def only_series(folder: Path):
    [series] = scan_folder(folder).series.values()
    return series


@pytest.mark.parametrize("order", [SliceOrder.ASCENDING, SliceOrder.DESCENDING])
@pytest.mark.parametrize("orientation", [(1.0, 0.0, 0.0, 0.0, 1.0, 0.0), OBLIQUE])
def test_matches_gdcm_and_ground_truth(tmp_path: Path, order, orientation):
    written = write_ct_series(tmp_path, shape=SHAPE, seed=1, slice_order=order, orientation=orientation)
    image = read_series_image(only_series(tmp_path))
    assert_same_image(image, read_with_gdcm(tmp_path))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), written.phantom.image)
    np.testing.assert_allclose(image.GetOrigin(), written.origin, atol=1e-4)


@pytest.mark.parametrize("syntax", [RLELossless, JPEGLSLossless, JPEG2000Lossless])
def test_compressed_series_decode_to_the_same_voxels(tmp_path: Path, syntax):
    written = write_ct_series(tmp_path / "c", shape=SHAPE, seed=2, transfer_syntax=syntax)
    assert dcmread(written.files[0]).file_meta.TransferSyntaxUID == syntax
    image = read_series_image(only_series(tmp_path / "c"))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), written.phantom.image)
    assert_same_image(image, read_with_gdcm(tmp_path / "c"))


def test_integral_rescale_gives_integer_voxels(tmp_path: Path):
    write_ct_series(tmp_path, shape=SHAPE, seed=3, transfer_syntax=ExplicitVRLittleEndian)
    image = read_series_image(only_series(tmp_path))
    assert np.issubdtype(sitk.GetArrayViewFromImage(image).dtype, np.signedinteger)


def test_fractional_rescale_gives_float_voxels(tmp_path: Path):
    written = write_ct_series(tmp_path, shape=SHAPE, seed=4, rescale_slope=0.5, rescale_intercept=-1024.0)
    image = read_series_image(only_series(tmp_path))
    values = sitk.GetArrayFromImage(image)
    assert values.dtype == np.float32
    np.testing.assert_allclose(values, written.phantom.image, atol=1e-3)
    np.testing.assert_allclose(values, sitk.GetArrayFromImage(read_with_gdcm(tmp_path)), atol=1e-3)


def test_signed_stored_pixels(tmp_path: Path):
    written = write_ct_series(tmp_path, shape=SHAPE, seed=5, rescale_intercept=0.0)
    assert dcmread(written.files[0]).PixelRepresentation == 1
    image = read_series_image(only_series(tmp_path))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), written.phantom.image)
    assert_same_image(image, read_with_gdcm(tmp_path))


def test_series_with_dropped_localizer_reads_the_remaining_slices(tmp_path: Path):
    written = write_ct_series(tmp_path, shape=(11, 36, 32), seed=6)
    ds = dcmread(written.files[0])
    ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
    ds.save_as(written.files[0])
    result = run_qc(only_series(tmp_path))
    assert result.dropped_files == (written.files[0],)
    image = read_series_image(result.accepted)
    assert image.GetSize() == (32, 36, 10)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), written.phantom.image[1:])


def test_file_changed_after_scan_is_an_error(tmp_path: Path):
    written = write_ct_series(tmp_path, shape=SHAPE, seed=7)
    series = only_series(tmp_path)
    ds = dcmread(written.files[2])
    ds.SOPInstanceUID = "1.2.3.4"
    ds.save_as(written.files[2])
    with pytest.raises(VolumeReadError, match="changed since"):
        read_series_image(series)


def test_undecodable_pixel_data_names_series_and_file(tmp_path: Path):
    written = write_ct_series(tmp_path, shape=SHAPE, seed=8, series_number=5)
    ds = dcmread(written.files[1])
    ds.PixelData = ds.PixelData[:100]
    ds.save_as(written.files[1])
    series = only_series(tmp_path)
    with pytest.raises(VolumeReadError, match=rf"series 5 .*{written.files[1].name}"):
        read_series_image(series)


@pytest.mark.skipif(not REAL_CT.is_dir(), reason="real CT not available")
def test_real_ct_matches_gdcm():
    result = scan_folder(REAL_CT)
    [series] = result.series.values()
    assert len(series) == 134 and run_qc(series).passed
    assert_same_image(read_series_image(series), read_with_gdcm(REAL_CT))


def test_write_nifti_round_trip_is_atomic(tmp_path: Path):
    write_ct_series(tmp_path / "in", shape=SHAPE, seed=9, orientation=OBLIQUE)
    image = read_series_image(only_series(tmp_path / "in"))
    (tmp_path / "out").mkdir()
    target = write_nifti(image, tmp_path / "out" / "ct.nii.gz")
    assert target == tmp_path / "out" / "ct.nii.gz"
    assert os.listdir(tmp_path / "out") == ["ct.nii.gz"]
    back = sitk.ReadImage(str(target))
    np.testing.assert_allclose(back.GetOrigin(), image.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(back.GetDirection(), image.GetDirection(), atol=1e-5)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(image))


def test_write_nifti_leaves_nothing_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def broken_writer(image, name):
        Path(name).write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(volume_module.sitk, "WriteImage", broken_writer)
    with pytest.raises(RuntimeError, match="disk full"):
        write_nifti(sitk.Image(2, 2, 2, sitk.sitkInt16), tmp_path / "ct.nii.gz")
    assert os.listdir(tmp_path) == []


def test_write_nifti_needs_a_nifti_name(tmp_path: Path):
    with pytest.raises(ValueError, match=r"\.nii"):
        write_nifti(sitk.Image(2, 2, 2, sitk.sitkInt16), tmp_path / "ct.nrrd")


@pytest.mark.parametrize(("intercept", "slope", "dtype"), [(40000, 1, np.int32), (-1024, 0.5, np.float32)])
def test_volume_widens_for_one_slice_with_another_rescale(tmp_path: Path, intercept, slope, dtype):
    written = write_ct_series(tmp_path, shape=SHAPE, seed=10)
    ds = dcmread(written.files[6])
    stored = ds.pixel_array.astype(np.float64)
    ds.RescaleIntercept, ds.RescaleSlope = intercept, slope
    ds.save_as(written.files[6])
    values = sitk.GetArrayFromImage(read_series_image(only_series(tmp_path)))
    assert values.dtype == dtype
    expected = written.phantom.image.astype(np.float64)
    expected[6] = stored * slope + intercept
    np.testing.assert_array_equal(values, expected)
