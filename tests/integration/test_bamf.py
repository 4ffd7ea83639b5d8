"""BAMF/AIMI CT and MR models end to end with tiny nnU-Net v1 weights in the real on-disk format.

The tiny networks are untrained, but their weights are set so that each voxel's label is chosen by intensity
bands of one input channel (z-scored within each patch, as nnU-Net's instance norms do): a real nnU-Net v1
model folder whose output has known structure (bright tissue, dark air, ...), so that every post-processing
step of a workflow has something to act on and its result can be checked.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from scipy import ndimage

from mhubio.core.data import DataItem, Instance
from mhubio.core.filetypes import FileType
from mhubio.core.module import ModelInfo, RunContext
from mhubio.modules.runners.nnunet_v1 import NnunetV1Runner
from mhubio.segdb import get_segment
from mhubio.synthetic import make_ct_phantom, write_ct_series, write_mr_series
from tests.helpers import REAL_CT, dciodvfy_errors, read_report, run_mhub, seg_label_counts
from tests.support.nnunet import write_nnunet_v1_model

pytestmark = pytest.mark.torch

ALGORITHMS = {
    "bamf_nnunet_ct_lung": "BAMF-Lung-CT",
    "bamf_pet_ct_lung_tumor": "BAMF-Lung-FDG-PET-CT",
    "bamf_pet_ct_breast_tumor": "BAMF-Breast-FDG-PET-CT",
    "bamf_nnunet_ct_kidney": "BAMF-Kidney-CT",
    "bamf_nnunet_mr_prostate": "BAMF-Prostate-MR",
    "bamf_nnunet_ct_liver": "BAMF-Liver-CT",
    "bamf_nnunet_mr_liver": "BAMF-Liver-MR",
}
SEGMENTS = {
    "bamf_nnunet_ct_lung": {"LUNG", "LUNG_NODULE"},
    "bamf_pet_ct_lung_tumor": {"LUNG", "FDG_AVID_LUNG_TUMOR"},
    "bamf_pet_ct_breast_tumor": {"FDG_AVID_BREAST_TUMOR"},
    "bamf_nnunet_ct_kidney": {"KIDNEY", "KIDNEY_TUMOR", "KIDNEY_CYST"},
    "bamf_nnunet_mr_prostate": {"PROSTATE"},
    "bamf_nnunet_ct_liver": {"LIVER"},
    "bamf_nnunet_mr_liver": {"LIVER"},
}
"""The segments of each model (the table of the task and paper 002)."""

SMALL_CT = {"shape": (20, 48, 48), "spacing": (6.0, 6.0, 6.0)}


def set_intensity_bands(fold_dir: Path, classes: Sequence[int], thresholds: Sequence[float], channel: int = 0) -> None:
    """Make a tiny nnU-Net v1 fold label voxels by intensity bands of input ``channel``.

    The first convolution copies ``+x`` and ``-x`` of the channel into two features, each later block passes
    on their difference (re-z-scored by its instance norm) and a third feature is held at 1 by the norm's bias;
    the deep path is ignored.  The output layer scores class ``classes[k]`` with slope ``k`` and offsets that
    make it win between ``thresholds[k - 1]`` and ``thresholds[k]`` (z-score units, dark to bright); classes
    not listed never win.
    """
    import torch

    if len(thresholds) != len(classes) - 1 or list(thresholds) != sorted(thresholds):
        raise ValueError("need one increasing threshold between consecutive classes")
    path = fold_dir / "model_final_checkpoint.model"
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    state = checkpoint["state_dict"]

    def block(prefix: str, routes: dict[int, list[tuple[int, float]]]) -> None:
        weight = torch.zeros_like(state[f"{prefix}.conv.weight"])
        for out, terms in routes.items():
            for source, sign in terms:
                weight[out, source, 1, 1, 1] = sign
        state[f"{prefix}.conv.weight"] = weight
        state[f"{prefix}.conv.bias"] = torch.zeros_like(state[f"{prefix}.conv.bias"])
        state[f"{prefix}.instnorm.weight"] = torch.ones_like(state[f"{prefix}.instnorm.weight"])
        bias = torch.zeros_like(state[f"{prefix}.instnorm.bias"])
        bias[2] = 1.0
        state[f"{prefix}.instnorm.bias"] = bias

    difference = {0: [(0, 1.0), (1, -1.0)], 1: [(1, 1.0), (0, -1.0)]}
    block("conv_blocks_context.0.blocks.0", {0: [(channel, 1.0)], 1: [(channel, -1.0)]})
    block("conv_blocks_context.0.blocks.1", difference)
    last = max(int(k.split(".")[1]) for k in state if k.startswith("conv_blocks_localization."))
    skip = state[f"conv_blocks_localization.{last}.0.blocks.0.conv.weight"].shape[1] // 2
    block(f"conv_blocks_localization.{last}.0.blocks.0",
          {0: [(skip, 1.0), (skip + 1, -1.0)], 1: [(skip + 1, 1.0), (skip, -1.0)]})
    block(f"conv_blocks_localization.{last}.1.blocks.0", difference)
    output = max((k for k in state if k.startswith("seg_outputs.")), key=lambda k: int(k.split(".")[1]))
    weight = torch.zeros_like(state[output])
    weight[:, 2] = -100.0
    offset = 0.0
    for slope, label in enumerate(classes):
        offset -= thresholds[slope - 1] if slope else 0.0
        weight[label, 0], weight[label, 1], weight[label, 2] = float(slope), -float(slope), offset
    state[output] = weight
    torch.save(checkpoint, path)


def tiny_v1_model(results: Path, task: str, num_classes: int, bands: Sequence[tuple[Sequence[int], Sequence[float]]],
                  channel: int = 0, modalities: Sequence[str] = ("CT",)) -> Path:
    """A tiny nnU-Net v1 model folder with one fold per entry of ``bands`` (classes, thresholds)."""
    folder = write_nnunet_v1_model(results, num_classes, task=task, folds=tuple(range(len(bands))),
                                   modalities=modalities)
    for fold, (classes, thresholds) in enumerate(bands):
        set_intensity_bands(folder / f"fold_{fold}", classes, thresholds, channel)
    return folder


def local_weights(steps: Sequence[str], results: Path) -> list[str]:
    """``--set`` arguments pointing runner steps (or modules) at a local results folder instead of mhub.toml."""
    args = []
    for step in steps:
        args += ["--set", f"{step}.weights=null", "--set", f"{step}.results_folder={results}"]
    return args


def run_model(model: str, input_dir: Path, tmp_path: Path, *extra: str, env: dict[str, str] | None = None):
    """Run ``model`` with the CLI, keeping the work folder; return (exit code, output, report, work, log)."""
    out, work = tmp_path / "out", tmp_path / "work"
    done = run_mhub("run", "--model", model, "--input", input_dir, "--output", out, "--work-dir", work,
                    "--keep-work", *extra, env=env)
    report = read_report(out) if (out / "mhub_report.json").is_file() else None
    return done.returncode, out, report, work, done.stdout


def final_label_map(work: Path, step: str) -> sitk.Image:
    """The label map written by ``step`` (the one the SegEncoder encodes)."""
    (path,) = sorted(work.rglob(f"{step}.segmentation.nii*"))
    return sitk.ReadImage(str(path))


def single_fold_label_map(results: Path, task: str, label_map: dict[int, str], fold: int, work: Path,
                          tmp_path: Path) -> np.ndarray:
    """What one fold of ``task`` predicts (post-processed) for the CT the workflow converted into ``work``."""
    (ct,) = sorted(work.rglob("NiftiConverter.nifti.nii*"))
    scratch = tmp_path / f"fold{fold}"
    context = RunContext(scratch, scratch / "out", scratch / "work", ModelInfo("fold", "0", scratch), None)
    params = NnunetV1Runner.Params(results_folder=str(results), task=task, label_map=label_map, folds=[fold],
                                   use_mirroring=False, device="cpu")
    runner = NnunetV1Runner(f"fold{fold}", params, context)
    target = DataItem(FileType.NIFTI, scratch / "fold.nii.gz", {"mod": "seg"})
    runner.preflight()
    runner.ensure_setup()
    runner.process(Instance("1.2.826.0.1.3680043.8.498.1", {"Modality": "CT"}, scratch / "work"),
                   {"image": DataItem(FileType.NIFTI, ct, {"mod": "ct"})}, {"segmentation": target})
    return sitk.GetArrayFromImage(sitk.ReadImage(str(target.path)))


def check_seg(model: str, seg_path: Path, source_files: Sequence[Path], label_map: sitk.Image,
              table: dict[int, str]) -> dict[str, int]:
    """Validate a model's SEG: dciodvfy, algorithm, codes of the table, references, voxel counts."""
    assert dciodvfy_errors(seg_path) == []
    seg = hd.seg.segread(seg_path)
    counts = seg_label_counts(seg_path)
    assert set(counts) <= SEGMENTS[model], counts
    assert counts and all(counts.values()), counts
    array = sitk.GetArrayFromImage(label_map)
    expected = {segment: int(np.count_nonzero(array == value)) for value, segment in table.items()}
    assert counts == {s: n for s, n in expected.items() if n}
    for number in seg.segment_numbers:
        description = seg.get_segment_description(number)
        definition = get_segment(description.tracking_id)
        assert description.segment_label == definition.label
        assert description.algorithm_type.value == "AUTOMATIC"
        assert description.algorithm_identification[0].AlgorithmName == ALGORITHMS[model]
        for attribute, code in (("segmented_property_category", definition.category),
                                ("segmented_property_type", definition.type)):
            got = getattr(description, attribute)
            assert (got.value, got.scheme_designator) == (code.value, code.scheme_designator)
    sources = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in source_files}
    referenced = {item.ReferencedSOPInstanceUID
                  for series in seg.ReferencedSeriesSequence for item in series.ReferencedInstanceSequence}
    assert referenced == sources
    return counts


