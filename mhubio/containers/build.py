"""Building the base image and the model images from a checkout of the mhubio repository."""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import mhubio
from mhubio.containers.context import add_file, add_tree
from mhubio.containers.docker import DockerError, docker, image_size, run_tool
from mhubio.containers.images import BASE_NAME, ImageBuild, base_image_tag, model_image_tag
from mhubio.containers.model import ModelSource
from mhubio.containers.paths import cache_dir
from mhubio.containers.unpinned import observe_unpinned, stage_trusted
from mhubio.containers.variant import VARIANT_BUILD_ARG, ImageVariant, check_variant_wheels
from mhubio.containers.wheelhouse import build_project_wheel, make_wheelhouse, project_requirements
from mhubio.core.errors import ConfigError

logger = logging.getLogger(__name__)

#: Operating system image of the base image when none is given (see base/Dockerfile).
DEFAULT_OS_IMAGE = "debian:bookworm-slim"

#: Extras of mhubio installed in the base image: Dask, so that images serve as Dask workers.
DEFAULT_EXTRAS = ("dask",)

#: The shared Dockerfile of every model image, in the ``base/`` folder of the repository.
MODEL_DOCKERFILE = "Dockerfile.model"

#: Seconds one ``docker build`` may take.
_BUILD_TIMEOUT = 3600


def _git_revision(repo_dir: Path) -> str | None:
    """Commit checked out in ``repo_dir``, or None outside a git work tree."""
    try:
        result = run_tool(["git", "-C", str(repo_dir), "rev-parse", "HEAD"], check=False, timeout=30)
    except DockerError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _docker_build(
    context: Path,
    tags: Sequence[str],
    *,
    build_args: Mapping[str, str],
    labels: Mapping[str, str],
    stream: bool,
) -> None:
    """Run ``docker build`` on ``context``."""
    args = ["build", "--progress=plain"]
    for tag in tags:
        args += ["--tag", tag]
    for key, value in build_args.items():
        args += ["--build-arg", f"{key}={value}"]
    for key, value in labels.items():
        args += ["--label", f"{key}={value}"]
    docker(*args, str(context), capture=not stream, timeout=_BUILD_TIMEOUT)


def _latest(tag: str, variant: ImageVariant = ImageVariant.CPU) -> str:
    """``tag`` with its tag part replaced by ``latest`` (``latest-gpu`` for the GPU variant)."""
    has_tag = ":" in tag.rsplit("/", 1)[-1]  # a ':' before the last '/' belongs to a registry port
    name = tag.rsplit(":", 1)[0] if has_tag else tag
    return variant.tag(f"{name}:latest")


def _staging_dir() -> tempfile.TemporaryDirectory[str]:
    """A build context folder on the file system of the wheelhouse cache, so that wheels are hard-linked."""
    parent = cache_dir() / "staging"
    parent.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix="context-", dir=parent)


def _stage_wheels(context: Path, wheelhouse: Path) -> None:
    """Link the wheels of ``wheelhouse`` into ``context/wheels``.

    mhubio wheels are left out: the base image always installs the one built from the checkout.
    """
    (context / "wheels").mkdir()
    for wheel in wheelhouse.glob("*.whl"):
        if not wheel.name.startswith("mhubio-"):
            add_file(context, wheel, f"wheels/{wheel.name}")


