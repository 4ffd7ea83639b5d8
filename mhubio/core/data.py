"""Data model: instances (one unit of work, usually one series) and their data items."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mhubio.core.algorithm import AlgorithmFamily, AlgorithmType
from mhubio.core.fileio import atomic_path
from mhubio.core.filetypes import FileType
from mhubio.core.query import Query

if TYPE_CHECKING:
    import SimpleITK as sitk

    from mhubio.dicom.series import DicomSeries


@dataclass(frozen=True)
class AlgorithmInfo:
    """Identification of the algorithm that produced a data item.

    Used for the SEG/SR algorithm identification and the run report.

    Parameters
    ----------
    name, version:
        Algorithm name and version (non-empty).
    family:
        Segmentation algorithm family (DICOM CID 7162), stated by the module that makes a label map; ``None`` for
        algorithms that do not segment (feature extraction).  A SEG needs it unless ``type`` is ``MANUAL``.
    parameters:
        Settings of the run, recorded with the identification.
    weights:
        File name -> sha256 of the weights that were loaded.
    type:
        Segment Algorithm Type: ``AUTOMATIC`` unless a user gave input or edited the result.
    """

    name: str
    version: str
    family: AlgorithmFamily | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    weights: Mapping[str, str] = field(default_factory=dict)
    type: AlgorithmType = AlgorithmType.AUTOMATIC

    def __post_init__(self) -> None:
        if not self.name.strip() or not self.version.strip():
            raise ValueError("AlgorithmInfo needs a non-empty name and version")
        if self.family is not None and not isinstance(self.family, AlgorithmFamily):
            raise TypeError(f"family must be an AlgorithmFamily (DICOM CID 7162), got {self.family!r}")
        if not isinstance(self.type, AlgorithmType):
            raise TypeError(f"type must be an AlgorithmType, got {self.type!r}")


@dataclass
class DataItem:
    """A file (or, for DICOM, a list of files) with a type and metadata.

    Parameters
    ----------
    type:
        File type.
    path:
        The file, or the common folder of ``files`` for multi-file items.
    meta:
        Metadata used by queries, e.g. ``{"mod": "seg", "model": "segthor"}``.
    files:
        Member files of multi-file items (DICOM series), in slice order.
    labels:
        For label maps: label value -> segment id from :mod:`mhubio.segdb`.
        The ``roi`` metadata is derived from it.
    algorithm:
        The algorithm that produced the item, if any.
    producer:
        Id of the step that produced the item.
    series:
        For DICOM items: the indexed series (sorted instances, geometry, UIDs)
        as the importer found and checked it; see :meth:`dicom_series`.
    image:
        For NIfTI items: the image a step handed over in memory (:meth:`write_image`); the file at ``path``
        exists only once a step needed it (:meth:`materialize`).
    """

    type: FileType
    path: Path
    meta: dict[str, str] = field(default_factory=dict)
    files: tuple[Path, ...] = ()
    labels: dict[int, str] | None = None
    algorithm: AlgorithmInfo | None = None
    producer: str = ""
    series: DicomSeries | None = field(default=None, repr=False, compare=False)
    image: sitk.Image | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.meta = {str(k): str(v) for k, v in self.meta.items()}
        if self.labels is not None:
            self.set_labels(self.labels)

    def set_labels(self, labels: Mapping[int, str]) -> None:
        """Set the label -> segment id map and the derived ``roi`` metadata."""
        bad = [k for k in labels if not isinstance(k, int) or isinstance(k, bool) or k <= 0]
        if bad:
            raise ValueError(f"label values must be positive integers, got {bad}")
        self.labels = {int(k): str(v) for k, v in sorted(labels.items())}
        self.meta["roi"] = ",".join(self.labels.values())

    def dicom_series(self) -> DicomSeries:
        """The indexed series of this DICOM item; ``files`` are indexed once if no importer attached it.

        Raises
        ------
        ValueError
            If the item is not DICOM or its files do not form one series.
        """
        if self.series is None:
            if self.type is not FileType.DICOM or not self.files:
                raise ValueError(f"{self} is not a DICOM series item")
            from mhubio.dicom.scan import index_series

            self.series = index_series(self.files)
        return self.series

    def write_image(self, image: sitk.Image) -> None:
        """Hand ``image`` to later steps in memory; its file is written only when a step needs the file.

        Raises
        ------
        TypeError
            If the item is not a NIfTI item.
        """
        if self.type is not FileType.NIFTI:
            raise TypeError(f"only NIfTI items hold an image, not {self}")
        self.image = image

    def read_image(self) -> sitk.Image:
        """The item's image: the one handed over in memory, else read from ``path``.

        The image is a copy-on-write copy (SimpleITK shares the buffer until either side changes it), so a
        step may change it without changing what later steps read.
        """
        import SimpleITK as sitk

        if self.image is not None:
            return sitk.Image(self.image)
        return sitk.ReadImage(str(self.path))

    def materialize(self, keep_in_memory: bool = True) -> Path:
        """Write the image handed over in memory to ``path`` (atomically, once) and return ``path``.

        ``keep_in_memory=False`` also drops the in-memory image, so later steps read the file.
        """
        if self.image is not None and not self.path.is_file():
            import SimpleITK as sitk

            with atomic_path(self.path) as temporary:
                sitk.WriteImage(self.image, str(temporary))
        if not keep_in_memory:
            self.image = None
        return self.path

    def __str__(self) -> str:
        meta = ":".join(f"{k}={v}" for k, v in self.meta.items())
        return f"{self.type.value}{':' + meta if meta else ''} ({self.path.name})"


class InstanceStatus(Enum):
    """Processing state of an instance."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Failure:
    """Why an instance failed: the step, its message and the traceback."""

    step: str
    message: str
    traceback: str = ""


