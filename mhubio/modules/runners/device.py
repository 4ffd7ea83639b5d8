"""Choice of the torch device of a deep-learning runner."""

from __future__ import annotations

import logging
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
    if requested is DeviceChoice.CUDA:
        log.warning("%s: device 'cuda' requested but CUDA is not available; falling back to the CPU", step)
    else:
        log.info("%s: CUDA is not available; running on the CPU (device: auto)", step)
    return torch.device("cpu")