def build_base(
    repo_dir: Path,
    *,
    base_image: str = DEFAULT_OS_IMAGE,
    tag: str | None = None,
    offline: bool = True,
    wheelhouse: Path | None = None,
    extras: Sequence[str] = DEFAULT_EXTRAS,
    python: str = sys.executable,
    stream: bool = False,
    variant: ImageVariant = ImageVariant.CPU,
) -> ImageBuild:
    """Build the base image from ``repo_dir/base/Dockerfile``.

    The mhubio wheel is built from ``repo_dir`` and installed with its dependencies from the wheelhouse.

    Parameters
    ----------
    repo_dir
        Checkout of the mhubio repository.
    base_image
        Operating system image (``BASE_IMAGE`` build argument), e.g. the local image of
        :func:`~mhubio.containers.rootfs.make_local_base`.
    tag
        Image name; default :func:`~mhubio.containers.images.base_image_tag` (``-gpu`` appended for the GPU
        variant). The image is also tagged ``latest`` (``latest-gpu``).
    offline
        Install only from the wheelhouse; otherwise pip inside the build may also use its index.
    wheelhouse
        Wheelhouse folder, filled as needed; default the variant's one in the cache.
    extras
        Extras of mhubio to install.
    python
        Interpreter that builds the wheels (CPython 3.11).
    stream
        Show the build output instead of capturing it.
    variant
        CPU or GPU (CUDA torch) image: its constraints file, wheelhouse, tag and label.

    Returns
    -------
    ImageBuild
        The image, its size and build time.
    """
    repo_dir = repo_dir.absolute()
    tag = tag or variant.tag(base_image_tag())
    constraints = variant.constraints(repo_dir)
    start = time.monotonic()
    house = make_wheelhouse(
        wheelhouse or variant.wheelhouse(), requirements=project_requirements(repo_dir, extras),
        constraints=constraints, python=python,
    )
    with _staging_dir() as staging:
        context = Path(staging)
        add_file(context, repo_dir / "base" / "Dockerfile", "Dockerfile")
        add_file(context, repo_dir / "base" / "mhub-entrypoint", "mhub-entrypoint")
        add_file(context, constraints, "constraints.txt")
        _stage_wheels(context, house)
        build_project_wheel(repo_dir, context / "wheels", python=python)
        labels = {
            "org.opencontainers.image.title": f"mhub-{BASE_NAME}",
            "org.opencontainers.image.version": mhubio.__version__,
            "org.mhub.os-image": base_image,
            **variant.labels(),
        }
        revision = _git_revision(repo_dir)
        if revision:
            labels["org.opencontainers.image.revision"] = revision
        _docker_build(
            context,
            [tag, _latest(tag, variant)],
            build_args={
                "BASE_IMAGE": base_image,
                "PIP_NO_INDEX": "1" if offline else "0",
                "MHUB_EXTRAS": ",".join(extras),
                VARIANT_BUILD_ARG: variant.value,
            },
            labels=labels,
            stream=stream,
        )
    seconds = time.monotonic() - start
    logger.info("built %s in %.0f s", tag, seconds)
    return ImageBuild(tag=tag, seconds=seconds, size_bytes=image_size(tag))


def check_buildable(name: str, repo_dir: Path, *, offline: bool, weights_dir: Path | None) -> ModelSource:
    """Read model ``name`` of ``repo_dir`` and check that it can be built as asked.

    Raises
    ------
    ConfigError
        If the model folder is incomplete, or an offline build of a model with weights has no
        ``weights_dir``.
    """
    model = ModelSource.load(repo_dir / "models", name)
    if offline and model.manifest.weights and weights_dir is None:
        raise ConfigError(
            f"model {name!r} declares {len(model.manifest.weights)} weights archive(s): an offline build needs "
            "them downloaded into a local folder (weights_dir, mhub build --weights-from)"
        )
    if weights_dir is not None and not weights_dir.is_dir():
        raise ConfigError(f"weights folder {weights_dir} of model {name!r} does not exist")
    return model


