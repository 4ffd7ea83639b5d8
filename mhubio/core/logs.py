"""Console progress and per-series log files (no PHI: only UIDs, modality, series number)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.text import Text

from mhubio.core.data import SERIES_LOGGER, Instance, InstanceStatus
from mhubio.core.naming import path_inside, safe_name
from mhubio.core.safetext import SafeFormatter, console_text, plain_text

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextmanager
def series_log_handler(instance: Instance, log_dir: Path) -> Iterator[Path]:
    """Send everything logged for ``instance`` (and by mhub) to ``log_dir/<id>.log``."""
    path = path_inside(log_dir, f"{safe_name(instance.id)}.log")
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(SafeFormatter(_FORMAT))
    handler.setLevel(logging.DEBUG)
    handler.addFilter(_OneSeries(instance.id))
    targets = [logging.getLogger(SERIES_LOGGER), logging.getLogger("mhub.module")]
    for logger in targets:
        logger.addHandler(handler)
        if logger.level != logging.DEBUG:
            logger.setLevel(logging.DEBUG)
    try:
        yield path
    finally:
        for logger in targets:
            logger.removeHandler(handler)
        handler.close()


class _OneSeries(logging.Filter):
    """Keeps the records of one series (and those of no series, from the modules)."""

    def __init__(self, instance_id: str) -> None:
        super().__init__()
        self.instance_id = instance_id

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "series", self.instance_id) == self.instance_id


class ProgressPrinter:
    """The progress of a run on the console, the same for sequential, process-pool and Dask runs.

    On a terminal, a progress bar with the series done, failed and skipped and the estimated time left; the
    series and step running now (sequential runs) in its description.  Elsewhere (CI, container logs), a plain
    line every ``every_series`` finished series (default: every 5 % of the run) or, when a series finishes, at
    least ``every_seconds`` after the last line, and a last line at the end.  Each failed series gets its own
    line.  Only PHI-free labels (modality, series number, UID) are printed, never as rich markup.

    Parameters
    ----------
    stream:
        Where to print (default: standard error).
    quiet:
        Print nothing.
    live:
        Force (or forbid) the progress bar; default: whether ``stream`` is a terminal.
    every_series:
        Plain output: a line every this many finished series (default: a twentieth of the run, at least 1).
    every_seconds:
        Plain output: a line when a series finishes this long after the last line.
    phase_every_seconds:
        The phases before the series (the DICOMweb download, the input scan): a line once one has run this long,
        then every this long, and a last one when it ends (:class:`PhaseProgress`).
    """

    def __init__(self, stream: TextIO | None = None, quiet: bool = False, live: bool | None = None,
                 every_series: int | None = None, every_seconds: float = 30.0,
                 phase_every_seconds: float = 10.0) -> None:
        self.console = Console(file=stream or sys.stderr, highlight=False, soft_wrap=True)
        self.quiet = quiet
        self.live = self.console.is_terminal if live is None else live
        self.every_series = every_series
        self.every_seconds = every_seconds
        self.counts = SeriesCounts()
        self._started = self._last_line = time.monotonic()
        self._reported = 0
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._finished_hooks: list[Callable[[Instance], None]] = []
        self._scan = PhaseProgress(phase_every_seconds)
        self._download = PhaseProgress(phase_every_seconds)

    def files_indexed(self, parsed: int, total: int) -> None:
        """The input scan parsed ``parsed`` of ``total`` files (:data:`~mhubio.dicom.scan.FilesIndexed`); see
        :class:`PhaseProgress` for when a line is printed."""
        self._phase_line(self._scan, parsed, total, "scanning the input", "files read")

    def series_downloaded(self, downloaded: int, total: int) -> None:
        """The DICOMweb download of the input finished ``downloaded`` of ``total`` series; see
        :class:`PhaseProgress` for when a line is printed."""
        self._phase_line(self._download, downloaded, total, "downloading the input", "series")

    def _phase_line(self, phase: PhaseProgress, done: int, total: int, name: str, unit: str) -> None:
        elapsed = phase.due(done, total)
        if elapsed is None:
            return
        left = f", about {_clock(elapsed / done * (total - done))} left" if 0 < done < total else ""
        self._line(Text(f"{name}: {done:,}/{total:,} {unit}; {_clock(elapsed)} elapsed{left}"))

    def run_started(self, total: int, skipped: int) -> None:
        """``total`` eligible series are about to run; ``skipped`` were left out by selection and QC."""
        self.counts = SeriesCounts(total=total, skipped=skipped)
        self._started = self._last_line = time.monotonic()
        self._reported = 0
        if self.every_series is None:
            self.every_series = max(1, total // 20)
        if self.quiet or not self.live:
            return
        # Imported here: runs without a terminal (containers, CI, --quiet) never draw the bar.
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("[green]{task.fields[done]} done[/green] [red]{task.fields[failed]} failed[/red] "
                       "[yellow]{task.fields[skipped]} skipped[/yellow]"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=self.console,
        )
        self._task = self._bar.add_task("series", total=total, done=0, failed=0, skipped=skipped)
        self._bar.start()

    def step_started(self, instance: Instance, step: str) -> None:
        """A step of ``instance`` starts (reported by sequential runs only)."""
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=console_text(f"{instance.label} {step}"))

    def on_series_finished(self, hook: Callable[[Instance], None]) -> None:
        """Call ``hook(instance)`` for every finished series, before it is reported."""
        self._finished_hooks.append(hook)

    def series_finished(self, instance: Instance) -> None:
        """A series finished (done or failed); failures are printed at once."""
        for hook in self._finished_hooks:
            hook(instance)
        counts = self.counts
        if instance.status is InstanceStatus.FAILED:
            counts.failed += 1
            failure = instance.failure
            where = f" at step {failure.step}: {failure.message}" if failure is not None else ""
            self._line(Text(plain_text(f"failed {instance.label}{where}"), style="red"))
        else:
            counts.done += 1
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=counts.finished, done=counts.done, failed=counts.failed,
                             description="series")
            return
        now = time.monotonic()
        if counts.finished % (self.every_series or 1) == 0 or now - self._last_line >= self.every_seconds:
            self._summary(now)

    def note(self, text: str) -> None:
        """A run-level message."""
        self._line(Text(plain_text(text), style="yellow"))

    def run_finished(self) -> None:
        """The run ended (completed, stopped or interrupted)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self.counts.total and self._reported != self.counts.finished:
            self._summary(time.monotonic())

    def _summary(self, now: float) -> None:
        self._last_line, self._reported = now, self.counts.finished
        self._line(Text(self.counts.describe(now - self._started)))

    def _line(self, text: Text) -> None:
        if not self.quiet:
            self.console.print(text)


