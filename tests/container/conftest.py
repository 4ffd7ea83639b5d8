"""Fixtures of the container tests: a Docker daemon, the base image and model images built offline."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mhubio.containers import (
    LOCAL_BASE_IMAGE,
    DockerError,
    ImageBuild,
    build_base,
    build_model,
    daemon_available,
    docker,
    make_local_base,
)
from mhubio.containers.docker import docker_cli

REPO = Path(__file__).resolve().parents[2]

#: Tag of the test images, one per checkout, so that test runs of several checkouts on one daemon do not
#: retag each other's images between a build and its use.
TEST_TAG = hashlib.sha256(str(REPO).encode()).hexdigest()[:10]


def readable_by_all(folder: Path) -> Path:
    """Make ``folder`` readable by any uid, as a read-only input mount needs."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


#: Set to 1 to keep the test images after the session (a later run of the same checkout then reuses them).
KEEP_IMAGES_VARIABLE = "MHUB_KEEP_TEST_IMAGES"


def remove_test_images() -> None:
    """Remove this checkout's test images (``mhub-test/*:<TEST_TAG>...`` and the ``latest`` tags beside them).

    Each clone has its own tag, so without this every CI run on a new clone would leave about 6 GB behind.
    """
    listed = docker("image", "ls", "--filter", "reference=mhub-test/*", "--format", "{{.Repository}}:{{.Tag}}")
    ours = [ref for ref in listed.stdout.split() if ref.rsplit(":", 1)[1].startswith((TEST_TAG, "latest"))]
    if ours:
        docker("image", "rm", "--force", *ours, check=False)
    docker("image", "prune", "--force", check=False)


@pytest.fixture(scope="session")
def docker_daemon() -> Iterator[None]:
    """Skip unless a Docker daemon answers (``bash .ci/docker.sh`` as root starts one).

    After the session the test images are removed, unless ``MHUB_KEEP_TEST_IMAGES=1``.
    """
    try:
        docker_cli()
    except DockerError as exc:
        pytest.skip(f"no usable docker client: {exc}")
    if not daemon_available():
        pytest.skip("no Docker daemon answers: run `bash .ci/docker.sh` as root to install and start one")
    yield
    if os.environ.get(KEEP_IMAGES_VARIABLE) != "1":
        remove_test_images()


@pytest.fixture(scope="session")
def base_image(docker_daemon: None) -> ImageBuild:
    """The base image of this checkout, built offline on the local debootstrap image."""
    if os.geteuid() != 0 and docker("image", "inspect", LOCAL_BASE_IMAGE, check=False).returncode != 0:
        pytest.skip(f"{LOCAL_BASE_IMAGE} is missing and making it needs root: run `bash .ci/docker.sh` as root")
    os_image = make_local_base()
    return build_base(REPO, base_image=os_image.tag, tag=f"mhub-test/base:{TEST_TAG}", offline=True)


@pytest.fixture(scope="session")
def thresholder_image(base_image: ImageBuild) -> ImageBuild:
    """The thresholder image, built offline on :func:`base_image`."""
    return build_model(
        "thresholder", REPO, base_image=base_image.tag, tag=f"mhub-test/thresholder:{TEST_TAG}", offline=True
    )


@pytest.fixture
def run_user() -> tuple[int, int]:
    """uid and gid the images run as: this process's, or 1000:1000 when the tests run as root."""
    if os.geteuid() == 0:
        return (1000, 1000)
    return (os.getuid(), os.getgid())


@pytest.fixture
def output_dir(tmp_path: Path, run_user: tuple[int, int]) -> Path:
    """An empty output folder owned by :func:`run_user`."""
    out = tmp_path / "output"
    out.mkdir()
    os.chown(out, *run_user)
    return out
