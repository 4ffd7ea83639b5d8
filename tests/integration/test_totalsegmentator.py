"""TotalSegmentatorRunner on CPU with tiny nnU-Net v2 models in the layout of the TotalSegmentator release.

The tiny release folders (``DatasetNNN_*/<trainer>__nnUNetPlans__3d_fullres``) are zipped like the published
archives, declared in a temporary ``models/totalsegmentator/mhub.toml`` with their sha256 and installed by
``mhubio.weights.fetch``; TotalSegmentator then reads them without downloading anything.  The last layer of each
network is set so that one known class wins everywhere, which makes the label -> segment id chain checkable.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from mhubio.core.data import DataItem, Instance
from mhubio.core.errors import ConfigError, WeightsError
from mhubio.core.filetypes import FileType
from mhubio.core.module import ModelInfo, RunContext
from mhubio.dicom.scan import scan_folder
from mhubio.dicom.volume import read_series_image, write_nifti
from mhubio.modules.runners.totalsegmentator import TotalSegmentatorRunner, class_labels, totalsegmentator_environment
from mhubio.seg import SegOptions, encode_segmentation, load_source_images
from mhubio.segdb import get_segment, load_label_map
from mhubio.synthetic import write_ct_series
from mhubio.weights import fetch, load_manifest, read_stamp
from tests.helpers import REAL_CT, REPO, dciodvfy_errors, dcmqi_segments, read_report, run_mhub, seg_label_counts
from tests.support.nnunet import write_nnunet_v2_model

pytestmark = pytest.mark.torch

PART_TASKS = (291, 292, 293, 294, 295)


def _release_layout(task_id: int) -> tuple[str, str, float, dict[str, int]]:
    """Folder name, trainer, spacing and class name -> model label of one release dataset."""
    from totalsegmentator.map_tasks_config import TASK_CONFIGS, TASK_ID_WEIGHTS_CONFIGS
    from totalsegmentator.map_to_binary import class_map, class_map_5_parts, map_taskid_to_partname_ct

    folder = TASK_ID_WEIGHTS_CONFIGS[task_id]["foldername"]
    modes = TASK_CONFIGS["total"]["sub_modes"]
    mode = next(m for m in modes.values() if task_id == m["task_id"] or task_id in np.atleast_1d(m["task_id"]))
    classes = class_map_5_parts[map_taskid_to_partname_ct[task_id]] if task_id in PART_TASKS else class_map["total"]
    return folder, mode["trainer"], float(mode["resample"]), {name: value for value, name in classes.items()}


def _force_class(model_folder: Path, label: int) -> None:
    """Make the network predict ``label`` everywhere (0 = background) by setting its last layer."""
    import torch

    path = model_folder / "fold_0" / "checkpoint_final.pth"
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    weights = checkpoint["network_weights"]
    for key in [k for k in weights if k.startswith("decoder.seg_layers.")]:
        if key.endswith("weight"):
            weights[key] = torch.zeros_like(weights[key])
        else:
            bias = torch.full_like(weights[key], -10.0)
            bias[label] = 10.0
            weights[key] = bias
    torch.save(checkpoint, path)


def build_release(root: Path, winners: dict[int, str | None]) -> Path:
    """Zip one tiny dataset per task id (like the release archives); return the model folder with its mhub.toml."""
    build, archives = root / "build", root / "archives"
    archives.mkdir(parents=True)
    entries = []
    for task_id, winner in winners.items():
        folder, trainer, spacing, labels = _release_layout(task_id)
        model = write_nnunet_v2_model(build, labels, dataset_name=folder, configuration="3d_fullres",
                                      spacing=(spacing,) * 3, patch_size=(16, 16, 16), features=(4, 8),
                                      trainer_name=trainer, seed=task_id)
        _force_class(model, labels[winner] if winner else 0)
        archive = Path(shutil.make_archive(str(archives / folder), "zip", root_dir=build, base_dir=folder))
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        entries.append(
            f'[[weights]]\nname = "{folder}"\nurl = "{archive.as_uri()}"\nsha256 = "{digest}"\narchive = "zip"\n'
            f'target = "totalsegmentator/{folder}"\nstrip_components = 1\n'
        )
    model_dir = root / "models" / "totalsegmentator"
    model_dir.mkdir(parents=True)
    (model_dir / "mhub.toml").write_text(
        '[model]\nname = "totalsegmentator"\nversion = "2.18.0"\n\n' + "\n".join(entries)
    )
    return model_dir


def ct_nifti(series_dir: Path, path: Path) -> Path:
    (series,) = scan_folder(series_dir).series.values()
    return write_nifti(read_series_image(series), path)


def make_runner(tmp_path: Path, model_dir: Path, **params) -> TotalSegmentatorRunner:
    context = RunContext(tmp_path, tmp_path / "out", tmp_path / "work",
                         ModelInfo("totalsegmentator", "2.18.0", model_dir), weights_dir=tmp_path / "weights")
    runner = TotalSegmentatorRunner("TotalSegmentatorRunner", TotalSegmentatorRunner.Params(device="cpu", **params),
                                    context)
    runner.preflight()
    runner.ensure_setup()
    return runner


def segment(runner: TotalSegmentatorRunner, ct: Path, uid: str = "1.2.3") -> DataItem:
    instance = Instance(uid, {}, runner.context.work_dir / uid)
    instance.workdir.mkdir(parents=True)
    out = DataItem(FileType.NIFTI, instance.workdir / "seg.nii.gz", {"mod": "seg"})
    runner.process(instance, {"ct": DataItem(FileType.NIFTI, ct, {"mod": "ct"})}, {"segmentation": out})
    assert instance.warnings == []
    return out


def run_runner(tmp_path: Path, model_dir: Path, ct: Path, **params) -> DataItem:
    return segment(make_runner(tmp_path, model_dir, **params), ct)


@pytest.fixture(scope="module")
def synthetic_ct(tmp_path_factory):
    root = tmp_path_factory.mktemp("ct")
    series = write_ct_series(root / "dicom", shape=(24, 64, 64), spacing=(1.5, 3.0, 3.0), seed=5)
    return series, ct_nifti(series.directory, root / "ct.nii.gz")


def test_class_labels_cover_the_total_task_with_registry_ids():
    from totalsegmentator.map_to_binary import class_map

    labels = class_labels("total")
    label_map = load_label_map("totalsegmentator_total")
    assert sorted(labels) == sorted(class_map["total"])
    for value, name in class_map["total"].items():
        assert labels[value] == label_map[name]
        assert get_segment(labels[value]).id == labels[value]
    assert class_labels("total", ["liver", "spleen"]) == {1: label_map["spleen"], 5: label_map["liver"]}


def test_unknown_roi_class_is_a_config_error():
    with pytest.raises(ValueError, match="unknown TotalSegmentator class 'livr'.*liver"):
        TotalSegmentatorRunner.Params(roi_subset=["livr"])


def test_environment_turns_stats_off_and_restores_nnunet_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("nnUNet_results", "/elsewhere")
    monkeypatch.delenv("TOTALSEG_WEIGHTS_PATH", raising=False)
    with totalsegmentator_environment(tmp_path / "home", tmp_path / "weights"):
        from totalsegmentator.config import get_config, get_weights_dir, setup_nnunet

        setup_nnunet()
        assert os.environ["nnUNet_results"] == str(tmp_path / "weights") == str(get_weights_dir())
        assert get_config()["send_usage_stats"] is False
    assert os.environ["nnUNet_results"] == "/elsewhere"
    assert "TOTALSEG_WEIGHTS_PATH" not in os.environ


def test_missing_weights_stop_preflight_with_the_fetch_command(tmp_path):
    model_dir = tmp_path / "models" / "totalsegmentator"
    model_dir.mkdir(parents=True)
    (model_dir / "mhub.toml").write_text(
        '[model]\nname = "totalsegmentator"\nversion = "2.18.0"\n\n[[weights]]\n'
        'name = "Dataset297_TotalSegmentator_total_3mm_1559subj"\nurl = "https://example.org/d.zip"\n'
        f'sha256 = "{"5" * 64}"\narchive = "zip"\n'
        'target = "totalsegmentator/Dataset297_TotalSegmentator_total_3mm_1559subj"\n'
        "strip_components = 1\n"
    )
    context = RunContext(tmp_path, tmp_path, tmp_path, ModelInfo("totalsegmentator", "1", model_dir), tmp_path / "w")
    runner = TotalSegmentatorRunner("ts", TotalSegmentatorRunner.Params(fast=True), context)
    with pytest.raises(WeightsError, match="Dataset297.*mhub weights fetch totalsegmentator"):
        runner.preflight()
    default = TotalSegmentatorRunner("ts", TotalSegmentatorRunner.Params(), context)
    with pytest.raises(ConfigError, match="no weights entry 'Dataset291"):
        default.preflight()


@pytest.mark.slow
def test_fast_mode_on_generated_ct_to_valid_seg(tmp_path, synthetic_ct):
    series, ct = synthetic_ct
    model_dir = build_release(tmp_path, {297: "liver"})
    fetch(load_manifest(model_dir), tmp_path / "weights")
    out = run_runner(tmp_path, model_dir, ct, fast=True)

    seg_image = nib.load(out.path)
    ct_image = nib.load(ct)
    assert seg_image.shape == ct_image.shape
    assert np.allclose(seg_image.affine, ct_image.affine, atol=1e-4)
    values = np.unique(np.asarray(seg_image.dataobj))
    assert values.tolist() == [5]  # TotalSegmentator's label of "liver"
    assert out.labels[5] == "LIVER" and len(out.labels) == 117
    assert out.algorithm.name == "TotalSegmentator" and out.algorithm.parameters["fast"] == "True"
    (checkpoint,) = out.algorithm.weights
    assert checkpoint.startswith("Dataset297_TotalSegmentator_total_3mm_1559subj/nnUNetTrainer_4000epochs")
    assert not list((tmp_path / "weights").rglob("tmp_download_file.zip"))

    result = encode_segmentation(sitk.ReadImage(str(out.path)), load_source_images(series.files), out.labels,
                                 out.algorithm, SegOptions(series_description="TotalSegmentator"))
    seg_path = tmp_path / "ts.seg.dcm"
    result.dataset.save_as(seg_path)
    assert dciodvfy_errors(seg_path) == []
    seg = hd.seg.segread(seg_path)
    assert list(seg.segment_numbers) == [1]
    volume = seg.get_volume(segment_numbers=[1], combine_segments=True).array
    assert int(np.count_nonzero(volume)) == int(np.prod(ct_image.shape))
    description = seg.get_segment_description(1)
    liver = get_segment("LIVER")
    assert description.segment_label == liver.label
    assert (description.segmented_property_type.value, description.segmented_property_type.scheme_designator) == (
        liver.type.value, liver.type.scheme_designator)


@pytest.mark.slow
def test_checkpoint_is_loaded_once_per_run(tmp_path, synthetic_ct, monkeypatch):
    import nnunetv2.inference.predict_from_raw_data as predict_module

    _, ct = synthetic_ct
    model_dir = build_release(tmp_path, {297: "liver"})
    fetch(load_manifest(model_dir), tmp_path / "weights")
    loaded = []
    original_load = predict_module.torch.load
    monkeypatch.setattr(predict_module.torch, "load",
                        lambda path, *a, **k: loaded.append(path) or original_load(path, *a, **k))
    runner = make_runner(tmp_path, model_dir, fast=True)
    first, second = segment(runner, ct, "1.1"), segment(runner, ct, "1.2")
    assert len(loaded) == 1 and str(loaded[0]).endswith("fold_0/checkpoint_final.pth")
    assert np.array_equal(np.asarray(nib.load(first.path).dataobj), np.asarray(nib.load(second.path).dataobj))
    runner.teardown()
    import totalsegmentator.nnunet as ts_nnunet

    assert ts_nnunet.nnUNetPredictor is predict_module.nnUNetPredictor


@pytest.mark.slow
def test_default_mode_combines_the_five_part_models(tmp_path, synthetic_ct):
    _, ct = synthetic_ct
    model_dir = build_release(tmp_path, {291: None, 292: "vertebrae_L1", 293: None, 294: None, 295: None})
    fetch(load_manifest(model_dir), tmp_path / "weights")
    out = run_runner(tmp_path, model_dir, ct)
    values = np.unique(np.asarray(nib.load(out.path).dataobj)).tolist()
    from totalsegmentator.map_to_binary import class_map

    (l1,) = [v for v, n in class_map["total"].items() if n == "vertebrae_L1"]
    assert values == [l1]
    assert out.labels[l1] == load_label_map("totalsegmentator_total")["vertebrae_L1"]
    assert len(out.algorithm.weights) == 5


@pytest.mark.slow
def test_roi_subset_uses_the_crop_model_and_keeps_only_those_classes(tmp_path, synthetic_ct):
    _, ct = synthetic_ct
    model_dir = build_release(tmp_path, {297: "liver", 298: "liver"})
    fetch(load_manifest(model_dir), tmp_path / "weights")
    out = run_runner(tmp_path, model_dir, ct, fast=True, roi_subset=["liver", "spleen"])
    assert out.labels == {1: "SPLEEN", 5: "LIVER"}
    assert np.unique(np.asarray(nib.load(out.path).dataobj)).tolist() == [5]
    assert {k.split("/")[0] for k in out.algorithm.weights} == {
        "Dataset297_TotalSegmentator_total_3mm_1559subj", "Dataset298_TotalSegmentator_total_6mm_1559subj"}


@pytest.mark.slow
@pytest.mark.heavy
def test_fast_mode_on_real_ct(tmp_path):
    if not REAL_CT.is_dir():
        pytest.skip(f"{REAL_CT} is not available")
    ct = ct_nifti(REAL_CT, tmp_path / "ct.nii.gz")
    model_dir = build_release(tmp_path, {297: "pancreas"})
    fetch(load_manifest(model_dir), tmp_path / "weights")
    out = run_runner(tmp_path, model_dir, ct, fast=True)
    seg = nib.load(out.path)
    assert seg.shape == nib.load(ct).shape
    assert np.unique(np.asarray(seg.dataobj)).tolist() == [7]
    assert out.labels[7] == "PANCREAS"


def _models_env(model_dir: Path) -> dict[str, str]:
    for workflow in ("default", "fast"):
        (model_dir / "config").mkdir(exist_ok=True)
        shutil.copy(REPO / "models" / "totalsegmentator" / "config" / f"{workflow}.yml", model_dir / "config")
    return {**os.environ, "MHUB_MODELS_DIR": str(model_dir.parent)}


def test_mhub_run_without_weights_exits_6_before_reading_data(tmp_path):
    model_dir = build_release(tmp_path, {})
    model_dir.joinpath("mhub.toml").write_text(
        (REPO / "models" / "totalsegmentator" / "mhub.toml").read_text())
    env = _models_env(model_dir)
    (tmp_path / "in").mkdir()
    done = run_mhub("run", "--model", "totalsegmentator", "--workflow", "fast", "--input", tmp_path / "in",
                    "--output", tmp_path / "out", "--weights-dir", tmp_path / "weights", env=env)
    assert done.returncode == 6, done.stdout
    assert "Dataset297_TotalSegmentator_total_3mm_1559subj" in done.stdout
    assert "no sha256 is recorded" in done.stdout


@pytest.mark.slow
def test_mhub_run_fast_workflow_on_generated_ct(tmp_path):
    model_dir = build_release(tmp_path, {297: "spleen"})
    env = _models_env(model_dir)
    weights = tmp_path / "weights"
    fetched = run_mhub("weights", "fetch", "totalsegmentator", "--weights-dir", weights, env=env)
    assert fetched.returncode == 0, fetched.stdout
    series = write_ct_series(tmp_path / "in", shape=(20, 48, 48), spacing=(2.0, 3.0, 3.0), seed=7)
    out = tmp_path / "out"
    done = run_mhub("run", "--model", "totalsegmentator", "--workflow", "fast", "--input", series.directory,
                    "--output", out, "--weights-dir", weights, env=env)
    assert done.returncode == 0, done.stdout
    (seg_path,) = sorted(out.glob("*/totalsegmentator.seg.dcm"))
    assert seg_path.parent.name == series.series_uid
    assert dciodvfy_errors(seg_path) == []
    assert seg_label_counts(seg_path) == {"SPLEEN": 20 * 48 * 48}
    by_dcmqi = dcmqi_segments(seg_path, tmp_path / "dcmqi")
    assert int(np.count_nonzero(sitk.GetArrayViewFromImage(by_dcmqi[1]))) == 20 * 48 * 48
    report = read_report(out)
    algorithm = report["algorithms"]["TotalSegmentatorRunner"]
    assert algorithm["name"] == "TotalSegmentator"
    assert algorithm["parameters"]["fast"] == "True"
    (checkpoint,) = algorithm["weights"]
    stamp = read_stamp(weights / "totalsegmentator" / "Dataset297_TotalSegmentator_total_3mm_1559subj")
    assert algorithm["weights"][checkpoint] == stamp.files[checkpoint.split("/", 1)[1]]


def test_model_card_lists_the_segments_the_runner_writes():
    import json

    meta = json.loads((REPO / "models" / "totalsegmentator" / "meta.json").read_text())
    assert meta["summary"]["outputs"][0]["classes"] == list(class_labels("total").values())
