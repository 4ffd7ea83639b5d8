"""Names of MHub images and the record of one image build."""

from __future__ import annotations

import re
from dataclasses import dataclass

import mhubio

#: Repository prefix of local image names.
IMAGE_NAMESPACE = "mhub"

#: Name under which the base image is built.
BASE_NAME = "base"

_MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class ImageBuild:
    """Outcome of building (or finding) one image.

    Parameters
    ----------
    tag
        Image name with tag.
    seconds
        Wall-clock time of the build; 0 when an existing image was kept.
    size_bytes
        Image size, all layers included.
    cached
        Whether an existing image was kept instead of building.
    """

    tag: str
    seconds: float
    size_bytes: int
    cached: bool = False


def check_model_name(name: str) -> str:
    """Return ``name`` if it can name a model image (lower-case letters, digits, ``_ . -``).

    Raises
    ------
    ValueError
        If the name is not valid in a Docker image reference, or is the reserved ``base``.
    """
    if not _MODEL_NAME.match(name):
        raise ValueError(
            f"model name {name!r} cannot name an image: use lower-case letters, digits, '_', '.' and '-'"
        )
    if name == BASE_NAME:
        raise ValueError(f"model name {name!r} is reserved for the base image")
    return name


def base_image_tag(version: str = mhubio.__version__) -> str:
    """Local name of the base image of mhubio ``version``."""
    return f"{IMAGE_NAMESPACE}/{BASE_NAME}:{version}"


def model_image_tag(name: str, version: str) -> str:
    """Local name of the image of model ``name`` at ``version``."""
    return f"{IMAGE_NAMESPACE}/{check_model_name(name)}:{version}"
