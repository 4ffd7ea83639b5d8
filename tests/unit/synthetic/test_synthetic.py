"""Tests of the synthetic DICOM generator: determinism, geometry, ground truth, DICOM validity, compression."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from mhubio.segdb import segment_ids
from mhubio.synthetic import (
    CT_SEGMENTS,
    MR_SEGMENTS,
    PET_CT_SEGMENTS,
    FdgAcquisition,
    SyntheticSeries,
    make_ct_phantom,
    write_ct_series,
    write_demo_dataset,
    write_mr_series,
    write_pet_ct_pair,
)

SMALL = (12, 48, 40)
OBLIQUE = (0.8, 0.6, 0.0, 0.0, 0.0, -1.0)


def read_with_simpleitk(directory: Path) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    names = reader.GetGDCMSeriesFileNames(str(directory))
    reader.SetFileNames(names)
    return reader.Execute()


def digest(series: SyntheticSeries) -> str:
    sha = hashlib.sha256()
    for path in series.files:
        sha.update(path.name.encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()


def dciodvfy_errors(path: Path) -> list[str]:
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, check=False)
    return [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]


requires_dciodvfy = pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (dicom3tools) missing")


def test_ct_phantom_is_deterministic_per_seed() -> None:
    first, again, other = make_ct_phantom(SMALL, seed=3), make_ct_phantom(SMALL, seed=3), make_ct_phantom(SMALL, seed=4)
    assert np.array_equal(first.image, again.image)
    assert np.array_equal(first.labels, again.labels)
    assert not np.array_equal(first.image, other.image)
    assert np.array_equal(first.labels, other.labels)


def test_ct_series_files_and_uids_are_deterministic_per_seed(tmp_path: Path) -> None:
    first = write_ct_series(tmp_path / "a", shape=SMALL, seed=7)
    again = write_ct_series(tmp_path / "b", shape=SMALL, seed=7)
    other = write_ct_series(tmp_path / "c", shape=SMALL, seed=8)
    assert digest(first) == digest(again)
    assert (first.study_uid, first.series_uid, first.sop_instance_uids) == (
        again.study_uid, again.series_uid, again.sop_instance_uids)
    assert first.series_uid != other.series_uid and first.study_uid != other.study_uid
    assert len(set(first.sop_instance_uids)) == SMALL[0]


def test_ct_phantom_labels_match_tissue_values() -> None:
    phantom = make_ct_phantom((64, 128, 128))
    mean = {name: float(phantom.image[phantom.labels == value].mean()) for value, name in phantom.label_names.items()}
    assert set(phantom.label_names.values()) == {
        "BODY", "LEFT_LUNG", "RIGHT_LUNG", "HEART", "AORTA", "TRACHEA", "ESOPHAGUS", "VERTEBRAL_COLUMN", "LIVER",
        "LEFT_KIDNEY", "RIGHT_KIDNEY"}
    assert mean["LEFT_LUNG"] < -700 and mean["RIGHT_LUNG"] < -700
    assert mean["TRACHEA"] < -900
    assert mean["VERTEBRAL_COLUMN"] > 300
    assert 150 < mean["AORTA"] < 250
    assert 40 < mean["LIVER"] < 80
    assert float(phantom.image[phantom.labels == 0].mean()) < -990


def test_ct_phantom_anatomy_is_plausible_in_lps() -> None:
    phantom = make_ct_phantom((64, 128, 128))

    def centroid(name: str) -> np.ndarray:
        return np.argwhere(phantom.mask(name)).mean(axis=0)  # (z, y, x)

    left, right = centroid("LEFT_LUNG"), centroid("RIGHT_LUNG")
    assert left[2] > right[2]  # +x = patient left
    assert centroid("LIVER")[2] < 64  # liver on the patient's right
    assert centroid("HEART")[1] < centroid("VERTEBRAL_COLUMN")[1]  # heart anterior of the spine (+y posterior)
    assert centroid("LIVER")[0] < left[0]  # liver inferior of the lungs
    assert centroid("LEFT_KIDNEY")[2] > centroid("RIGHT_KIDNEY")[2]
    assert centroid("TRACHEA")[0] > centroid("HEART")[0]  # trachea superior of the heart


@pytest.mark.parametrize("slice_order", ["ascending", "descending"])
@pytest.mark.parametrize("orientation", [(1.0, 0.0, 0.0, 0.0, 1.0, 0.0), OBLIQUE])
def test_ct_geometry_and_pixels_match_simpleitk(tmp_path: Path, slice_order: str, orientation: tuple) -> None:
    series = write_ct_series(tmp_path, shape=SMALL, spacing=(0.7, 0.9, 2.0), slice_order=slice_order,
                             orientation=orientation, file_names="random", seed=1)
    image = read_with_simpleitk(series.directory)
    assert np.allclose(image.GetOrigin(), series.origin, atol=1e-4)
    assert np.allclose(image.GetSpacing(), series.spacing, atol=1e-6)
    assert np.allclose(image.GetDirection(), series.direction, atol=1e-6)
    assert np.array_equal(sitk.GetArrayFromImage(image), series.phantom.image)


def test_ct_instance_numbers_follow_slice_order(tmp_path: Path) -> None:
    for order, sign in (("ascending", 1), ("descending", -1)):
        series = write_ct_series(tmp_path / order, shape=SMALL, slice_order=order)
        z = [float(pydicom.dcmread(path).ImagePositionPatient[2]) for path in series.files]
        assert np.all(sign * np.diff(z) > 0)
        assert [pydicom.dcmread(path).InstanceNumber for path in series.files] == list(range(1, SMALL[0] + 1))


def test_ct_rescale_and_signedness(tmp_path: Path) -> None:
    series = write_ct_series(tmp_path, shape=SMALL, rescale_slope=0.5, rescale_intercept=0.0)
    ds = pydicom.dcmread(series.files[0])
    assert ds.PixelRepresentation == 1 and float(ds.RescaleSlope) == 0.5
    unsigned = pydicom.dcmread(write_ct_series(tmp_path / "u", shape=SMALL).files[0])
    assert unsigned.PixelRepresentation == 0 and float(unsigned.RescaleIntercept) == -1024
    z = np.argsort([float(pydicom.dcmread(p).ImagePositionPatient[2]) for p in series.files])
    hu = np.stack([pydicom.dcmread(series.files[i]).pixel_array * 0.5 for i in z]).astype(np.float32)
    assert np.array_equal(hu, series.phantom.image)


@pytest.mark.parametrize("transfer_syntax", [RLELossless, JPEG2000Lossless, JPEGLSLossless])
def test_compressed_ct_decodes_to_same_pixels(tmp_path: Path, transfer_syntax: str) -> None:
    plain = write_ct_series(tmp_path / "plain", shape=(3, 32, 32))
    packed = write_ct_series(tmp_path / "packed", shape=(3, 32, 32), transfer_syntax=transfer_syntax)
    for a, b in zip(plain.files, packed.files, strict=True):
        ds = pydicom.dcmread(b)
        assert ds.file_meta.TransferSyntaxUID == transfer_syntax
        assert np.array_equal(pydicom.dcmread(a).pixel_array, ds.pixel_array)


def test_unsupported_transfer_syntax_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not supported"):
        write_ct_series(tmp_path, shape=(2, 16, 16), transfer_syntax="1.2.840.10008.1.2.4.50")


def test_pet_compresses_signed_pixels_losslessly(tmp_path: Path) -> None:
    for transfer_syntax in (RLELossless, JPEG2000Lossless, JPEGLSLossless):
        _, pet = write_pet_ct_pair(tmp_path / transfer_syntax, ct_shape=(4, 32, 32), pet_shape=(3, 32, 32),
                                   transfer_syntax=transfer_syntax)
        ds = pydicom.dcmread(pet.files[1])
        assert ds.PixelRepresentation == 1 and ds.file_meta.TransferSyntaxUID == transfer_syntax
        assert np.allclose(ds.pixel_array * float(ds.RescaleSlope), pet.phantom.image[1], rtol=1e-6, atol=1e-3)


def test_jpeg2000_needs_32_pixels(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 32 rows"):
        write_ct_series(tmp_path, shape=(2, 24, 40), transfer_syntax=JPEG2000Lossless)


def test_out_of_range_values_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="do not fit"):
        write_ct_series(tmp_path, shape=(2, 16, 16), rescale_slope=0.01)


@requires_dciodvfy
def test_ct_slice_passes_dciodvfy(tmp_path: Path) -> None:
    series = write_ct_series(tmp_path, shape=SMALL, orientation=OBLIQUE)
    assert dciodvfy_errors(series.files[0]) == []
    assert dciodvfy_errors(series.files[-1]) == []
    compressed = write_ct_series(tmp_path / "jls", shape=(2, 32, 32), transfer_syntax=JPEGLSLossless)
    assert dciodvfy_errors(compressed.files[0]) == []


def test_mr_series_geometry_pixels_and_contrast(tmp_path: Path) -> None:
    series = write_mr_series(tmp_path, shape=(10, 64, 64), slice_order="descending", seed=2)
    image = read_with_simpleitk(series.directory)
    assert np.allclose(image.GetOrigin(), series.origin, atol=1e-4)
    assert np.allclose(image.GetSpacing(), series.spacing)
    assert np.array_equal(sitk.GetArrayFromImage(image), series.phantom.image)
    phantom = series.phantom
    mean = {name: float(phantom.image[phantom.mask(name)].mean()) for name in ("URINARY_BLADDER", "PROSTATE", "LIVER")}
    assert mean["URINARY_BLADDER"] > mean["PROSTATE"] > mean["LIVER"]
    assert phantom.image.min() >= 0
    ds = pydicom.dcmread(series.files[0])
    assert (ds.Modality, ds.SOPClassUID, ds.ScanningSequence, ds.MRAcquisitionType) == (
        "MR", "1.2.840.10008.5.1.4.1.1.4", "SE", "2D")
    assert float(ds.EchoTime) > 0 and float(ds.RepetitionTime) > float(ds.EchoTime)
    assert "RescaleSlope" not in ds and ds.PixelRepresentation == 0


@pytest.fixture(scope="module")
def pet_ct(tmp_path_factory: pytest.TempPathFactory) -> tuple[SyntheticSeries, SyntheticSeries]:
    return write_pet_ct_pair(tmp_path_factory.mktemp("petct"), seed=5, file_names="random")


def test_pet_ct_pair_shares_study_and_frame_of_reference_on_different_grids(
        pet_ct: tuple[SyntheticSeries, SyntheticSeries]) -> None:
    ct, pet = pet_ct
    assert (ct.modality, pet.modality) == ("CT", "PT")
    assert ct.study_uid == pet.study_uid and ct.frame_of_reference_uid == pet.frame_of_reference_uid
    assert ct.series_uid != pet.series_uid
    assert ct.spacing != pet.spacing and ct.phantom.shape != pet.phantom.shape and ct.origin != pet.origin
    for series in (ct, pet):
        ds = pydicom.dcmread(series.files[0])
        assert ds.FrameOfReferenceUID == series.frame_of_reference_uid and ds.StudyInstanceUID == series.study_uid


def test_pet_ct_structures_coincide_in_patient_space(pet_ct: tuple[SyntheticSeries, SyntheticSeries]) -> None:
    def world_centroid(series: SyntheticSeries, segment: str) -> np.ndarray:
        z, y, x = np.argwhere(series.phantom.mask(segment)).mean(axis=0)
        return np.asarray(series.origin) + np.asarray(series.spacing) * (x, y, z)  # axial grids

    ct, pet = pet_ct
    for segment in ("LIVER", "HEART", "FDG_AVID_BREAST_TUMOR"):
        assert np.linalg.norm(world_centroid(ct, segment) - world_centroid(pet, segment)) < 4.0


def test_pet_is_suv_computable_from_its_attributes(pet_ct: tuple[SyntheticSeries, SyntheticSeries]) -> None:
    _, pet = pet_ct
    ds = pydicom.dcmread(pet.files[0])
    assert (ds.Units, ds.DecayCorrection, ds.CountsSource) == ("BQML", "START", "EMISSION")
    assert "DECY" in ds.CorrectedImage and "ATTN" in ds.CorrectedImage
    drug = ds.RadiopharmaceuticalInformationSequence[0]
    seconds = [int(t[:2]) * 3600 + int(t[2:4]) * 60 + int(t[4:6])
               for t in (str(ds.SeriesTime), str(drug.RadiopharmaceuticalStartTime))]
    decayed = float(drug.RadionuclideTotalDose) * 2 ** (-(seconds[0] - seconds[1]) / float(drug.RadionuclideHalfLife))
    suv = pet.phantom.image * (float(ds.PatientWeight) * 1000.0 / decayed)
    assert 1.8 < float(suv[pet.phantom.mask("LIVER")].mean()) < 3.0
    assert float(suv[pet.phantom.mask("LEFT_LUNG")].mean()) < 1.0
    assert float(suv[pet.phantom.mask("FDG_AVID_LUNG_TUMOR")].max()) > 5.0
    assert float(suv[pet.phantom.mask("FDG_AVID_BREAST_TUMOR")].max()) > 4.0
    assert int(ds.ActualFrameDuration) > 0 and float(ds.RescaleIntercept) == 0


def test_pet_pixels_and_geometry_match_simpleitk(pet_ct: tuple[SyntheticSeries, SyntheticSeries]) -> None:
    _, pet = pet_ct
    image = read_with_simpleitk(pet.directory)
    assert np.allclose(image.GetOrigin(), pet.origin) and np.allclose(image.GetSpacing(), pet.spacing)
    slope = float(pydicom.dcmread(pet.files[0]).RescaleSlope)
    assert np.allclose(sitk.GetArrayFromImage(image), pet.phantom.image, rtol=1e-5, atol=slope)


def test_pet_suv_scale_follows_dose(tmp_path: Path) -> None:
    small = {"ct_shape": (8, 32, 32), "pet_shape": (6, 24, 24)}
    _, full = write_pet_ct_pair(tmp_path / "a", **small)
    _, half = write_pet_ct_pair(tmp_path / "b", acquisition=FdgAcquisition(injected_dose_bq=185.0e6), **small)
    assert np.allclose(half.phantom.image.sum() * 2, full.phantom.image.sum(), rtol=1e-3)


@requires_dciodvfy
def test_mr_and_pet_slices_pass_dciodvfy(tmp_path: Path, pet_ct: tuple[SyntheticSeries, SyntheticSeries]) -> None:
    mr = write_mr_series(tmp_path, shape=(4, 32, 32), orientation=OBLIQUE)
    assert dciodvfy_errors(mr.files[0]) == []
    ct, pet = pet_ct
    assert dciodvfy_errors(pet.files[0]) == []
    assert dciodvfy_errors(pet.files[-1]) == []
    assert dciodvfy_errors(ct.files[0]) == []


def test_demo_dataset_writes_one_patient_per_case(tmp_path: Path) -> None:
    cases = write_demo_dataset(tmp_path / "ct", "ct", n_series=2, seed=1)
    ids = [pydicom.dcmread(series.files[0]).PatientID for series in cases]
    assert ids == ["MHUB-DEMO-0001", "MHUB-DEMO-0002"]
    assert cases[0].study_uid != cases[1].study_uid
    assert cases[0].directory.parent == cases[1].directory.parent == tmp_path / "ct"
    petct = write_demo_dataset(tmp_path / "petct", "petct")
    assert [series.modality for series in petct] == ["CT", "PT"]
    with pytest.raises(ValueError):
        write_demo_dataset(tmp_path / "x", "xray")


def test_phantom_label_names_are_registry_segment_ids() -> None:
    assert set(CT_SEGMENTS + MR_SEGMENTS + PET_CT_SEGMENTS) <= set(segment_ids())
