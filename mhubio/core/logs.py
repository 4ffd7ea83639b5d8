"""Console progress and per-series log files (no PHI: only UIDs, modality, series number)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from rich.console import Console

from mhubio.core.data import Instance, InstanceStatus
from mhubio.core.naming import path_inside, safe_name
from mhubio.core.safetext import SafeFormatter, console_text

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextmanager
def series_log_handler(instance: Instance, log_dir: Path) -> Iterator[Path]:
    """Send everything logged for ``instance`` (and by mhub) to ``log_dir/<id>.log``."""
    path = path_inside(log_dir, f"{safe_name(instance.id)}.log")
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(SafeFormatter(_FORMAT))
    handler.setLevel(logging.DEBUG)
    targets = [logging.getLogger(f"mhub.series.{instance.id}"), logging.getLogger("mhub.module")]
    for logger in targets:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield path
    finally:
        for logger in targets:
            logger.removeHandler(handler)
        handler.close()


class ProgressPrinter:
    """Prints per-series and per-step progress lines to the console."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.console = Console(file=stream or sys.stderr, highlight=False, soft_wrap=True)
        self.quiet = quiet

    def _print(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text)

    def series_started(self, index: int, total: int, instance: Instance) -> None:
        """A series is about to be processed."""
        self._print(f"[bold][{index}/{total}][/bold] {console_text(instance.label)}")

    def step_started(self, step: str) -> None:
        """A step starts (printed only when it finishes, to keep one line per step)."""

    def step_finished(self, step: str, ok: bool, seconds: float, message: str = "") -> None:
        """A step finished or failed."""
        if ok:
            self._print(f"    [green]ok[/green]     {console_text(step)} ({seconds:.2f} s)")
        else:
            self._print(f"    [red]failed[/red] {console_text(step)} ({seconds:.2f} s): {console_text(message)}")

    def series_finished(self, instance: Instance) -> None:
        """A series finished; failures were already printed."""
        if instance.status is InstanceStatus.DONE:
            self._print(f"    [green]done[/green]   {len(instance.outputs)} output file(s)")

    def note(self, text: str) -> None:
        """A run-level message."""
        self._print(f"[yellow]{console_text(text)}[/yellow]")