def single_output(out: Path, model: str, report: dict) -> Path:
    (series,) = report["series"]
    assert series["status"] == "done", series
    (seg_path,) = sorted(out.glob(f"*/{model}.seg.dcm"))
    assert seg_path.parent.name == series["series_uid"]
    return seg_path


@pytest.fixture(scope="module")
def ct_input(tmp_path_factory):
    root = tmp_path_factory.mktemp("ct")
    return write_ct_series(root / "in", seed=2, **SMALL_CT)


@pytest.fixture(scope="module")
def mr_input(tmp_path_factory):
    root = tmp_path_factory.mktemp("mr")
    return write_mr_series(root / "in", shape=(20, 48, 48), spacing=(5.0, 5.0, 6.0), seed=2)


@pytest.mark.parametrize("model", sorted(ALGORITHMS))
def test_workflow_validates(model: str) -> None:
    done = run_mhub("check-config", "--model", model)
    assert done.returncode == 0, done.stdout
    assert f"valid ({model} 1.0.0)" in done.stdout


@pytest.mark.parametrize("model", sorted(ALGORITHMS))
def test_model_folder_passes_contributor_checks(model: str) -> None:
    done = run_mhub("check-model", model)
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize("model", sorted(ALGORITHMS))
def test_unrecorded_weights_stop_the_run(model: str, ct_input, tmp_path: Path) -> None:
    code, _, report, _, log = run_model(model, ct_input.directory, tmp_path, "--weights-dir", tmp_path / "weights")
    assert code == 6, log
    assert "no sha256 is recorded" in report["error"]


