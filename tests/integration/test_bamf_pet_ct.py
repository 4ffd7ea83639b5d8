"""BAMF PET/CT models end to end: PET/CT pairing, CT registered and resampled to the PET grid, two-channel nnU-Net v1,
TotalSegmentator, post-processing, SEG on the PET grid referencing the PET.

Weights: a tiny two-channel nnU-Net v1 model whose tumour label follows the PET intensity (see
``set_intensity_bands``) and tiny TotalSegmentator release folders (fast mode) installed from a test manifest
with their sha256, exactly as ``mhub weights fetch`` installs the real ones.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from mhubio.synthetic import write_ct_series, write_pet_ct_pair
from mhubio.weights import fetch, load_manifest
from tests.helpers import read_report
from tests.integration.test_bamf import check_seg, final_label_map, local_weights, run_model, tiny_v1_model
from tests.integration.test_totalsegmentator import build_release

pytestmark = [pytest.mark.torch, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PAIR = {"ct_shape": (20, 40, 40), "ct_spacing": (7.0, 7.0, 6.0), "pet_shape": (14, 28, 28),
        "pet_spacing": (10.0, 10.0, 10.0)}
"""CT 280 x 280 x 120 mm, PET 280 x 280 x 140 mm: the PET reaches beyond the CT at both ends."""
TASK = "Task762_PET_CT_Breast"


def install_weights(model: str, winner: str | None, root: Path) -> dict:
    """Tiny nnU-Net results folder, TotalSegmentator weights installed from a copied model folder's manifest."""
    tiny_v1_model(root / "results", TASK, 9, [([0, 9], [1.0])], channel=1, modalities=("CT", "PT"))
    release = build_release(root / "ts", {297: winner})
    models = root / "models"
    shutil.copytree(REPO / "models" / model, models / model)
    manifest = models / model / "mhub.toml"
    original = manifest.read_text()
    nnunet_entry = original[original.index("[[weights]]"):original.index("# TotalSegmentator")]
    ts_entries = (release / "mhub.toml").read_text().split("\n\n", 1)[1]
    header = original[:original.index("\n\n") + 2]
    manifest.write_text(header + nnunet_entry + ts_entries)
    weights = root / "weights"
    fetch(load_manifest(models / model), weights, entries=["Dataset297_TotalSegmentator_total_3mm_1559subj"])
    env = {**os.environ, "MHUB_MODELS_DIR": str(models)}
    args = [*local_weights(["NnunetV1MultiChannelRunner"], root / "results"), "--weights-dir", str(weights),
            "--set", "NnunetV1MultiChannelRunner.use_mirroring=false", "--set", "TotalSegmentatorRunner.fast=true",
            "--set", "TotalSegmentatorRunner.device=cpu"]
    return {"env": env, "args": args}


@pytest.fixture(scope="module")
def lung_setup(tmp_path_factory):
    return install_weights("bamf_pet_ct_lung_tumor", "lung_upper_lobe_left", tmp_path_factory.mktemp("lung"))


@pytest.fixture(scope="module")
def breast_setup(tmp_path_factory):
    return install_weights("bamf_pet_ct_breast_tumor", None, tmp_path_factory.mktemp("breast"))


def _pair(root: Path):
    return write_pet_ct_pair(root / "in", seed=3, **PAIR)


def _ct_field_of_view_on_pet(ct_dir: Path, pet_grid: sitk.Image) -> np.ndarray:
    from mhubio.dicom.scan import scan_folder
    from mhubio.dicom.volume import read_series_image

    (series,) = scan_folder(ct_dir).series.values()
    ones = sitk.Image(read_series_image(series).GetSize(), sitk.sitkUInt8) + 1
    ones.CopyInformation(read_series_image(series))
    return sitk.GetArrayFromImage(sitk.Resample(ones, pet_grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0)) > 0


def _check_on_pet_grid(seg_path: Path, pet_files) -> None:
    seg = hd.seg.segread(seg_path)
    pets = [pydicom.dcmread(f, stop_before_pixels=True) for f in pet_files]
    assert (seg.Rows, seg.Columns) == (pets[0].Rows, pets[0].Columns)
    measures = seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
    assert [float(v) for v in measures.PixelSpacing] == [float(v) for v in pets[0].PixelSpacing]
    positions = {tuple(round(float(v), 3) for v in p.ImagePositionPatient) for p in pets}
    for frame in seg.PerFrameFunctionalGroupsSequence:
        position = frame.PlanePositionSequence[0].ImagePositionPatient
        assert tuple(round(float(v), 3) for v in position) in positions


