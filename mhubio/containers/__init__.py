"""Building and running the MHub container images.

One base image (``base/Dockerfile``) holds the mhubio framework; one shared model Dockerfile
(``base/Dockerfile.model``, the model name a build argument) builds each ``models/<name>/`` folder into a model
image on it. Builds install Python packages only from a host-side wheelhouse and can start from a local
operating system image made by debootstrap, so that they need neither a container registry nor network
inside ``docker build``.
"""

from mhubio.containers.build import DEFAULT_OS_IMAGE, build_base, build_model, check_buildable
from mhubio.containers.docker import DockerError, daemon_available, docker, image_labels, run_tool
from mhubio.containers.images import ImageBuild, base_image_tag, model_image_tag
from mhubio.containers.model import ModelSource
from mhubio.containers.rootfs import LOCAL_BASE_IMAGE, make_local_base
from mhubio.containers.run import hardened_run_args, run_image
from mhubio.containers.wheelhouse import make_wheelhouse
from mhubio.core.process import CommandResult

__all__ = [
    "DEFAULT_OS_IMAGE",
    "LOCAL_BASE_IMAGE",
    "CommandResult",
    "DockerError",
    "ImageBuild",
    "ModelSource",
    "base_image_tag",
    "build_base",
    "build_model",
    "check_buildable",
    "daemon_available",
    "docker",
    "hardened_run_args",
    "image_labels",
    "make_local_base",
    "make_wheelhouse",
    "model_image_tag",
    "run_image",
    "run_tool",
]