def test_mis_wired_post_processing_is_a_config_error(tmp_path: Path) -> None:
    model_dir = Path(__file__).parents[2] / "models/bamf_nnunet_ct_kidney"
    # edited copies in a model folder of their own, so they keep the model's identity (mhub.toml)
    (tmp_path / "config").mkdir()
    shutil.copy(model_dir / "mhub.toml", tmp_path / "mhub.toml")
    config = tmp_path / "config" / "kidney.yml"
    text = (model_dir / "config/default.yml").read_text()
    config.write_text(text.replace('"nifti:mod=seg:fold=ensemble:roi=KIDNEY"}', '"nifti:mod=seg:roi=LUNG_NODULE"}', 1))
    done = run_mhub("check-config", config)
    assert done.returncode == 2, done.stdout
    assert "two_largest" in done.stdout and "LUNG_NODULE" in done.stdout
    unknown_label = run_mhub("check-config", "--model", "bamf_nnunet_ct_kidney",
                             "--set", "KeepLargestComponents.labels=[KIDNEY, KIDNEY_STONE]")
    assert unknown_label.returncode == 2, unknown_label.stdout
    assert "KIDNEY_STONE" in unknown_label.stdout
    step = ('  - module: KeepLargestComponents\n    id: two_largest\n'
            '    inputs: {segmentation: "nifti:mod=seg:fold=ensemble:roi=KIDNEY"}\n')
    assert step in text
    dropped = tmp_path / "config" / "no_post_processing.yml"
    params = "  KeepLargestComponents:\n    labels: [KIDNEY, KIDNEY_TUMOR, KIDNEY_CYST]\n    k: 2\n    union: true\n"
    assert params in text
    dropped.write_text(text.replace(step, "").replace(params, ""))
    missing_step = run_mhub("check-config", dropped)
    assert missing_step.returncode == 2, missing_step.stdout
    assert "processed=two_largest" in missing_step.stdout and "configured but no step" not in missing_step.stdout


