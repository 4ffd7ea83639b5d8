"""Where image builds keep their caches and staging folders."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable overriding the cache folder.
CACHE_ENV = "MHUB_CACHE_DIR"


def cache_dir() -> Path:
    """Cache folder of image builds: ``$MHUB_CACHE_DIR``, else ``$XDG_CACHE_HOME/mhub``, else ``~/.cache/mhub``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).absolute()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache").absolute() / "mhub"


def default_wheelhouse() -> Path:
    """Shared wheelhouse of the dependency wheels of the base and model images."""
    return cache_dir() / "wheelhouse"
