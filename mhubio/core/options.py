"""How to run a workflow: the options of ``mhub run``."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mhubio.core.errors import ConfigError


@dataclass(frozen=True)
class RunOptions:
    """How to run a workflow (the ``mhub run`` options)."""

    input_dir: Path
    output_dir: Path
    overrides: Sequence[str] = ()
    fail_fast: bool = False
    work_dir: Path | None = None
    keep_work: bool = False
    weights_dir: Path | None = None
    workflow: str = "default"
    workers: int = 1
    """Worker processes on this machine; 1 runs every series in this process."""
    scheduler: str | None = None
    """Address of a Dask scheduler (``tcp://host:8786``) whose workers run the series."""
    resume: bool = False
    """Skip series whose outputs are up to date (see :mod:`mhubio.cohort`)."""

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {self.workers}")
        if self.scheduler is not None and self.workers != 1:
            raise ConfigError("--workers and --scheduler exclude each other (Dask workers are started separately)")
        if self.scheduler is not None and importlib.util.find_spec("distributed") is None:
            raise ConfigError("--scheduler needs Dask distributed, which is not installed: pip install 'mhubio[dask]'")
        if self.scheduler is not None:
            # Dask workers run in other folders: every path they see must be absolute
            for name in ("input_dir", "output_dir", "work_dir", "weights_dir"):
                value = getattr(self, name)
                if value is not None:
                    object.__setattr__(self, name, Path(value).absolute())

    @property
    def uses_workers(self) -> bool:
        """Whether series run outside this process (a process pool or a Dask cluster)."""
        return self.workers > 1 or self.scheduler is not None
