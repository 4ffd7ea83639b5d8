"""Calls to the Docker command-line client, with checked exit statuses and timing."""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

#: Environment variable naming the docker client to use, overriding the search on PATH.
DOCKER_ENV = "MHUB_DOCKER"

#: First Docker client release whose ``docker build`` needs the buildx plugin for BuildKit.
_FIRST_BUILDX_ONLY_RELEASE = 23


class DockerError(RuntimeError):
    """A docker (or image tooling) command failed or could not be started."""


@dataclass(frozen=True)
class CommandResult:
    """Outcome of one external command.

    Parameters
    ----------
    args
        The command line that was run.
    returncode
        Exit status of the command.
    seconds
        Wall-clock duration.
    stdout, stderr
        Captured output; empty when the output went to the terminal.
    """

    args: tuple[str, ...]
    returncode: int
    seconds: float
    stdout: str = ""
    stderr: str = ""


def run_command(
    args: Sequence[str],
    *,
    check: bool = True,
    capture: bool = True,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    stdin: IO[bytes] | None = None,
) -> CommandResult:
    """Run a command, time it and check its exit status.

    Parameters
    ----------
    args
        Command line.
    check
        Raise :class:`DockerError` when the exit status is not zero.
    capture
        Capture stdout and stderr (otherwise they go to this process's streams).
    timeout
        Seconds after which the command is killed and :class:`DockerError` raised.
    env
        Variables added to this process's environment.
    stdin
        File to read standard input from.
    """
    full_env = {**os.environ, **env} if env else None
    start = time.monotonic()
    try:
        proc = subprocess.run(
            list(args),
            capture_output=capture,
            text=True,
            timeout=timeout,
            env=full_env,
            stdin=stdin,
            check=False,
        )
    except FileNotFoundError as exc:
        raise DockerError(f"cannot run {args[0]!r}: {exc.strerror}") from exc
    except subprocess.TimeoutExpired as exc:
        raise DockerError(f"{' '.join(args)} did not finish within {timeout} s") from exc
    result = CommandResult(
        args=tuple(args),
        returncode=proc.returncode,
        seconds=time.monotonic() - start,
        stdout=proc.stdout or "",
        stderr=proc.stderr or "",
    )
    logger.debug("%s -> exit %d in %.1f s", " ".join(args), result.returncode, result.seconds)
    if check and result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-20:])
        raise DockerError(f"{' '.join(args)} failed with exit status {result.returncode}:\n{tail}")
    return result


def _builds_with_buildkit(client: str) -> bool:
    """Whether ``client build`` can use BuildKit (needed for ``RUN --mount``)."""
    try:
        if run_command([client, "buildx", "version"], check=False, timeout=30).returncode == 0:
            return True
        version = run_command(
            [client, "version", "--format", "{{.Client.Version}}"], check=False, timeout=30
        ).stdout.strip()
    except DockerError:
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


def docker(
    *args: str,
    check: bool = True,
    capture: bool = True,
    timeout: float | None = None,
    stdin: IO[bytes] | None = None,
) -> CommandResult:
    """Run ``docker ARGS`` with BuildKit enabled; see :func:`run_command`."""
    return run_command(
        [docker_cli(), *args],
        check=check,
        capture=capture,
        timeout=timeout,
        env={"DOCKER_BUILDKIT": "1"},
        stdin=stdin,
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