class PhaseProgress:
    """When a phase of the run before the series (the download, the scan) prints a progress line.

    The phase reports ``done`` of ``total`` as it goes, starting with 0. A phase shorter than ``every_seconds``
    prints nothing; a longer one a line every ``every_seconds`` and a last one when it ends.
    """

    def __init__(self, every_seconds: float) -> None:
        self.every_seconds = every_seconds
        self._started: float | None = None
        self._last = 0.0
        self._lines = 0

    def due(self, done: int, total: int) -> float | None:
        """The seconds since the phase started when a line is due now, else ``None``."""
        now = time.monotonic()
        if self._started is None:
            self._started = self._last = now
        if done < total and now - self._last < self.every_seconds:
            return None
        if done >= total and not self._lines:
            return None
        self._last, self._lines = now, self._lines + 1
        return now - self._started


@dataclass
class SeriesCounts:
    """How many series of a run finished, failed or were skipped."""

    total: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def finished(self) -> int:
        """Series done or failed."""
        return self.done + self.failed

    def describe(self, elapsed: float) -> str:
        """One plain progress line, with the time left estimated from the mean time per finished series."""
        left = ""
        if 0 < self.finished < self.total:
            left = f", about {_clock(elapsed / self.finished * (self.total - self.finished))} left"
        return (f"{self.finished}/{self.total} series: {self.done} done, {self.failed} failed, {self.skipped} "
                f"skipped; {_clock(elapsed)} elapsed{left}")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