@dataclass(frozen=True)
class OutputFile:
    """A file written to the output folder, with its checksum."""

    path: Path
    sha256: str
    size: int


@dataclass(frozen=True)
class StepTiming:
    """Outcome and duration of one step on one instance."""

    step: str
    status: str
    seconds: float


UNWRITTEN_OUTPUTS = "unwritten_outputs"
"""Note topic (:attr:`Instance.notes`) of the optional outputs a step left unwritten, with its warnings."""


@dataclass
class Instance:
    """One unit of work (one eligible series, or a matched series pair).

    Parameters
    ----------
    id:
        Stable id, the SeriesInstanceUID of the primary series.
    attributes:
        DICOM attributes of the primary series (keywords -> string values),
        used for output path templates.  May hold PHI: never log them.
    workdir:
        Private scratch folder of this instance.
    """

    id: str
    attributes: dict[str, str]
    workdir: Path
    items: list[DataItem] = field(default_factory=list)
    status: InstanceStatus = InstanceStatus.PENDING
    failure: Failure | None = None
    warnings: list[str] = field(default_factory=list)
    timings: list[StepTiming] = field(default_factory=list)
    outputs: list[OutputFile] = field(default_factory=list)
    notes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Facts that steps record for the run report, by topic (e.g. ``code_mappings``); JSON-ready, no PHI."""
    table_rows: dict[str, list[dict[str, Any]]] | None = field(default=None, repr=False, compare=False)
    """The cohort table rows of a finished series, computed by the worker process that ran it (so that the
    caller does not read its SEGs and SRs again); the caller takes them when it records the series."""
    log: logging.LoggerAdapter = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("an instance needs a non-empty id")
        self.log = _series_logger(self.id)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled state (for worker processes): every field but the logger, which is process-local."""
        state = dict(self.__dict__)
        del state["log"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled instance and attach this process's series logger."""
        self.__dict__.update(state)
        self.log = _series_logger(self.id)

    @property
    def label(self) -> str:
        """PHI-free display name: modality, series number and UID."""
        a = self.attributes
        return f"{a.get('Modality', '?')} series {a.get('SeriesNumber', '?')} ({self.id})"

    def note(self, topic: str, entry: Mapping[str, Any]) -> None:
        """Record ``entry`` (JSON-ready, no header values that identify the patient) under ``topic``."""
        self.notes.setdefault(topic, []).append(dict(entry))

    def add(self, item: DataItem) -> DataItem:
        """Attach ``item`` and return it."""
        self.items.append(item)
        return item

    def find(self, query: Query | str) -> list[DataItem]:
        """All items matched by ``query``, oldest first."""
        q = Query.parse(query) if isinstance(query, str) else query
        return [i for i in self.items if q.matches(i.type, i.meta)]

    def release_memory(self) -> None:
        """Forget what the items keep in memory for later steps, once the series is finished: images handed
        over in memory (whose files are then never written), DICOM headers and the index of a DICOM item's
        files (:meth:`DataItem.dicom_series` indexes them again if asked). Files stay.

        A finished instance is what the caller of a run keeps until its report is written, and what a worker
        process sends back: about 2 kB of index per DICOM file, e.g. 0.6 MB for a series of 300 slices.
        """
        for item in self.items:
            item.image = None
            if item.series is not None:
                item.series.release_headers()
                if item.files:
                    item.series = None

    def warn(self, message: str) -> None:
        """Record a warning for the report and the series log."""
        self.warnings.append(message)
        self.log.warning(message)

    def record_unwritten(self, step: str, output: str, warnings: Sequence[str]) -> None:
        """Note that ``step`` left its optional ``output`` unwritten; ``warnings``: what it warned meanwhile."""
        self.note(UNWRITTEN_OUTPUTS, {"step": step, "output": output, "warnings": list(warnings)})

    def why_without_outputs(self) -> list[str]:
        """The reasons the steps gave for leaving optional outputs unwritten (empty: no step explained any)."""
        return [f"{entry['step']} wrote no {entry['output']}: {warning}"
                for entry in self.notes.get(UNWRITTEN_OUTPUTS, []) for warning in entry["warnings"]]


SERIES_LOGGER = "mhub.series"
"""The one logger of every series; records carry the instance id as ``record.series``."""


def _series_logger(instance_id: str) -> logging.LoggerAdapter:
    """The series' view of :data:`SERIES_LOGGER`: one logger for all (a logger per series would stay in
    :mod:`logging`'s registry for the life of the process, and every level change walks that registry)."""
    return logging.LoggerAdapter(logging.getLogger(SERIES_LOGGER), {"series": instance_id})
