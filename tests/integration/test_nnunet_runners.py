"""nnU-Net runners on tiny real-format model folders: parameters, label maps, weights, output geometry."""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from pydantic import ValidationError

from mhubio.core.data import DataItem, Instance
from mhubio.core.errors import ConfigError, WeightsError
from mhubio.core.filetypes import FileType
from mhubio.core.module import ModelInfo, RunContext
from mhubio.modules.runners.device import DeviceChoice, select_device
from mhubio.modules.runners.nnunet_v1 import NnunetV1Runner
from mhubio.modules.runners.nnunet_v2 import NnunetV2Runner
from mhubio.synthetic import make_ct_phantom
from mhubio.weights import fetch, load_manifest
from tests.support.nnunet import write_nnunet_v1_model, write_nnunet_v2_model

SEGTHOR = {1: "ESOPHAGUS", 2: "HEART", 3: "TRACHEA", 4: "AORTA"}
SEGTHOR_CLASSES = {"esophagus": 1, "heart": 2, "trachea": 3, "aorta": 4}


def _context(root: Path, model_dir: Path | None = None, weights_dir: Path | None = None) -> RunContext:
    return RunContext(root, root / "out", root / "work", ModelInfo("tiny", "0.1.0", model_dir or root), weights_dir)


def _ct_nifti(path: Path, shape=(20, 48, 48), spacing=(2.0, 2.0, 5.0)) -> sitk.Image:
    phantom = make_ct_phantom(shape, spacing, seed=1)
    image = sitk.GetImageFromArray(phantom.image)
    image.SetSpacing(phantom.spacing)
    image.SetOrigin((-40.0, 12.5, 300.0))
    image.SetDirection((1, 0, 0, 0, -1, 0, 0, 0, 1))
    sitk.WriteImage(image, str(path))
    return image


def _predict(runner, tmp_path: Path) -> tuple[DataItem, sitk.Image]:
    source = _ct_nifti(tmp_path / "ct.nii.gz")
    instance = Instance("1.2.826.0.1.3680043.8.498.1", {"Modality": "CT"}, tmp_path / "work")
    image = DataItem(FileType.NIFTI, tmp_path / "ct.nii.gz", {"mod": "ct"})
    target = DataItem(FileType.NIFTI, tmp_path / "seg.nii.gz", {"mod": "seg"})
    runner.preflight()
    runner.ensure_setup()
    runner.process(instance, {"image": image}, {"segmentation": target})
    return target, source


def _assert_same_grid(label_map: sitk.Image, source: sitk.Image) -> None:
    assert label_map.GetSize() == source.GetSize()
    assert np.allclose(label_map.GetSpacing(), source.GetSpacing())
    assert np.allclose(label_map.GetOrigin(), source.GetOrigin())
    assert np.allclose(label_map.GetDirection(), source.GetDirection())