@pytest.mark.slow
@pytest.mark.parametrize("model, classes, thresholds", [
    ("bamf_nnunet_ct_liver", [0, 1], [0.5]),
    ("bamf_nnunet_mr_liver", [0, 1], [0.5]),
    ("bamf_nnunet_mr_prostate", [0, 1], [1.0]),
])
def test_single_model_on_generated_series(model, classes, thresholds, ct_input, mr_input, tmp_path: Path) -> None:
    series = mr_input if "_mr_" in model else ct_input
    task = {"bamf_nnunet_ct_liver": "Task773_Liver", "bamf_nnunet_mr_liver": "Task822_Liver_AMD",
            "bamf_nnunet_mr_prostate": "Task788_ProstateX"}[model]
    segment = "PROSTATE" if "prostate" in model else "LIVER"
    tiny_v1_model(tmp_path / "results", task, 1, [(classes, thresholds)],
                  modalities=("MR",) if "_mr_" in model else ("CT",))
    code, out, report, work, log = run_model(
        model, series.directory, tmp_path, *local_weights(["NnunetV1Runner"], tmp_path / "results"),
        "--set", "NnunetV1Runner.use_mirroring=false")
    assert code == 0, log
    seg_path = single_output(out, model, report)
    processed = "centermost" if "prostate" in model else "largest"
    labels = final_label_map(work, processed)
    raw = sitk.GetArrayFromImage(final_label_map(work, "NnunetV1Runner"))
    array = sitk.GetArrayFromImage(labels)
    assert 0 < np.count_nonzero(array) <= np.count_nonzero(raw)
    components = sitk.GetArrayFromImage(sitk.ConnectedComponent(labels, True))
    assert components.max() == 1
    counts = check_seg(model, seg_path, series.files, labels, {1: segment})
    assert counts == {segment: int(np.count_nonzero(array))}


@pytest.mark.slow
def test_kidney_votes_folds_and_keeps_two_components(ct_input, tmp_path: Path) -> None:
    agree = ([0, 3, 1, 2], [-0.3, 0.6, 1.4])
    dissent = ([0, 2], [-0.5])
    tiny_v1_model(tmp_path / "results", "Task779_Kidneys_KIRC", 3, [agree, agree, agree, agree, dissent])
    model = "bamf_nnunet_ct_kidney"
    code, out, report, work, log = run_model(
        model, ct_input.directory, tmp_path, *local_weights(["NnunetV1Runner"], tmp_path / "results"),
        "--set", "NnunetV1Runner.use_mirroring=false")
    assert code == 0, log
    seg_path = single_output(out, model, report)
    table = {1: "KIDNEY", 2: "KIDNEY_TUMOR", 3: "KIDNEY_CYST"}
    fold0, fold4 = (single_fold_label_map(tmp_path / "results", "Task779_Kidneys_KIRC", table, k, work, tmp_path)
                    for k in (0, 4))
    vote = sitk.GetArrayFromImage(final_label_map(work, "vote"))
    assert not np.array_equal(fold0, fold4)
    assert np.array_equal(vote, fold0)
    labels = final_label_map(work, "two_largest")
    kept = sitk.GetArrayFromImage(labels)
    union = sitk.GetArrayFromImage(sitk.ConnectedComponent(sitk.GetImageFromArray((vote > 0).astype(np.uint8))))
    sizes = np.bincount(union.ravel())[1:]
    largest = np.argsort(sizes)[::-1][:2] + 1
    assert np.array_equal(kept > 0, np.isin(union, largest))
    assert np.array_equal(kept[kept > 0], vote[kept > 0])
    counts = check_seg(model, seg_path, ct_input.files, labels, {1: "KIDNEY", 2: "KIDNEY_TUMOR", 3: "KIDNEY_CYST"})
    assert set(counts) == {"KIDNEY", "KIDNEY_TUMOR", "KIDNEY_CYST"}


