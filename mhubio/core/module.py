"""Module base classes: what a step declares and how the runner calls it.

A module declares, in one place on its class:

- ``Params``: a :class:`~mhubio.core.params.Params` subclass with typed fields
  and defaults;
- ``inputs``: name -> :class:`Input` (a default query, overridable per step);
- ``outputs``: name -> :class:`Output` (file type and metadata of what it writes);

and implements :meth:`Module.process`, called once per instance with the
resolved input items and pre-allocated output items.  Heavy libraries (torch,
nnU-Net) are imported inside methods so that loading a workflow stays fast.

Example
-------
>>> class Thresholder(Module):
...     class Params(Params):
...         lower_hu: float = -500.0
...     inputs = {"ct": Input("nifti:mod=ct")}
...     outputs = {"seg": Output(FileType.NIFTI, {"mod": "seg"})}
...     def process(self, instance, inputs, outputs):
...         ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from mhubio.core.data import DataItem, Instance
from mhubio.core.filetypes import FileType
from mhubio.core.params import Params as _BaseParams
from mhubio.core.query import Query
from mhubio.core.threads import usable_cores


@dataclass(frozen=True)
class Input:
    """A declared input.

    Parameters
    ----------
    query:
        Default query selecting the item(s); a step may override it.
    many:
        Pass all matching items (a list) instead of the most recent one.
    optional:
        The step runs even if nothing matches (the input is then ``None`` or ``[]``).
    needs_file:
        The step reads the item's ``path``, so an image handed over in memory is written to its file first.
        ``False``: the step reads images with :meth:`~mhubio.core.data.DataItem.read_image` only.
    """

    query: str
    many: bool = False
    optional: bool = False
    description: str = ""
    needs_file: bool = True

    def __post_init__(self) -> None:
        Query.parse(self.query)


@dataclass(frozen=True)
class Output:
    """A declared output.

    Parameters
    ----------
    type:
        File type of the item.
    meta:
        Metadata of the item; ``"*"`` marks a value known only at run time.
    inherit:
        Name of an input whose metadata is copied first (then ``meta`` applied).
    optional:
        The module may decide not to write it.
    """

    type: FileType
    meta: Mapping[str, str] = field(default_factory=dict)
    inherit: str | None = None
    optional: bool = False
    description: str = ""


@dataclass(frozen=True)
class ModelInfo:
    """The model a workflow belongs to."""

    name: str
    version: str
    directory: Path | None = None


@dataclass(frozen=True)
class RunContext:
    """Run-wide settings passed to every module."""

    input_dir: Path
    output_dir: Path
    work_dir: Path
    model: ModelInfo
    weights_dir: Path | None = None
    workflow: str = "default"
    keep_work: bool = False
    """Every step's outputs are written to the scratch folder, and later steps read them from there
    (``--keep-work``), instead of images being handed over in memory."""
    workers: int = 1
    """Processes of this run on this machine (``--workers``); the DICOM importer parses the input's headers on
    as many, or on the usable cores if there are more."""


_P = TypeVar("_P", bound=_BaseParams)


class Module(Generic[_P]):
    """Base class of every step of a workflow."""

    Params: ClassVar[type[_BaseParams]] = _BaseParams
    inputs: ClassVar[Mapping[str, Input]] = {}
    outputs: ClassVar[Mapping[str, Output]] = {}
    reads_modalities: ClassVar[frozenset[str]] = frozenset()
    """Modalities of the series this step reads from the input folder itself (e.g. ``SEG``): the importer's
    QC does not list them as skipped (:meth:`ImportResult.set_aside_inputs`)."""

    def __init__(self, step_id: str, params: _P, context: RunContext) -> None:
        if not isinstance(params, self.Params):
            raise TypeError(f"{type(self).__name__} needs {self.Params.__qualname__}, got {type(params).__name__}")
        self.step_id = step_id
        self.params = params
        self.context = context
        self._ready = False

    @classmethod
    def module_name(cls) -> str:
        """Name used in workflow files (the class name)."""
        return cls.__name__

    def declare_outputs(self) -> Mapping[str, Output]:
        """Outputs of this step; override when they depend on parameters."""
        return self.outputs

    def preflight(self) -> None:
        """Check run-wide prerequisites (weights, tools) before any data is read.

        Raise :class:`~mhubio.core.errors.WeightsError` or
        :class:`~mhubio.core.errors.ConfigError` to stop the run.
        """

    def setup(self) -> None:
        """Load expensive resources (models) once per run, before the first instance."""

    def preload(self) -> None:
        """Load read-only tables every process running this step needs, before worker processes are forked.

        Called once in the process that forks the ``--workers`` processes (never with one worker or for
        spawned workers), so that the workers inherit one copy instead of each loading its own on its first
        series. Must not start threads or touch a GPU.
        """

    def ensure_setup(self) -> None:
        """Call :meth:`setup` once."""
        if not self._ready:
            self.setup()
            self._ready = True

    def teardown(self) -> None:
        """Release resources at the end of the run."""

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Process one instance.

        Parameters
        ----------
        instance:
            The instance (series) being processed.
        inputs:
            Input name -> :class:`DataItem` (or a list for ``many`` inputs, or
            ``None`` for an optional input with no match).
        outputs:
            Output name -> pre-allocated :class:`DataItem`; write each to its
            ``path`` (and set ``labels``/``algorithm`` where relevant).
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement process()")


@dataclass(frozen=True)
class SkippedSeries:
    """A series that was found but not processed, with the reason."""

    series_uid: str
    modality: str
    series_number: str
    check: str
    reason: str


MODALITY_CHECK = "modality"
"""Name of the series check that leaves out series of other modalities (``QCCheck.MODALITY``)."""


@dataclass(frozen=True)
class InputSeries:
    """A series that the importer does not process but a later step reads (e.g. the SEG of a radiomics run)."""

    series_uid: str
    modality: str
    series_number: str
    read_by: str
    """Step that reads it."""


@dataclass
class ImportResult:
    """What an importer found in the input folder.

    A file's reason reads ``"<kind>: <details>"`` or just ``"<kind>"``: the kind is a fixed phrase ("missing or
    empty UIDs", "empty file (0 bytes)") that summaries count by; the details may quote the file's header.
    """

    instances: list[Instance]
    skipped: list[SkippedSeries] = field(default_factory=list)
    files_scanned: int = 0
    non_dicom: list[Path] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    """Files that could not be read (empty, truncated, permission), with the reason."""
    rejected_files: list[tuple[Path, str]] = field(default_factory=list)
    """DICOM files that cannot belong to a series (blank UIDs, duplicate SOPInstanceUID), with the reason."""
    input_series: list[InputSeries] = field(default_factory=list)
    """Series left out by the modality check because a later step reads them."""

    def set_aside_inputs(self, read_by: Mapping[str, str]) -> None:
        """Move the series skipped only for their modality, where ``read_by`` (modality -> step id) names a
        step that reads that modality, from :attr:`skipped` to :attr:`input_series`."""
        kept: list[SkippedSeries] = []
        for series in self.skipped:
            step = read_by.get(series.modality.upper()) if series.check == MODALITY_CHECK else None
            if step is None:
                kept.append(series)
            else:
                self.input_series.append(
                    InputSeries(series.series_uid, series.modality, series.series_number, step)
                )
        self.skipped[:] = kept

    def file_summary(self) -> list[str]:
        """One line per list of files left out, counted by the kind of reason, e.g.
        ``"20 files rejected: missing or empty UIDs"``; no header value is quoted."""
        lines = [
            f"{_files(len(issues))} {verb}: {_counted_kinds(issues)}"
            for verb, issues in (("rejected", self.rejected_files), ("unreadable", self.unreadable))
            if issues
        ]
        if self.non_dicom:
            lines.append(f"{_files(len(self.non_dicom))} not DICOM")
        return lines


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


def _counted_kinds(issues: list[tuple[Path, str]]) -> str:
    """``"missing or empty UIDs"`` when all share that kind, else ``"2 missing or empty UIDs, 1 ..."``."""
    counts: dict[str, int] = {}
    for _, reason in issues:
        kind = reason.partition(":")[0].strip()
        counts[kind] = counts.get(kind, 0) + 1
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


class Importer(Module):
    """First step of every workflow: turns the input folder into instances."""

    files_read: Callable[[int, int], None] | None = None
    """Where :meth:`import_instances` reports its progress, if it does: called with the input's files read so far
    and the number of files (:data:`~mhubio.dicom.scan.FilesIndexed`). The runner sets it to its progress
    printer's :meth:`~mhubio.core.logs.ProgressPrinter.files_indexed`; an importer that ignores it still works."""

    def import_instances(self, input_dir: Path) -> ImportResult:
        """Scan ``input_dir`` and return one instance per eligible unit of work (reporting to :attr:`files_read`)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement import_instances()")

    @property
    def scan_processes(self) -> int:
        """Processes that parse the input's headers: as many as the run has workers, and at least as many as there
        are usable cores (:func:`~mhubio.core.threads.usable_cores`), as one worker's steps use every core too."""
        return max(self.context.workers, usable_cores())

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Importers do their work in :meth:`import_instances`."""