def build_model(
    name: str,
    repo_dir: Path,
    *,
    base_image: str | None = None,
    tag: str | None = None,
    offline: bool = True,
    wheelhouse: Path | None = None,
    weights_dir: Path | None = None,
    python: str = sys.executable,
    stream: bool = False,
    variant: ImageVariant = ImageVariant.CPU,
    trust_unpinned: bool = False,
) -> ImageBuild:
    """Build the image of model ``name`` from ``repo_dir/models/<name>`` with the shared model Dockerfile.

    The Dockerfile is ``repo_dir/base/Dockerfile.model``, with the model name as build argument
    ``MHUB_MODEL``. Its build context holds the model folder (``model/``), its ``requirements.txt``, the
    wheelhouse (``wheels/``: the requirements of a base image with the default extras and the model's,
    resolved together) and the weights folder (``weights/``: the archives of ``weights_dir``, or empty so
    that ``mhub weights fetch`` downloads them during the build). A model with its own
    ``models/<name>/Dockerfile`` (extra system steps only) has that built first on ``base_image``, tagged
    ``<tag>-system``, and the shared Dockerfile builds on it. The image labels record the model name and
    version (from ``mhub.toml``), the git revision and every weights entry with its sha256.

    Parameters
    ----------
    name
        Model folder name under ``repo_dir/models``.
    repo_dir
        Checkout of the mhubio repository.
    base_image
        Image to build on (``MHUB_BASE_IMAGE``); default the local base image of this mhubio version and
        variant.
    tag
        Image name; default ``mhub/<name>:<version>`` (``<version>-gpu`` for the GPU variant). The image is
        also tagged ``latest`` (``latest-gpu``).
    offline
        Install only from the wheelhouse and take the weights from ``weights_dir``.
    wheelhouse
        Wheelhouse folder, filled as needed; default the variant's one in the cache.
    weights_dir
        Folder with the model's weights archives as downloaded (``mhub weights fetch --from``), for builds
        without network.
    python
        Interpreter that builds the wheels (CPython 3.11).
    stream
        Show the build output instead of capturing it.
    variant
        CPU or GPU (CUDA torch) image: its wheelhouse, tag and label; the base image must be of the same variant.
    trust_unpinned
        Build even though weights have no sha256: see :mod:`mhubio.containers.unpinned`. The archives are
        taken from ``weights_dir`` or downloaded into the cache.

    Raises
    ------
    ConfigError
        If the model folder is incomplete, or an offline build of a model with weights has no
        ``weights_dir``.
    DockerError
        If a build step fails.
    """
    repo_dir = repo_dir.absolute()
    model = check_buildable(name, repo_dir, offline=offline, weights_dir=weights_dir)
    tag = tag or variant.tag(model_image_tag(name, model.version))
    base_image = base_image or variant.tag(base_image_tag())
    constraints = variant.constraints(repo_dir)
    start = time.monotonic()
    observed: dict[str, dict[str, str | int | bool]] = {}
    if trust_unpinned and any(not e.sha256 for e in model.manifest.weights):
        weights_dir = weights_dir or cache_dir() / "archives" / name
        observed = observe_unpinned(model, weights_dir)
    house = make_wheelhouse(
        wheelhouse or variant.wheelhouse(),
        requirements=project_requirements(repo_dir, DEFAULT_EXTRAS),
        requirement_files=[model.requirements] if model.requirements else [],
        constraints=constraints,
        python=python,
    )
    check_variant_wheels(house, variant)
    build_on = base_image
    if model.system_dockerfile is not None:
        build_on = _build_system_layer(model.system_dockerfile, model.folder, base_image, f"{tag}-system", stream)
    with _staging_dir() as staging:
        context = Path(staging)
        add_file(context, repo_dir / "base" / MODEL_DOCKERFILE, "Dockerfile")
        staged = add_tree(context, model.folder, "model")
        if observed:
            model = stage_trusted(staged, observed)
        if model.requirements is not None:
            add_file(context, model.requirements, "requirements.txt")
        else:
            (context / "requirements.txt").touch()
        _stage_wheels(context, house)
        if weights_dir is not None:
            add_tree(context, weights_dir, "weights", link=True)
        else:
            (context / "weights").mkdir()
        labels = {
            "org.opencontainers.image.title": f"mhub-{name}",
            "org.opencontainers.image.version": model.version,
            "org.mhub.model": name,
            "org.mhub.base-image": base_image,
            "org.mhub.weights": json.dumps(model.weight_labels(), separators=(",", ":")),
            **variant.labels(),
        }
        revision = _git_revision(repo_dir)
        if revision:
            labels["org.opencontainers.image.revision"] = revision
        _docker_build(
            context,
            [tag, _latest(tag, variant)],
            build_args={
                "MHUB_BASE_IMAGE": build_on,
                "MHUB_MODEL": name,
                "PIP_NO_INDEX": "1" if offline else "0",
                "MHUB_WEIGHTS_FROM": "/tmp/weights" if weights_dir is not None else "",
            },
            labels=labels,
            stream=stream,
        )
    seconds = time.monotonic() - start
    logger.info("built %s in %.0f s", tag, seconds)
    return ImageBuild(tag=tag, seconds=seconds, size_bytes=image_size(tag))


def _build_system_layer(dockerfile: Path, model_folder: Path, base_image: str, tag: str, stream: bool) -> str:
    """Build a model's own ``dockerfile`` (extra system steps) on ``base_image`` as ``tag``; return the tag.

    Its build context holds the model folder as ``model/``, so that its steps can copy files of that folder.
    """
    with _staging_dir() as staging:
        context = Path(staging)
        add_file(context, dockerfile, "Dockerfile")
        add_tree(context, model_folder, "model")
        _docker_build(context, [tag], build_args={"MHUB_BASE_IMAGE": base_image}, labels={}, stream=stream)
    return tag
