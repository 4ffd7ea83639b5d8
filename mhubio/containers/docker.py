"""Calls to the Docker command-line client, with checked exit statuses and timing."""

from __future__ import annotations

import functools
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from mhubio.core.errors import ExternalCommandError, MhubError
from mhubio.core.exitcodes import ExitCode
from mhubio.core.process import CommandResult, run_command

#: Environment variable naming the docker client to use, overriding the search on PATH.
DOCKER_ENV = "MHUB_DOCKER"

#: First Docker client release whose ``docker build`` needs the buildx plugin for BuildKit.
_FIRST_BUILDX_ONLY_RELEASE = 23


class DockerError(MhubError):
    """A docker command failed, or image tooling is missing or misconfigured."""

    exit_code = ExitCode.BUILD_FAILED


def _builds_with_buildkit(client: str) -> bool:
    """Whether ``client build`` can use BuildKit (needed for ``RUN --mount``)."""
    try:
        if run_command([client, "buildx", "version"], check=False, timeout=30).returncode == 0:
            return True
        version = run_command(
            [client, "version", "--format", "{{.Client.Version}}"], check=False, timeout=30
        ).stdout.strip()
    except ExternalCommandError:
        return False
    major = version.split(".", 1)[0]
    # Clients before release 23 carry BuildKit themselves; later ones delegate to the buildx plugin.
    return major.isdigit() and int(major) < _FIRST_BUILDX_ONLY_RELEASE


@functools.cache
def docker_cli() -> str:
    """Path of the docker client to use.

    ``$MHUB_DOCKER`` if set, else the first ``docker`` on ``PATH`` that builds with BuildKit: one with the
    buildx plugin, or a client older than release 23, which has BuildKit built in.

    Raises
    ------
    DockerError
        If no such client is found.
    """
    if os.environ.get(DOCKER_ENV):
        return os.environ[DOCKER_ENV]
    seen: set[Path] = set()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        found = shutil.which("docker", path=directory)
        if found is None or Path(found).resolve() in seen:
            continue
        seen.add(Path(found).resolve())
        if _builds_with_buildkit(found):
            return found
    raise DockerError(
        "no docker client that builds with BuildKit was found on PATH: install the buildx plugin, "
        f"or Debian's docker.io package, or set {DOCKER_ENV} to a suitable client"
    )


def run_tool(
    args: Sequence[str],
    *,
    check: bool = True,
    capture: bool = True,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
) -> CommandResult:
    """Run an image tool (docker, pip, git, debootstrap) with :func:`~mhubio.core.process.run_command`.

    Raises
    ------
    DockerError
        If the tool cannot be started, times out or (``check``) exits with a non-zero status; the message
        ends with the last lines of its error output.
    """
    try:
        return run_command(args, check=check, capture=capture, timeout=timeout, env=env)
    except ExternalCommandError as exc:
        raise DockerError(f"{' '.join(args)} failed with exit status {exc.returncode}:\n{exc.output_tail}") from exc


def docker(
    *args: str,
    check: bool = True,
    capture: bool = True,
    timeout: float | None = None,
) -> CommandResult:
    """Run ``docker ARGS`` with BuildKit enabled; see :func:`run_tool`."""
    return run_tool(
        [docker_cli(), *args], check=check, capture=capture, timeout=timeout, env={"DOCKER_BUILDKIT": "1"}
    )


def daemon_available() -> bool:
    """Whether a Docker daemon answers to the docker client."""
    try:
        return docker("info", "--format", "{{.ServerVersion}}", check=False, timeout=30).returncode == 0
    except DockerError:
        return False


def image_exists(tag: str) -> bool:
    """Whether the daemon holds an image named ``tag``."""
    return docker("image", "inspect", tag, check=False, timeout=60).returncode == 0


def image_size(tag: str) -> int:
    """Size of image ``tag`` in bytes, all layers included."""
    return int(docker("image", "inspect", "--format", "{{.Size}}", tag, timeout=60).stdout.strip())


def image_labels(tag: str) -> dict[str, str]:
    """Labels of image ``tag``."""
    out = docker("image", "inspect", "--format", "{{json .Config.Labels}}", tag, timeout=60).stdout
    return json.loads(out) or {}
