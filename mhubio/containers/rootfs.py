"""A local operating system image made with debootstrap, for builds without a container registry."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from mhubio.containers.docker import DockerError, docker, docker_cli, image_exists, image_size, run_tool
from mhubio.containers.images import ImageBuild
from mhubio.containers.paths import cache_dir

logger = logging.getLogger(__name__)

#: Tag of the local operating system image.
LOCAL_BASE_IMAGE = "mhub/bookworm-python:local"

#: Debian release of the local image; its python3 is 3.11, the version mhubio needs.
DEBIAN_SUITE = "bookworm"

#: Debian mirror debootstrap downloads from.
DEBIAN_MIRROR = "http://deb.debian.org/debian"

#: Packages added to the minimal Debian system: Python 3.11 with venv (and the pip wheel ensurepip needs),
#: and CA certificates for weight downloads over HTTPS.
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")

#: Folders of the root file system that an image does not need.
_TRIMMED = (
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
)


def _trim(rootfs: Path) -> None:
    """Empty the folders of ``rootfs`` that hold only documentation and package caches."""
    for relative in _TRIMMED:
        folder = rootfs / relative
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def _import_rootfs(rootfs: Path, tag: str, suite: str) -> None:
    """Pack ``rootfs`` into a tar file beside it and import that as image ``tag``."""
    archive = rootfs.with_name(f"{rootfs.name}.tar")
    run_tool(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(archive), "."], timeout=1800)
    try:
        docker(
            "import",
            "--change", 'CMD ["/bin/bash"]',
            "--change", f"LABEL org.mhub.os=debian-{suite}-minbase",
            "--message", f"debootstrap --variant=minbase {suite}",
            str(archive),
            tag,
            timeout=1800,
        )
    finally:
        archive.unlink(missing_ok=True)


def _debootstrap(rootfs: Path, suite: str, mirror: str, packages: Sequence[str], debs: Path) -> None:
    """Bootstrap ``suite`` into ``rootfs``, once more after a failure: a mirror's hiccup is the usual cause,
    and the packages downloaded so far stay in the ``debs`` cache."""
    command = ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", f"--cache-dir={debs}",
               suite, str(rootfs), mirror]
    first = run_tool(command, check=False, timeout=1800)
    if first.returncode != 0:
        logger.warning("debootstrap failed, trying once more: %s", first.stderr.strip()[-500:])
        shutil.rmtree(rootfs, ignore_errors=True)
        run_tool(command, timeout=1800)


def make_local_base(
    tag: str = LOCAL_BASE_IMAGE,
    *,
    suite: str = DEBIAN_SUITE,
    mirror: str = DEBIAN_MIRROR,
    packages: Sequence[str] = BASE_PACKAGES,
    force: bool = False,
) -> ImageBuild:
    """Make a minimal Debian image with Python 3.11 by debootstrap and ``docker import``.

    The image is the ``BASE_IMAGE`` of offline builds: it needs no registry and no network inside
    ``docker build``. An existing image ``tag`` is kept unless ``force``; downloaded packages are cached under
    :func:`~mhubio.containers.paths.cache_dir`.

    Parameters
    ----------
    tag
        Name of the image to make.
    suite
        Debian release.
    mirror
        Debian mirror to download packages from.
    packages
        Packages installed beside the minimal system.
    force
        Make the image even if it exists.

    Raises
    ------
    DockerError
        If this process is not root, debootstrap is missing, or a step fails.
    """
    if not force and image_exists(tag):
        logger.info("local base image %s exists; kept", tag)
        return ImageBuild(tag=tag, seconds=0.0, size_bytes=image_size(tag), cached=True)
    if os.geteuid() != 0:
        raise DockerError("debootstrap needs root: run make_local_base as root (e.g. through .ci/docker.sh)")
    if shutil.which("debootstrap") is None:
        raise DockerError("debootstrap is not installed: apt-get install debootstrap")
    docker_cli()  # fail before the download when no docker client is usable
    debs = cache_dir() / "debootstrap" / suite
    debs.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mhub-rootfs-") as work:
        rootfs = Path(work) / "rootfs"
        _debootstrap(rootfs, suite, mirror, packages, debs)
        _trim(rootfs)
        _import_rootfs(rootfs, tag, suite)
    seconds = time.monotonic() - start
    logger.info("made local base image %s in %.0f s", tag, seconds)
    return ImageBuild(tag=tag, seconds=seconds, size_bytes=image_size(tag))