@pytest.fixture(scope="module")
def v2_results(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("v2")
    for configuration in ("3d_fullres", "2d"):
        write_nnunet_v2_model(root, SEGTHOR_CLASSES, configuration=configuration, folds=(0, 1))
    return root


@pytest.fixture(scope="module")
def v1_results(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("v1")
    for configuration in ("3d_fullres", "3d_lowres", "2d"):
        write_nnunet_v1_model(root, 4, task="Task055_SegTHOR", configuration=configuration, folds=(0, 1),
                              postprocessing_classes=(2,))
    return root


def _v2(results: Path, tmp_path: Path, **params) -> NnunetV2Runner:
    values = {"results_folder": str(results), "dataset": "Dataset901_Tiny", "label_map": SEGTHOR,
              "device": "cpu", **params}
    return NnunetV2Runner("nnunet", NnunetV2Runner.Params(**values), _context(tmp_path))


def _v1(results: Path, tmp_path: Path, **params) -> NnunetV1Runner:
    values = {"results_folder": str(results), "task": "Task055_SegTHOR", "label_map": SEGTHOR, "device": "cpu",
              **params}
    return NnunetV1Runner("nnunet", NnunetV1Runner.Params(**values), _context(tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("configuration", ["3d_fullres", "2d"])
def test_v2_writes_label_map_on_input_grid(v2_results, tmp_path, configuration):
    runner = _v2(v2_results, tmp_path, configuration=configuration, use_mirroring=configuration == "2d")
    target, source = _predict(runner, tmp_path)
    written = sitk.ReadImage(str(target.path))
    _assert_same_grid(written, source)
    assert set(np.unique(sitk.GetArrayViewFromImage(written))) <= {0, 1, 2, 3, 4}
    assert target.labels == SEGTHOR
    assert target.meta["roi"] == "ESOPHAGUS,HEART,TRACHEA,AORTA"
    folder = v2_results / "Dataset901_Tiny" / f"nnUNetTrainer__nnUNetPlans__{configuration}"
    checkpoint = folder / "fold_1" / "checkpoint_final.pth"
    key = checkpoint.relative_to(v2_results).as_posix()
    assert target.algorithm.weights[key] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert target.algorithm.parameters["folds"] == "0,1"
    assert target.algorithm.parameters["configuration"] == configuration


@pytest.mark.slow
@pytest.mark.parametrize("configuration", ["3d_fullres", "3d_lowres", "2d"])
def test_v1_writes_label_map_on_input_grid(v1_results, tmp_path, configuration):
    runner = _v1(v1_results, tmp_path, configuration=configuration, use_mirroring=configuration == "3d_lowres")
    target, source = _predict(runner, tmp_path)
    written = sitk.ReadImage(str(target.path))
    _assert_same_grid(written, source)
    assert set(np.unique(sitk.GetArrayViewFromImage(written))) <= {0, 1, 2, 3, 4}
    assert target.labels == SEGTHOR
    assert target.algorithm.parameters["postprocessing"] == "True"
    assert sorted(target.algorithm.weights) == sorted(
        p.relative_to(v1_results).as_posix()
        for p in (v1_results / "nnUNet" / configuration).rglob("*") if p.is_file()
    )


@pytest.mark.slow
def test_v2_setup_loads_once_for_many_series(v2_results, tmp_path):
    runner = _v2(v2_results, tmp_path, use_mirroring=False)
    before = NnunetV2Runner.model_loads
    _predict(runner, tmp_path)
    _predict(runner, tmp_path)
    assert NnunetV2Runner.model_loads == before + 1


def test_v2_label_map_missing_and_extra_labels(v2_results, tmp_path):
    runner = _v2(v2_results, tmp_path, label_map={1: "ESOPHAGUS", 2: "HEART", 3: "TRACHEA", 5: "AORTA"})
    with pytest.raises(ConfigError) as caught:
        runner.preflight()
    text = str(caught.value)
    assert "no segment for model label(s) 4 (aorta)" in text
    assert "label value(s) [5] that the model does not produce" in text
    assert "dataset.json" in text


def test_v2_label_map_swapped_segments(v2_results, tmp_path):
    runner = _v2(v2_results, tmp_path, label_map={1: "HEART", 2: "ESOPHAGUS", 3: "TRACHEA", 4: "AORTA"})
    with pytest.raises(ConfigError, match=r"label 1 is 'esophagus' in the model but label_map says HEART"):
        runner.preflight()
    _v2(v2_results, tmp_path, label_map={1: "HEART", 2: "ESOPHAGUS", 3: "TRACHEA", 4: "AORTA"},
        check_label_names=False).preflight()


def test_v1_label_map_mismatch(v1_results, tmp_path):
    runner = _v1(v1_results, tmp_path, label_map={1: "ESOPHAGUS", 2: "HEART", 3: "TRACHEA"})
    with pytest.raises(ConfigError, match=r"no segment for model label\(s\) 4 \(unnamed\)"):
        runner.preflight()


def test_label_map_unknown_segment_id():
    with pytest.raises(ValidationError, match="Unknown segment id 'HAERT'.*Did you mean HEART"):
        NnunetV2Runner.Params(results_folder="x", dataset="D", label_map={1: "HAERT"})


def test_exactly_one_weights_source():
    with pytest.raises(ValidationError, match="exactly one of 'weights'"):
        NnunetV1Runner.Params(task="T", label_map=SEGTHOR)
    with pytest.raises(ValidationError, match="exactly one of 'weights'"):
        NnunetV1Runner.Params(task="T", label_map=SEGTHOR, weights="w", results_folder="r")


def test_missing_fold_is_weights_error(v2_results, v1_results, tmp_path):
    with pytest.raises(WeightsError, match=r"fold_3/checkpoint_final.pth"):
        _v2(v2_results, tmp_path, folds=[0, 3]).preflight()
    with pytest.raises(WeightsError, match=r"fold_4/model_final_checkpoint.model"):
        _v1(v1_results, tmp_path, folds=[0, 1, 2, 3, 4]).preflight()
    with pytest.raises(WeightsError, match="does not exist"):
        _v1(tmp_path / "nowhere", tmp_path).preflight()


def test_v2_unknown_configuration(v2_results, tmp_path):
    folder = v2_results / "Dataset901_Tiny" / "nnUNetTrainer__nnUNetPlans__3d_fullres"
    other = v2_results / "Dataset901_Tiny" / "nnUNetTrainer__nnUNetPlans__3d_lowres"
    if not other.exists():
        other.symlink_to(folder, target_is_directory=True)
    with pytest.raises(ConfigError, match=r"configuration '3d_lowres' is not in .*plans.json"):
        _v2(v2_results, tmp_path, configuration="3d_lowres").preflight()


@pytest.mark.slow
def test_v1_from_installed_weights_entry(tmp_path):
    """The runner reads an archive installed by mhubio.weights and reports the stamp's sha256s."""
    results = tmp_path / "built"
    write_nnunet_v1_model(results, 4, task="Task055_SegTHOR", configuration="3d_lowres", folds=(0,))
    archive = tmp_path / "Task055_SegTHOR.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in sorted(results.rglob("*")):
            if path.is_file():
                handle.write(path, path.relative_to(results).as_posix())
    model_dir = tmp_path / "tiny_segthor"
    model_dir.mkdir()
    (model_dir / "mhub.toml").write_text(
        '[model]\nname = "tiny_segthor"\nversion = "0.1.0"\n\n[[weights]]\nname = "Task055_SegTHOR"\n'
        f'url = "{archive.as_uri()}"\nsha256 = "{hashlib.sha256(archive.read_bytes()).hexdigest()}"\n'
        'archive = "zip"\ntarget = "nnunet_v1/Task055_SegTHOR"\n')
    weights_dir = tmp_path / "weights"
    params = NnunetV1Runner.Params(weights="Task055_SegTHOR", task="Task055_SegTHOR", configuration="3d_lowres",
                                   label_map=SEGTHOR, device="cpu", use_mirroring=False)
    runner = NnunetV1Runner("nnunet", params, _context(tmp_path, model_dir, weights_dir))
    with pytest.raises(WeightsError, match="mhub weights fetch tiny_segthor"):
        runner.preflight()
    (installed,) = fetch(load_manifest(model_dir), weights_dir)
    target, source = _predict(runner, tmp_path)
    _assert_same_grid(sitk.ReadImage(str(target.path)), source)
    assert target.algorithm.weights == {k: v for k, v in installed.files.items() if k in target.algorithm.weights}
    assert len(target.algorithm.weights) == 4


def test_device_fallback_is_logged(caplog):
    import torch

    if torch.cuda.is_available():
        assert select_device(DeviceChoice.CUDA, "step").type == "cuda"
        return
    with caplog.at_level(logging.INFO, logger="mhub.runners.device"):
        assert select_device(DeviceChoice.CUDA, "step").type == "cpu"
        assert select_device(DeviceChoice.AUTO, "step").type == "cpu"
        assert select_device(DeviceChoice.CPU, "step").type == "cpu"
    levels = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert levels[0][0] == logging.WARNING and "falling back to the CPU" in levels[0][1]
    assert all(level == logging.INFO for level, _ in levels[1:])


def test_builders_write_the_documented_layout(v2_results, v1_results):
    v2 = v2_results / "Dataset901_Tiny" / "nnUNetTrainer__nnUNetPlans__3d_fullres"
    assert json.loads((v2 / "dataset.json").read_text())["labels"] == {"background": 0, **SEGTHOR_CLASSES}
    assert (v2 / "fold_0" / "checkpoint_final.pth").is_file()
    v1 = v1_results / "nnUNet" / "3d_fullres" / "Task055_SegTHOR" / "nnUNetTrainerV2__nnUNetPlansv2.1"
    assert {p.name for p in (v1 / "fold_0").iterdir()} == {"model_final_checkpoint.model",
                                                           "model_final_checkpoint.model.pkl"}


@pytest.mark.parametrize("min_sizes", [None, {1: 0.0, (2, 3): 40.0}])
def test_component_filter_matches_nnunet_v1(min_sizes):
    from nnunet.postprocessing.connected_components import remove_all_but_the_largest_connected_component

    from mhubio.modules.runners.nnunet_common import remove_small_components

    rng = np.random.default_rng(7)
    labels = rng.choice(4, size=(12, 20, 20), p=[0.55, 0.15, 0.15, 0.15]).astype(np.uint8)
    classes = [1, (2, 3)]
    expected, _, _ = remove_all_but_the_largest_connected_component(labels.copy(), classes, 2.5, min_sizes)
    actual = remove_small_components(labels, classes, 2.5, min_sizes)
    assert np.count_nonzero(actual != labels) > 0
    assert np.array_equal(actual, expected)


# --- k-fold ensembles: one preprocessing per series ---------------------------------------------------------


@pytest.fixture(scope="module")
def v1_five_folds(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("v1_five")
    write_nnunet_v1_model(root, 4, task="Task055_SegTHOR", configuration="3d_lowres", folds=(0, 1, 2, 3, 4),
                          postprocessing_classes=(2,))
    return root


@pytest.fixture
def preprocess_count(monkeypatch) -> list[int]:
    """Calls of nnU-Net v1's ``preprocess_patient`` (one list entry per call)."""
    from nnunet.training.network_training.nnUNetTrainer import nnUNetTrainer

    calls: list[int] = []
    original = nnUNetTrainer.preprocess_patient

    def counted(self, input_files):
        calls.append(1)
        return original(self, input_files)

    monkeypatch.setattr(nnUNetTrainer, "preprocess_patient", counted)
    return calls


def _predict_to(runner, tmp_path: Path, name: str) -> DataItem:
    _ct_nifti(tmp_path / "ct.nii.gz")
    instance = Instance("1.2.826.0.1.3680043.8.498.1", {"Modality": "CT"}, tmp_path / "work")
    image = DataItem(FileType.NIFTI, tmp_path / "ct.nii.gz", {"mod": "ct"})
    target = DataItem(FileType.NIFTI, tmp_path / f"{name}.nii.gz", {"mod": "seg"})
    runner.preflight()
    runner.ensure_setup()
    runner.process(instance, {"image": image}, {"segmentation": target})
    return target


@pytest.mark.slow
@pytest.mark.parametrize("ensemble", ["softmax", "vote"])
def test_v1_five_fold_model_preprocesses_once_per_series(v1_five_folds, tmp_path, preprocess_count, ensemble):
    runner = _v1(v1_five_folds, tmp_path, configuration="3d_lowres", use_mirroring=False, ensemble=ensemble)
    target = _predict_to(runner, tmp_path, "first")
    assert len(preprocess_count) == 1
    _predict_to(runner, tmp_path, "second")
    assert len(preprocess_count) == 2
    assert target.algorithm.parameters["folds"] == "0,1,2,3,4"
    assert target.algorithm.parameters["ensemble"] == ensemble
    assert ("vote_threshold" in target.algorithm.parameters) == (ensemble == "vote")
    assert not list((tmp_path / "work").glob("nnunet.folds.*")), "per-fold scratch files are removed"


@pytest.mark.slow
def test_v1_fold_vote_equals_one_step_per_fold_and_majority_vote(v1_five_folds, tmp_path, preprocess_count):
    from mhubio.modules.processors.majority_vote import MajorityVote

    ensemble = _predict_to(_v1(v1_five_folds, tmp_path, configuration="3d_lowres", use_mirroring=False,
                               ensemble="vote"), tmp_path, "ensemble")
    folds = [_predict_to(_v1(v1_five_folds, tmp_path, configuration="3d_lowres", use_mirroring=False, folds=[k]),
                         tmp_path, f"fold{k}") for k in range(5)]
    assert len(preprocess_count) == 1 + 5
    voted = DataItem(FileType.NIFTI, tmp_path / "voted.nii.gz", {"mod": "seg"})
    vote = MajorityVote("vote", MajorityVote.Params(folds=5, threshold=0.6), _context(tmp_path))
    vote.process(Instance("1.2.826.0.1.3680043.8.498.1", {"Modality": "CT"}, tmp_path / "work"),
                 {"folds": folds}, {"segmentation": voted})
    expected = voted.read_image()
    got = sitk.ReadImage(str(ensemble.path))
    _assert_same_grid(got, expected)
    expected_voxels = sitk.GetArrayFromImage(expected)
    fold_voxels = [sitk.GetArrayFromImage(sitk.ReadImage(str(f.path))) for f in folds]
    assert any(not np.array_equal(expected_voxels, f) for f in fold_voxels), "the folds must disagree somewhere"
    assert np.array_equal(sitk.GetArrayFromImage(got), expected_voxels)


def test_v1_vote_needs_two_folds_and_one_winner(v1_results, tmp_path):
    with pytest.raises(ConfigError, match="ensemble 'vote' needs at least two folds"):
        _v1(v1_results, tmp_path, configuration="3d_lowres", folds=[0], ensemble="vote").preflight()
    with pytest.raises(ValidationError, match="lets two labels win one voxel"):
        NnunetV1Runner.Params(task="T", label_map=SEGTHOR, results_folder="r", ensemble="vote", vote_threshold=0.5)
