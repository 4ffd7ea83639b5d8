"""nnU-Net models through the whole chain: DICOM in, DICOM SEG out (validated and read back)."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pytest
import SimpleITK as sitk

from mhubio.core.config import models_root, workflow_path
from mhubio.core.filetypes import FileType
from mhubio.core.runner import RunOptions, run_workflow
from mhubio.modules.runners.nnunet_v2 import NnunetV2Runner
from mhubio.segdb import get_segment
from mhubio.synthetic import write_ct_series
from tests.helpers import REAL_CT, REPO, dciodvfy_errors, read_report, run_mhub, seg_label_counts
from tests.support.nnunet import write_nnunet_v1_model

SEGTHOR_IDS = ["ESOPHAGUS", "HEART", "TRACHEA", "AORTA"]
DEMO_IDS = ["LEFT_LUNG", "RIGHT_LUNG", "HEART", "AORTA"]


def _real_ct() -> Path:
    """The shared real CT, also from a worktree nested below the repository's parent folder."""
    candidates = [REAL_CT, *(parent / "shared" / "data" / REAL_CT.name for parent in REPO.parents)]
    found = next((path for path in candidates if path.is_dir()), None)
    if found is None:
        pytest.skip("shared real CT not present")
    return found


def _run(model: str, input_dir: Path, tmp_path: Path, *extra: str, workflow: str = "default") -> dict:
    out, work = tmp_path / "out", tmp_path / "work"
    done = run_mhub("run", "--model", model, "--workflow", workflow, "--input", input_dir, "--output", out,
                    "--work-dir", work, "--keep-work", *extra)
    assert done.returncode == 0, done.stdout
    return read_report(out)


def _check_seg(tmp_path: Path, model: str, runner_step: str, allowed: list[str]) -> hd.seg.Segmentation:
    """The one SEG is valid, names only allowed segments, and holds exactly the runner's label map."""
    (seg_path,) = sorted((tmp_path / "out").glob(f"*/{model}.seg.dcm"))
    assert dciodvfy_errors(seg_path) == []
    seg = hd.seg.segread(seg_path)
    (label_path,) = sorted((tmp_path / "work").rglob(f"{runner_step}.segmentation{FileType.NIFTI.suffix}"))
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(label_path)))
    expected = {name: int(np.count_nonzero(labels == value)) for value, name in enumerate(allowed, start=1)}
    expected = {name: count for name, count in expected.items() if count}
    assert expected, "the model segmented nothing"
    assert seg_label_counts(seg_path) == expected
    for number in seg.segment_numbers:
        description = seg.get_segment_description(number)
        segment = get_segment(description.tracking_id)
        assert description.segmented_property_type == segment.type
        assert description.algorithm_type == hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC
    return seg


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / max(1, np.count_nonzero(a) + np.count_nonzero(b))


@pytest.fixture(scope="module")
def tiny_segthor_results(tmp_path_factory) -> Path:
    """A tiny Task055_SegTHOR in the v1 layout with the five folds and three configurations of the real one."""
    root = tmp_path_factory.mktemp("segthor_v1")
    for configuration in ("3d_fullres", "3d_lowres", "2d"):
        write_nnunet_v1_model(root, 4, task="Task055_SegTHOR", configuration=configuration, folds=range(5),
                              postprocessing_classes=(1, 2, 3, 4))
    return root


def _tiny_weights(results: Path) -> list[str]:
    return ["--set", "NnunetV1Runner.weights=null", "--set", f"NnunetV1Runner.results_folder={results}"]


@pytest.mark.slow
def test_workflows_are_valid():
    for model in ("demo_nnunet", "nnunet_segthor"):
        for path in sorted((models_root() / model / "config").glob("*.yml")):
            done = run_mhub("check-config", "--model", model, "--workflow", path.stem)
            assert done.returncode == 0, done.stdout


@pytest.mark.slow
def test_segthor_without_installed_weights_fails_loudly(tmp_path):
    series = write_ct_series(tmp_path / "in", shape=(8, 32, 32), seed=1)
    done = run_mhub("run", "--model", "nnunet_segthor", "--input", series.directory, "--output", tmp_path / "out",
                    "--weights-dir", tmp_path / "weights")
    assert done.returncode == 6, done.stdout
    assert "no sha256 is recorded" in done.stdout