def _common_checks(model: str, tmp_path: Path, setup: dict, final_step: str, table: dict[int, str]):
    ct, pet = _pair(tmp_path)
    code, out, report, work, log = run_model(model, tmp_path / "in", tmp_path, *setup["args"], env=setup["env"])
    assert code == 0, log
    (series,) = report["series"]
    assert series["status"] == "done" and series["series_uid"] == pet.series_uid
    assert [s["series_uid"] for s in report["skipped_series"]] == []
    (seg_path,) = sorted(out.glob(f"{pet.series_uid}/{model}.seg.dcm"))
    (ct_on_pet,) = sorted(work.rglob("ct_on_pet_grid.resampled.nii*"))
    pet_grid = sitk.ReadImage(str(sorted(work.rglob("convert_pt.nifti.nii*"))[0]))
    on_pet = sitk.ReadImage(str(ct_on_pet))
    assert on_pet.GetSize() == pet_grid.GetSize() and np.allclose(on_pet.GetOrigin(), pet_grid.GetOrigin())
    labels = final_label_map(work, final_step)
    assert labels.GetSize() == pet_grid.GetSize() and np.allclose(labels.GetSpacing(), pet_grid.GetSpacing())
    counts = check_seg(model, seg_path, pet.files, labels, table)
    _check_on_pet_grid(seg_path, pet.files)
    array = sitk.GetArrayFromImage(labels)
    tumor = array == max(table)
    fov = _ct_field_of_view_on_pet(ct.directory, pet_grid)
    assert not fov.all()
    assert not np.any(tumor & ~fov)
    return counts, array, work


def test_lung_pet_ct_to_seg_on_pet_grid(tmp_path: Path, lung_setup) -> None:
    counts, array, work = _common_checks("bamf_pet_ct_lung_tumor", tmp_path, lung_setup, "tumor_at_lungs",
                                         {1: "LUNG", 2: "FDG_AVID_LUNG_TUMOR"})
    assert set(counts) == {"LUNG", "FDG_AVID_LUNG_TUMOR"}
    raw = sitk.GetArrayFromImage(final_label_map(work, "nnunet"))
    assert np.all(raw[array == 2] == 9)


def test_breast_pet_ct_to_seg_on_pet_grid(tmp_path: Path, breast_setup) -> None:
    counts, array, _ = _common_checks("bamf_pet_ct_breast_tumor", tmp_path, breast_setup, "two_largest",
                                      {1: "FDG_AVID_BREAST_TUMOR"})
    assert set(counts) == {"FDG_AVID_BREAST_TUMOR"}
    assert not array[:3].any()
    components = sitk.GetArrayFromImage(sitk.ConnectedComponent(sitk.GetImageFromArray((array > 0).astype(np.uint8)),
                                                                True))
    sizes = np.bincount(components.ravel())[1:]
    assert 1 <= len(sizes) <= 2 and sizes.min() > 20


def test_two_cts_for_one_pet_end_the_run_with_no_input(tmp_path: Path, lung_setup) -> None:
    ct, pet = _pair(tmp_path)
    write_ct_series(tmp_path / "in" / "CT2", shape=(12, 32, 32), spacing=(6.0, 6.0, 6.0), seed=9,
                    study_uid=ct.study_uid, frame_of_reference_uid=ct.frame_of_reference_uid, series_number=7)
    code, out, report, _, log = run_model("bamf_pet_ct_lung_tumor", tmp_path / "in", tmp_path, *lung_setup["args"],
                                          env=lung_setup["env"])
    assert code == 3, log
    assert report["series"] == []
    reasons = {s["series_uid"]: s for s in report["skipped_series"]}
    assert reasons[pet.series_uid]["check"] == "pairing"
    assert re.search(r"ambiguous: 2 CT series", reasons[pet.series_uid]["reason"])
    assert read_report(out)["exit_code"] == 3
