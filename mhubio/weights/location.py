"""Where installed weights live."""

from __future__ import annotations

import os
from pathlib import Path

from mhubio.core.module import RunContext

ENV_VAR = "MHUB_WEIGHTS_DIR"
IMAGE_WEIGHTS_DIR = Path("/app/weights")
USER_WEIGHTS_DIR = Path("~/.mhub/weights")


def weights_dir(context_or_override: RunContext | Path | str | None = None) -> Path:
    """The weights folder.

    Order: the explicit folder (``--weights-dir``, or ``RunContext.weights_dir``),
    then ``$MHUB_WEIGHTS_DIR``, then ``/app/weights`` when it exists (the
    container images), then ``~/.mhub/weights``.
    """
    if isinstance(context_or_override, RunContext):
        explicit = context_or_override.weights_dir
    else:
        explicit = Path(context_or_override) if context_or_override else None
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    if IMAGE_WEIGHTS_DIR.is_dir():
        return IMAGE_WEIGHTS_DIR
    return USER_WEIGHTS_DIR.expanduser()