@pytest.mark.slow
def test_wrong_label_map_is_a_configuration_error(tmp_path):
    series = write_ct_series(tmp_path / "in", shape=(8, 32, 32), seed=1)
    done = run_mhub("run", "--model", "demo_nnunet", "--input", series.directory, "--output", tmp_path / "out",
                    "--set", "NnunetV2Runner.label_map={1: RIGHT_LUNG, 2: LEFT_LUNG, 3: HEART, 4: AORTA}")
    assert done.returncode == 2, done.stdout
    assert "label 1 is 'left_lung' in the model but label_map says RIGHT_LUNG" in done.stdout
    assert not list((tmp_path / "out").rglob("*.dcm"))


@pytest.mark.slow
def test_demo_model_on_generated_ct(tmp_path):
    series = write_ct_series(tmp_path / "in", shape=(48, 112, 112), spacing=(0.9, 0.9, 3.0), seed=21)
    report = _run("demo_nnunet", series.directory, tmp_path)
    (result,) = report["series"]
    assert result["status"] == "done", result
    seg = _check_seg(tmp_path, "demo_nnunet", "NnunetV2Runner", DEMO_IDS)
    assert "DEMO" in seg.SeriesDescription and "not clinical" in seg.SeriesDescription
    algorithm = report["algorithms"]["NnunetV2Runner"]
    assert "not clinical" in algorithm["name"]
    assert any(k.endswith("fold_all/checkpoint_final.pth") for k in algorithm["weights"])
    (label_path,) = sorted((tmp_path / "work").rglob(f"NnunetV2Runner.segmentation{FileType.NIFTI.suffix}"))
    predicted = sitk.GetArrayFromImage(sitk.ReadImage(str(label_path)))
    # The demo model learned the lungs and the heart; the small aorta is not learned (see its meta.json).
    for value, segment in enumerate(DEMO_IDS[:3], start=1):
        assert _dice(predicted == value, series.phantom.mask(segment)) > 0.5, segment


@pytest.mark.slow
def test_demo_model_batch_loads_model_once(tmp_path):
    for index in range(3):
        write_ct_series(tmp_path / "in" / f"s{index}", shape=(24, 64, 64), seed=30 + index,
                        patient_id=f"MHUB-DEMO-{index:04d}")
    before = NnunetV2Runner.model_loads
    report = run_workflow(workflow_path("demo_nnunet"), RunOptions(tmp_path / "in", tmp_path / "out"))
    assert NnunetV2Runner.model_loads == before + 1
    assert report.exit_code == 0, report.error
    assert [i.status.value for i in report.instances] == ["done"] * 3
    assert len(list((tmp_path / "out").glob("*/demo_nnunet.seg.dcm"))) == 3


@pytest.mark.slow
def test_segthor_default_workflow_with_tiny_model(tmp_path, tiny_segthor_results):
    series = write_ct_series(tmp_path / "in", shape=(24, 64, 64), seed=5)
    report = _run("nnunet_segthor", series.directory, tmp_path, *_tiny_weights(tiny_segthor_results))
    (result,) = report["series"]
    assert result["status"] == "done", result
    seg = _check_seg(tmp_path, "nnunet_segthor", "NnunetV1Runner", SEGTHOR_IDS)
    algorithm = report["algorithms"]["NnunetV1Runner"]
    assert algorithm["name"] == "nnU-Net Task055 SegTHOR 3d_fullres"
    assert algorithm["parameters"]["use_mirroring"] == "True"
    assert algorithm["parameters"]["folds"] == "0,1,2,3,4"
    assert seg.SeriesDescription == "nnU-Net SegTHOR thoracic organs (3d_fullres)"


@pytest.mark.slow
@pytest.mark.heavy
def test_segthor_fast_workflow_on_real_ct(tmp_path, tiny_segthor_results):
    report = _run("nnunet_segthor", _real_ct(), tmp_path, *_tiny_weights(tiny_segthor_results), workflow="fast")
    (result,) = report["series"]
    assert result["status"] == "done", result
    _check_seg(tmp_path, "nnunet_segthor", "NnunetV1Runner", SEGTHOR_IDS)
    assert report["algorithms"]["NnunetV1Runner"]["parameters"]["configuration"] == "3d_lowres"


@pytest.mark.slow
@pytest.mark.heavy
def test_demo_model_on_real_ct(tmp_path):
    report = _run("demo_nnunet", _real_ct(), tmp_path)
    (result,) = report["series"]
    assert result["status"] == "done", result
    _check_seg(tmp_path, "demo_nnunet", "NnunetV2Runner", DEMO_IDS)
