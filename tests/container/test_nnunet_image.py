"""An nnU-Net v2 model image (demo_nnunet with tiny untrained weights) built offline and run hardened."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
import yaml

from mhubio.containers import ImageBuild, build_model, run_image
from mhubio.core.exitcodes import ExitCode
from mhubio.synthetic.demo import write_demo_dataset

from .conftest import REPO, TEST_TAG, readable_by_all

pytestmark = [pytest.mark.container, pytest.mark.slow, pytest.mark.torch]

MODEL = "demo_nnunet"
LABELS = {"left_lung": 1, "right_lung": 2, "heart": 3, "aorta": 4}


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkout holding only what the image build reads, with demo_nnunet's weights replaced by a tiny
    untrained network in the layout its default workflow reads (so the test does not depend on the trained
    weights)."""
    from tests.support.nnunet import write_nnunet_v2_model

    repo = tmp_path_factory.mktemp("repo")
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy(REPO / name, repo / name)
    shutil.copytree(REPO / "base", repo / "base")
    model = repo / "models" / MODEL
    shutil.copytree(REPO / "models" / MODEL, model, ignore=shutil.ignore_patterns("weights", "__pycache__"))
    runner = yaml.safe_load((model / "config" / "default.yml").read_text())["modules"]["NnunetV2Runner"]
    write_nnunet_v2_model(
        model / runner["results_folder"], LABELS, dataset_name=runner["dataset"],
        configuration=runner["configuration"], folds=runner["folds"], features=(4, 8, 16), seed=7,
    )
    return repo


@pytest.fixture(scope="module")
def nnunet_image(base_image: ImageBuild, tiny_repo: Path) -> ImageBuild:
    return build_model(
        MODEL, tiny_repo, base_image=base_image.tag, offline=True, tag=f"mhub-test/demo_nnunet:{TEST_TAG}"
    )


@pytest.fixture(scope="module")
def ct_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ct") / "input"
    write_demo_dataset(folder, "ct", n_series=1, seed=5)
    return readable_by_all(folder)


def _seg_frames(output_dir: Path) -> tuple[list[str], np.ndarray]:
    """Segment labels and pixel frames of the one SEG under ``output_dir``."""
    (seg,) = [p for p in output_dir.rglob("*.dcm") if pydicom.dcmread(p, stop_before_pixels=True).Modality == "SEG"]
    dataset = pydicom.dcmread(seg)
    return [s.SegmentLabel for s in dataset.SegmentSequence], dataset.pixel_array


def test_image_matches_the_native_run(
    nnunet_image: ImageBuild, tiny_repo: Path, ct_input: Path, output_dir: Path, run_user: tuple[int, int],
    tmp_path: Path,
):
    result = run_image(nnunet_image.tag, ct_input, output_dir, user=run_user, timeout=900)
    assert result.returncode == ExitCode.SUCCESS, result.stdout + result.stderr
    assert {(p.stat().st_uid, p.stat().st_gid) for p in output_dir.rglob("*")} == {run_user}

    native_out = tmp_path / "native"
    native = subprocess.run(
        [sys.executable, "-m", "mhubio", "run", "--model", MODEL, "--input", str(ct_input),
         "--output", str(native_out), "--quiet"],
        env={**os.environ, "MHUB_MODELS_DIR": str(tiny_repo / "models")}, cwd=REPO, capture_output=True, text=True,
        check=False,
    )
    assert native.returncode == ExitCode.SUCCESS, native.stderr
    image_labels, image_frames = _seg_frames(output_dir)
    native_labels, native_frames = _seg_frames(native_out)
    assert image_labels and image_labels == native_labels
    np.testing.assert_array_equal(image_frames, native_frames)
