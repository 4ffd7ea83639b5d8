"""Resumable runs: restore up-to-date series, record every series as it finishes.

:class:`CohortRun` is created once per run after the chain is validated.  With ``--resume``,
:meth:`CohortRun.select` marks every series whose state matches the current input and model as done (restored
from its state file, not run again) and returns the others.  With or without ``--resume``, every series returned
that has results of an earlier run of the same model and workflow loses them first (state file and unchanged
output files): a rerun replaces the results of the series it runs and keeps every other file.
:meth:`CohortRun.observe` hooks into the run's progress printer so that each series is recorded in the main
process the moment it finishes, whichever executor ran it (in-process, ``--workers`` or ``--scheduler``): a run
killed at any point leaves a state file exactly for the series it completed.  The input fingerprints of the
series to run are computed ahead on a background thread (hashlib releases the GIL, so the hashing overlaps the
series' own work); :meth:`CohortRun.close` stops it at the end of the run.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mhubio.cohort.fingerprint import files_fingerprint, input_files, model_fingerprint
from mhubio.cohort.state import SeriesState, StateOutput, StateStore
from mhubio.core.config import Chain
from mhubio.core.data import Instance, InstanceStatus, OutputFile, StepTiming
from mhubio.core.logs import ProgressPrinter
from mhubio.core.naming import UnsafeNameError, path_inside

log = logging.getLogger("mhub")

RowExtractor = Callable[[Instance, Path], dict[str, list[dict[str, Any]]]]
"""Table rows of a finished series, from its instance and the output folder (see :mod:`mhubio.tables`)."""


class CohortRun:
    """The cohort bookkeeping of one run.

    Parameters
    ----------
    chain:
        The validated chain of the run.
    output_dir:
        The run's output folder.
    workflow:
        The workflow name.
    resume:
        Whether up-to-date series are restored instead of run.
    rows:
        Extracts a finished series' table rows, kept in its state file.
    """

    def __init__(self, chain: Chain, output_dir: Path, workflow: str, resume: bool,
                 rows: RowExtractor | None = None) -> None:
        model = chain.importer.module.context.model
        self.model, self.version, self.workflow = model.name, model.version, workflow
        self.output_dir = Path(output_dir)
        self.store = StateStore(self.output_dir, model.name)
        self.model_fingerprint = model_fingerprint(chain, workflow)
        self.resume = resume
        self.resumed: set[str] = set()
        self.replaced: set[str] = set()
        self._rows = rows
        self._inputs: dict[str, str | None | Future[str | None]] = {}
        self._hashing: ThreadPoolExecutor | None = None

    def select(self, instances: Sequence[Instance]) -> list[Instance]:
        """The instances to run; with ``resume``, up-to-date ones are restored as done and left out.

        Every instance to run that has results of an earlier run of this model and workflow in the output
        folder loses them first (:meth:`_replace`), so that nothing of the earlier run outlives a series that
        now fails or writes fewer files.
        """
        pending = []
        for instance in instances:
            state = self.store.read(instance.id)
            if self.resume and state is not None:
                fingerprint = self._input_fingerprint(instance)
                if fingerprint is not None and state.is_current(self.output_dir, self.model_fingerprint, fingerprint):
                    _restore(instance, state)
                    self.resumed.add(instance.id)
                    continue
            if state is not None and state.workflow == self.workflow:
                self._replace(state)
            pending.append(instance)
        self._hash_ahead(pending)
        return pending

    def _hash_ahead(self, instances: Sequence[Instance]) -> None:
        """Compute the input fingerprints of ``instances`` on a background thread, in run order."""
        todo = [instance for instance in instances if instance.id not in self._inputs]
        if not todo:
            return
        if self._hashing is None:  # one thread for the run, however often instances are selected
            self._hashing = ThreadPoolExecutor(1, thread_name_prefix="mhub-input-hash")
        for instance in todo:  # the file lists are taken now: the steps add items to the instances later
            self._inputs[instance.id] = self._hashing.submit(_fingerprint_or_none, input_files(instance))

    def close(self) -> None:
        """Stop computing input fingerprints ahead (at the end of the run, an interrupted one too)."""
        if self._hashing is not None:
            self._hashing.shutdown(wait=True, cancel_futures=True)
            self._hashing = None

    def _replace(self, state: SeriesState) -> None:
        """Forget an earlier run's results of a series about to run again: its state file, then the output
        files it lists that are unchanged since (a file edited since is left alone), then their folders left
        empty.  The state goes first: a run killed in between leaves files that nothing vouches for, never a
        state that vouches for missing files.
        """
        self.store.remove(state.series_uid)
        folders: set[Path] = set()
        for output in state.outputs:
            try:
                path = path_inside(self.output_dir, output.path)
            except UnsafeNameError:
                continue
            if output.is_current(self.output_dir):
                path.unlink(missing_ok=True)
                folders.update(p for p in path.parents if self.output_dir in p.parents)
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):  # not empty: other models' files are there
                folder.rmdir()
        self.replaced.add(state.series_uid)

    def observe(self, progress: ProgressPrinter) -> ProgressPrinter:
        """``progress``, which now calls :meth:`record` on every finished series."""
        progress.on_series_finished(self.record)
        return progress

    def record(self, instance: Instance) -> None:
        """Write the state of a done series; forget a failed one (it is redone on resume)."""
        fingerprint = self._input_fingerprint(instance)
        if instance.status is not InstanceStatus.DONE or fingerprint is None:
            self.store.remove(instance.id)
            return
        rows: dict[str, list[dict[str, Any]]] = {}
        if instance.table_rows is not None:
            rows, instance.table_rows = instance.table_rows, None
        elif self._rows is not None:
            try:
                rows = self._rows(instance, self.output_dir)
            except Exception as exc:  # a table problem must not lose the series' outputs or its state
                instance.warn(f"no table rows for this series: {type(exc).__name__}")
                log.debug("table rows of %s failed", instance.id, exc_info=True)
        try:
            outputs = tuple(_state_output(self.output_dir, o) for o in instance.outputs)
        except OSError:  # an output vanished: the series is not known to be done
            instance.warn("an output file is missing after the run; the series will be redone by --resume")
            self.store.remove(instance.id)
            return
        self.store.write(SeriesState(
            series_uid=instance.id, model=self.model, version=self.version, workflow=self.workflow,
            model_fingerprint=self.model_fingerprint, input_fingerprint=fingerprint, outputs=outputs,
            steps=tuple({"step": t.step, "status": t.status, "seconds": round(t.seconds, 3)} for t in instance.timings),
            warnings=tuple(instance.warnings), rows=rows, notes=dict(instance.notes),
        ))

    def _input_fingerprint(self, instance: Instance) -> str | None:
        value = self._inputs.get(instance.id)
        if isinstance(value, Future):
            try:
                value = value.result()
            except CancelledError:
                value = _fingerprint_or_none(input_files(instance))
        elif instance.id not in self._inputs:
            value = _fingerprint_or_none(input_files(instance))
        self._inputs[instance.id] = value
        return value


def _fingerprint_or_none(files: Sequence[Path]) -> str | None:
    """The fingerprint of ``files``; ``None`` (never up to date) when one became unreadable."""
    try:
        return files_fingerprint(files)
    except OSError:
        return None


def _state_output(output_dir: Path, output: OutputFile) -> StateOutput:
    stat = (output_dir / output.path).stat()
    return StateOutput(str(output.path), output.sha256, output.size, stat.st_mtime_ns)


def _restore(instance: Instance, state: SeriesState) -> None:
    instance.status = InstanceStatus.DONE
    instance.outputs = [OutputFile(Path(o.path), o.sha256, o.size) for o in state.outputs]
    instance.timings = [StepTiming(str(s["step"]), str(s["status"]), float(s["seconds"])) for s in state.steps]
    instance.warnings = list(state.warnings)
    instance.notes = {topic: list(entries) for topic, entries in state.notes.items()}
