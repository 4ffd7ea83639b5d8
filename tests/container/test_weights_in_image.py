"""Weights of an air-gapped build: copied from a local folder, sha256-checked, recorded in the image labels."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from mhubio.containers import DockerError, ImageBuild, build_model, docker, image_labels

from .conftest import REPO, TEST_TAG

pytestmark = [pytest.mark.container, pytest.mark.slow]

MODEL = "tinyweights"


def _repo_with_weighted_model(root: Path, sha256: str) -> Path:
    """A checkout with one model made from ``models/_template`` whose weights archive has ``sha256``."""
    repo = root / "repo"
    model = repo / "models" / MODEL
    model.mkdir(parents=True)
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy(REPO / name, repo / name)
    shutil.copytree(REPO / "base", repo / "base")
    template = REPO / "models" / "_template"
    shutil.copy(template / "requirements.txt", model / "requirements.txt")
    (model / "mhub.toml").write_text(
        f'[model]\nname = "{MODEL}"\nversion = "0.3.0"\n\n'
        f'[[weights]]\nname = "net"\nurl = "https://example.org/records/1/files/net.zip"\n'
        f'sha256 = "{sha256}"\narchive = "zip"\ntarget = "{MODEL}"\n'
    )
    return repo


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A folder holding the weights archive ``net.zip``, and the archive's sha256."""
    folder = tmp_path_factory.mktemp("downloads")
    with zipfile.ZipFile(folder / "net.zip", "w") as zf:
        zf.writestr("model/weights.bin", b"\x00\x01" * 1000)
        zf.writestr("model/config.json", json.dumps({"layers": 3}))
    return folder, hashlib.sha256((folder / "net.zip").read_bytes()).hexdigest()


def test_offline_weights_are_installed_verified_and_labelled(
    base_image: ImageBuild, archive: tuple[Path, str], tmp_path: Path
):
    downloads, sha256 = archive
    repo = _repo_with_weighted_model(tmp_path, sha256)
    build = build_model(
        MODEL, repo, base_image=base_image.tag, offline=True, weights_dir=downloads,
        tag=f"mhub-test/{MODEL}:{TEST_TAG}",
    )
    labels = image_labels(build.tag)
    assert json.loads(labels["org.mhub.weights"]) == [
        {"name": "net", "sha256": sha256, "url": "https://example.org/records/1/files/net.zip"}
    ]
    assert labels["org.opencontainers.image.version"] == "0.3.0"
    verify = docker(
        "run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp", "--user", "4321:4321",
        "--entrypoint", "mhub", build.tag, "weights", "verify", MODEL, check=False,
    )
    assert verify.returncode == 0, verify.stderr
    listing = docker("run", "--rm", "--entrypoint", "find", build.tag, f"/app/weights/{MODEL}", "-type", "f").stdout
    assert f"/app/weights/{MODEL}/model/weights.bin" in listing.split()


def test_weights_not_matching_their_sha256_fail_the_build(
    base_image: ImageBuild, archive: tuple[Path, str], tmp_path: Path
):
    downloads, _ = archive
    repo = _repo_with_weighted_model(tmp_path, "0" * 64)
    with pytest.raises(DockerError, match="sha256"):
        build_model(MODEL, repo, base_image=base_image.tag, offline=True, weights_dir=downloads,
                    tag=f"mhub-test/{MODEL}:{TEST_TAG}-bad")
