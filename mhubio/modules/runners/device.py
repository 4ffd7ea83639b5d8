"""Choice of the torch device of a deep-learning runner."""

from __future__ import annotations

import logging
import os
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

log = logging.getLogger("mhub.runners.device")


class DeviceChoice(str, Enum):
    """Device requested in a workflow: ``auto`` picks CUDA when available, else the CPU."""

    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


def select_device(requested: DeviceChoice, step: str) -> torch.device:
    """Resolve a requested device; fall back to the CPU when CUDA is not usable.

    Parameters
    ----------
    requested:
        The workflow's choice.
    step:
        Step id, named in the log messages.

    Returns
    -------
    torch.device
        ``cuda:0`` or ``cpu``. A fallback from an explicit ``cuda`` request is logged as a warning,
        the outcome of ``auto`` at info level.
    """
    import torch

    if requested is DeviceChoice.CPU:
        log.info("%s: running on the CPU (device: cpu)", step)
        return torch.device("cpu")
    if torch.cuda.is_available():
        log.info("%s: running on CUDA device 0 (%s)", step, torch.cuda.get_device_name(0))
        return torch.device("cuda", 0)
    hint = _image_hint(torch.version.cuda)
    if requested is DeviceChoice.CUDA:
        log.warning("%s: device 'cuda' requested but CUDA is not available; falling back to the CPU%s", step, hint)
    else:
        level = logging.WARNING if os.environ.get("MHUB_VARIANT") == "gpu" else logging.INFO
        log.log(level, "%s: CUDA is not available; running on the CPU (device: auto)%s", step, hint)
    return torch.device("cpu")


def _image_hint(torch_cuda: str | None) -> str:
    """Why an image found no GPU: a CPU-only torch build, or a GPU image started without ``--gpus``."""
    if torch_cuda is None:
        return " (this torch is a CPU-only build; use the GPU image, tag VERSION-gpu)"
    if os.environ.get("MHUB_VARIANT") == "gpu":
        return " (this is a GPU image: start it with docker run --gpus all and the NVIDIA container toolkit)"
    return ""
