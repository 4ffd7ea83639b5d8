"""The CPU and GPU variants of the images: which torch build they get, their tags, wheelhouses and labels.

Both variants build from the same Dockerfiles; they differ in the pip constraints file staged as
``constraints.txt`` (and kept in the image as ``/app/constraints.txt`` for every later pip call), and so in
the torch wheel:

* ``cpu`` (``constraints.txt``): ``torch==X`` lets pip take a local ``X+cpu`` build where its index offers
  one (this project's machines; ``PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu`` elsewhere).
* ``gpu`` (``constraints-gpu.txt``): ``torch===X`` matches the version string exactly, so local builds such as
  ``X+cpu`` are left out and pip takes PyPI's default Linux wheel, which carries its CUDA runtime as
  ``nvidia-*`` wheels. ``docker run --gpus all`` adds the host's driver.

Each variant keeps its own wheelhouse, so that a build never stages the other variant's torch.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

from mhubio.containers.docker import DockerError
from mhubio.containers.paths import default_wheelhouse

#: Image label that names the variant.
VARIANT_LABEL = "org.mhub.variant"

#: Build argument of base/Dockerfile that names the variant (also ``MHUB_VARIANT`` in the image).
VARIANT_BUILD_ARG = "MHUB_VARIANT"

_TORCH_WHEEL = re.compile(r"^torch-(?P<version>[^-]+)-")


class ImageVariant(Enum):
    """Torch build of an image."""

    CPU = "cpu"
    GPU = "gpu"

    @property
    def tag_suffix(self) -> str:
        """Appended to the tag of an image of this variant: ``""`` or ``"-gpu"``."""
        return "" if self is ImageVariant.CPU else f"-{self.value}"

    def tag(self, tag: str) -> str:
        """``tag`` (``name:version``) for this variant, e.g. ``mhub/x:1.0.0-gpu``."""
        return f"{tag}{self.tag_suffix}"

    def constraints(self, repo_dir: Path) -> Path:
        """The pip constraints file of this variant in the checkout ``repo_dir``."""
        name = "constraints.txt" if self is ImageVariant.CPU else f"constraints-{self.value}.txt"
        return Path(repo_dir) / name

    def wheelhouse(self) -> Path:
        """The default wheelhouse of this variant (the CPU one is the shared default wheelhouse)."""
        default = default_wheelhouse()
        return default if self is ImageVariant.CPU else default.with_name(f"{default.name}-{self.value}")

    def labels(self) -> dict[str, str]:
        """Image labels of this variant."""
        return {VARIANT_LABEL: self.value}


def torch_wheels(wheelhouse: Path) -> list[tuple[str, str]]:
    """``(file name, version)`` of every torch wheel in ``wheelhouse``."""
    found = []
    for wheel in sorted(Path(wheelhouse).glob("torch-*.whl")):
        match = _TORCH_WHEEL.match(wheel.name)
        if match:
            found.append((wheel.name, match["version"].replace("%2B", "+")))
    return found


def check_variant_wheels(wheelhouse: Path, variant: ImageVariant) -> None:
    """Refuse a GPU wheelhouse whose torch is a CPU-only build or lacks the CUDA runtime wheels.

    A wheelhouse without torch (images of models without deep learning) passes.

    Raises
    ------
    DockerError
        Naming the offending wheel.
    """
    if variant is not ImageVariant.GPU:
        return
    wheels = torch_wheels(wheelhouse)
    cpu_only = [name for name, version in wheels if version.endswith("+cpu")]
    if cpu_only:
        raise DockerError(
            f"GPU wheelhouse {wheelhouse} holds the CPU-only torch wheel(s) {', '.join(cpu_only)}; remove them "
            "(the GPU variant needs the CUDA build: torch=== in constraints-gpu.txt)"
        )
    if wheels and not any(Path(wheelhouse).glob("nvidia_*.whl")):
        raise DockerError(
            f"GPU wheelhouse {wheelhouse} has {wheels[0][0]} but no nvidia-* CUDA runtime wheels: "
            "that torch wheel is not PyPI's CUDA build"
        )