@pytest.fixture(scope="module")
def chest_ct_with_nodules(tmp_path_factory):
    """The CT phantom with a calcified nodule (6.5 mm radius, 1500 HU) at the centre of each lung.

    The air around the body is replaced by fat so that the darkest band of the tiny lung model is the lungs.
    """
    phantom = make_ct_phantom(SMALL_CT["shape"], SMALL_CT["spacing"], seed=2)
    image = phantom.image.copy()
    image[phantom.labels == 0] = -100.0
    spacing = np.array(phantom.spacing[::-1])
    indices = np.indices(image.shape).reshape(3, -1).T * spacing
    for segment in ("LEFT_LUNG", "RIGHT_LUNG"):
        centre = np.argwhere(phantom.mask(segment)).mean(axis=0) * spacing
        inside = (np.linalg.norm(indices - centre, axis=1) <= 6.5).reshape(image.shape)
        image[inside] = 1500.0
    root = tmp_path_factory.mktemp("chest")
    return write_ct_series(root / "in", phantom=replace(phantom, image=image), seed=2)


@pytest.mark.slow
def test_lung_ct_keeps_nodules_touching_lungs_within_3_to_30_mm(chest_ct_with_nodules, tmp_path: Path) -> None:
    series = chest_ct_with_nodules
    tiny_v1_model(tmp_path / "lungs", "Task775_CT_NSCLC_RG", 1, [([1, 0], [-0.3])] * 5)
    tiny_v1_model(tmp_path / "nodules", "Task777_CT_Nodules", 1, [([0, 1], [2.0])] * 5)
    model = "bamf_nnunet_ct_lung"
    args = local_weights(["vote_lungs"], tmp_path / "lungs") + local_weights(["vote_nodules"], tmp_path / "nodules")
    code, out, report, work, log = run_model(model, series.directory, tmp_path, *args)
    assert code == 0, log
    seg_path = single_output(out, model, report)
    lungs = sitk.GetArrayFromImage(final_label_map(work, "lungs")) > 0
    before = final_label_map(work, "vote_nodules")
    after = final_label_map(work, "nodule_diameter")
    spacing = np.array(after.GetSpacing()[::-1])
    near_lungs = ndimage.binary_dilation(lungs, np.ones((3, 3, 3), bool))
    kept = sitk.GetArrayFromImage(sitk.ConnectedComponent(after, True))
    assert kept.max() >= 1
    for index in range(1, int(kept.max()) + 1):
        voxels = np.argwhere(kept == index)
        assert near_lungs[tuple(voxels.T)].any()
        corners = (voxels[:, None, :] + np.array([[a, b, c] for a in (-.5, .5) for b in (-.5, .5) for c in (-.5, .5)]))
        points = corners.reshape(-1, 3) * spacing
        extent = max(np.linalg.norm(points - p, axis=1).max() for p in points)
        assert 3.0 <= extent <= 30.0 + 1e-6
    assert np.count_nonzero(sitk.GetArrayFromImage(before)) > np.count_nonzero(kept)
    labels = final_label_map(work, "combine")
    counts = check_seg(model, seg_path, series.files, labels, {1: "LUNG", 2: "LUNG_NODULE"})
    assert set(counts) == {"LUNG", "LUNG_NODULE"}


@pytest.mark.slow
@pytest.mark.heavy
def test_liver_ct_on_real_ct(tmp_path: Path) -> None:
    if not REAL_CT.is_dir():
        pytest.skip("shared real CT not present")
    model = "bamf_nnunet_ct_liver"
    tiny_v1_model(tmp_path / "results", "Task773_Liver", 1, [([0, 1], [0.5])])
    code, out, report, work, log = run_model(
        model, REAL_CT, tmp_path, *local_weights(["NnunetV1Runner"], tmp_path / "results"),
        "--set", "NnunetV1Runner.use_mirroring=false")
    assert code == 0, log
    seg_path = single_output(out, model, report)
    files = sorted(p for p in REAL_CT.rglob("*") if p.is_file() and pydicom.misc.is_dicom(p))
    check_seg(model, seg_path, files, final_label_map(work, "largest"), {1: "LIVER"})
