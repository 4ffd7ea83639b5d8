"""Running a model image the way the container contract requires: no network, read-only, unprivileged."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from mhubio.containers.docker import docker
from mhubio.core.process import CommandResult

#: Where the input folder is mounted (read-only) inside a model image.
INPUT_MOUNT = "/app/data/input_data"

#: Where the output folder is mounted inside a model image.
OUTPUT_MOUNT = "/app/data/output_data"


def hardened_run_args(
    image: str,
    input_dir: Path,
    output_dir: Path,
    *,
    user: tuple[int, int] | None = None,
    workflow: str | None = None,
    gpus: bool = False,
    args: Sequence[str] = (),
) -> list[str]:
    """Arguments of ``docker run`` for one hardened run of ``image``.

    The container has no network, a read-only root file system with a tmpfs on ``/tmp``, no capabilities,
    no privilege escalation, and runs as ``user``, so that the outputs belong to that user.

    Parameters
    ----------
    image
        Model image.
    input_dir
        Folder of DICOM files, mounted read-only.
    output_dir
        Folder receiving the results; it must be writable by ``user``.
    user
        ``(uid, gid)`` to run as; default this process's.
    workflow
        Workflow to run instead of the model's default.
    gpus
        Give the container all GPUs.
    args
        Further arguments for ``mhub run``.
    """
    uid, gid = user if user is not None else (os.getuid(), os.getgid())
    run_args = [
        "run", "--rm",
        "--network", "none",
        "--read-only", "--tmpfs", "/tmp",
        "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges",
        "--user", f"{uid}:{gid}",
        "--volume", f"{input_dir.absolute()}:{INPUT_MOUNT}:ro",
        "--volume", f"{output_dir.absolute()}:{OUTPUT_MOUNT}",
    ]
    if gpus:
        run_args += ["--gpus", "all"]
    run_args.append(image)
    if workflow is not None:
        run_args += ["--workflow", workflow]
    run_args += list(args)
    return run_args


def run_image(
    image: str,
    input_dir: Path,
    output_dir: Path,
    *,
    user: tuple[int, int] | None = None,
    workflow: str | None = None,
    gpus: bool = False,
    args: Sequence[str] = (),
    timeout: float | None = None,
) -> CommandResult:
    """Run ``image`` hardened (see :func:`hardened_run_args`) and return its exit status and output.

    The exit status is the one of ``mhub run`` inside the container; it is returned, not raised.
    """
    return docker(
        *hardened_run_args(image, input_dir, output_dir, user=user, workflow=workflow, gpus=gpus, args=args),
        check=False,
        timeout=timeout,
    )
