"""Model images as a Dask cluster: scheduler, worker and caller each in a hardened thresholder container."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

from mhubio.containers import DockerError, ImageBuild, docker
from mhubio.core.exitcodes import ExitCode
from mhubio.synthetic.demo import write_demo_dataset

from .conftest import TEST_TAG, readable_by_all

pytestmark = [pytest.mark.container, pytest.mark.slow]

#: Options every container of the cluster runs with (the network is internal: no route out of it).
HARDENED = ("--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges")


@pytest.fixture
def network() -> Iterator[str]:
    """An internal Docker network for the cluster, removed afterwards with its containers."""
    name = f"mhub-test-{TEST_TAG}"
    docker("network", "create", "--internal", name)
    try:
        yield name
    finally:
        containers = docker("ps", "-aq", "--filter", f"network={name}").stdout.split()
        if containers:
            docker("rm", "--force", *containers, check=False)
        docker("network", "rm", name, check=False)


def _wait_for_log(container: str, text: str, timeout: float = 120) -> None:
    """Wait until ``text`` appears in the log of ``container``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = docker("logs", container, check=False)
        if text in logs.stdout + logs.stderr:
            return
        time.sleep(1)
    raise DockerError(f"{container} did not log {text!r} within {timeout} s:\n{logs.stderr[-2000:]}")


def test_series_run_on_a_dask_worker_in_the_image(
    thresholder_image: ImageBuild, network: str, tmp_path: Path, run_user: tuple[int, int]
):
    input_dir = tmp_path / "input"
    write_demo_dataset(input_dir, "ct", n_series=2, seed=11)
    readable_by_all(input_dir)
    output_dir, work_dir = tmp_path / "output", tmp_path / "work"
    for folder in (output_dir, work_dir):
        folder.mkdir()
        os.chown(folder, *run_user)
    user = ("--user", f"{run_user[0]}:{run_user[1]}")
    mounts = (
        "--volume", f"{input_dir}:/app/data/input_data:ro",
        "--volume", f"{output_dir}:/app/data/output_data",
        "--volume", f"{work_dir}:/app/work",
    )
    scheduler = f"mhub-test-scheduler-{TEST_TAG}"
    docker("run", "--detach", "--name", scheduler, "--network", network, *HARDENED, *user,
           "--entrypoint", "dask", thresholder_image.tag, "scheduler", "--port", "8786", "--no-dashboard")
    _wait_for_log(scheduler, "Scheduler at")
    worker = f"mhub-test-worker-{TEST_TAG}"
    docker("run", "--detach", "--name", worker, "--network", network, *HARDENED, *user, *mounts,
           "--entrypoint", "dask", thresholder_image.tag, "worker", f"tcp://{scheduler}:8786",
           "--nthreads", "1", "--nworkers", "1", "--no-dashboard")
    _wait_for_log(scheduler, "Register worker")

    run = docker("run", "--rm", "--network", network, *HARDENED, *user, *mounts, thresholder_image.tag,
                 "--scheduler", f"tcp://{scheduler}:8786", "--work-dir", "/app/work", check=False, timeout=900)
    assert run.returncode == ExitCode.SUCCESS, run.stdout + run.stderr
    segs = [p for p in output_dir.rglob("*.dcm") if pydicom.dcmread(p, stop_before_pixels=True).Modality == "SEG"]
    assert len(segs) == 2
    # The worker built the chain (its Dask worker plugin) and so ran the series, not the caller.
    assert "Starting Worker plugin mhub-chain" in docker("logs", worker).stderr
    assert {(p.stat().st_uid, p.stat().st_gid) for p in output_dir.rglob("*")} == {run_user}
