"""The thresholder image built offline and run hardened (no network, read-only, unprivileged)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pydicom
import pytest

from mhubio.containers import ImageBuild, docker, image_labels, run_image
from mhubio.core.exitcodes import ExitCode
from mhubio.synthetic.demo import write_demo_dataset

from .conftest import REPO, readable_by_all

pytestmark = [pytest.mark.container, pytest.mark.slow]


@pytest.fixture(scope="module")
def ct_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One synthetic CT series."""
    folder = tmp_path_factory.mktemp("ct") / "input"
    write_demo_dataset(folder, "ct", n_series=1, seed=3)
    return readable_by_all(folder)


def _native_exit_code(input_dir: Path, output_dir: Path, *args: str) -> int:
    """Exit code of the same run with the ``mhub`` command outside the container."""
    return subprocess.run(
        [sys.executable, "-m", "mhubio", "run", "--model", "thresholder", "--input", str(input_dir),
         "--output", str(output_dir), "--quiet", *args],
        cwd=REPO, capture_output=True, check=False,
    ).returncode


def test_labels_carry_name_version_and_weights(thresholder_image: ImageBuild):
    manifest = tomllib.loads((REPO / "models" / "thresholder" / "mhub.toml").read_text())
    labels = image_labels(thresholder_image.tag)
    assert labels["org.mhub.model"] == "thresholder"
    assert labels["org.opencontainers.image.version"] == manifest["model"]["version"]
    assert json.loads(labels["org.mhub.weights"]) == []


def test_hardened_run_writes_valid_seg_owned_by_caller(
    thresholder_image: ImageBuild, ct_input: Path, output_dir: Path, run_user: tuple[int, int]
):
    result = run_image(thresholder_image.tag, ct_input, output_dir, user=run_user, timeout=600)
    assert result.returncode == ExitCode.SUCCESS, result.stdout + result.stderr
    written = [p for p in output_dir.rglob("*")]
    assert written
    assert {(p.stat().st_uid, p.stat().st_gid) for p in written} == {run_user}
    segs = [p for p in output_dir.rglob("*.dcm") if pydicom.dcmread(p, stop_before_pixels=True).Modality == "SEG"]
    assert len(segs) == 1
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (dicom3tools) is not installed")
    check = subprocess.run(["dciodvfy", str(segs[0])], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    assert "Error" not in check.stderr


def test_other_workflow_is_picked_by_argument(
    thresholder_image: ImageBuild, ct_input: Path, output_dir: Path, run_user: tuple[int, int]
):
    result = run_image(thresholder_image.tag, ct_input, output_dir, user=run_user, workflow="labelmap", timeout=600)
    assert result.returncode == ExitCode.SUCCESS, result.stdout + result.stderr
    seg = next(output_dir.rglob("*.dcm"))
    assert pydicom.dcmread(seg, stop_before_pixels=True).SegmentationType == "LABELMAP"


@pytest.mark.parametrize(
    ("make_input", "args", "expected"),
    [
        pytest.param(lambda d: None, (), ExitCode.NO_INPUT, id="empty-input"),
        pytest.param(lambda d: (d / "notes.txt").write_text("no DICOM here"), (), ExitCode.NO_INPUT, id="no-dicom"),
        pytest.param(lambda d: None, ("--workflow", "missing"), ExitCode.CONFIG_ERROR, id="unknown-workflow"),
    ],
)
def test_bad_input_gives_the_cli_exit_code(
    thresholder_image: ImageBuild, tmp_path: Path, output_dir: Path, run_user: tuple[int, int],
    make_input, args, expected,
):
    input_dir = tmp_path / "input"
    input_dir.mkdir()
    make_input(input_dir)
    readable_by_all(input_dir)
    result = run_image(thresholder_image.tag, input_dir, output_dir, user=run_user, args=args, timeout=600)
    native = _native_exit_code(input_dir, tmp_path / "native-output", *args)
    assert result.returncode == native == expected, result.stdout + result.stderr


def test_base_image_without_model_is_a_usage_error(base_image: ImageBuild):
    result = docker("run", "--rm", "--network", "none", "--read-only", base_image.tag, check=False)
    assert result.returncode == ExitCode.CONFIG_ERROR
    assert "MHUB_MODEL" in result.stderr


def test_base_image_has_the_dask_worker(base_image: ImageBuild):
    result = docker(
        "run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp", "--entrypoint", "dask",
        base_image.tag, "worker", "--help", check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "SCHEDULER" in result.stdout


def test_runtime_writes_go_to_tmp(thresholder_image: ImageBuild):
    env = dict(
        item.split("=", 1)
        for item in json.loads(
            docker("image", "inspect", "--format", "{{json .Config.Env}}", thresholder_image.tag).stdout
        )
    )
    for variable in ("HOME", "TMPDIR", "MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        assert env[variable].startswith("/tmp"), variable
    assert env["MHUB_MODEL"] == "thresholder"
    assert env["MHUB_MODELS_DIR"] == "/app/models"
    user = docker("image", "inspect", "--format", "{{.Config.User}}", thresholder_image.tag).stdout.strip()
    assert user == "1000:1000"


def test_model_test_cases_pass_in_the_image(thresholder_image: ImageBuild):
    from mhubio.modeltest import load_test_cases, run_case

    cases = load_test_cases(REPO / "models" / "thresholder")
    assert cases
    for case in cases:
        result = run_case("thresholder", case, image=thresholder_image.tag)
        assert result.passed, result.problems
        assert result.compared
