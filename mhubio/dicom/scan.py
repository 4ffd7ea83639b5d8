"""Index every DICOM file below a folder, grouped by series, without copying anything."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, TypeVar, cast

from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import UID

from mhubio.core.forking import map_in_processes
from mhubio.dicom._quiet import quiet_pydicom
from mhubio.dicom.frames import FUNCTIONAL_GROUP_KEYWORDS, frame_planes, has_frame_planes
from mhubio.dicom.plainvalues import Undecoded, plain_floats, plain_integer, plain_strings, plain_text
from mhubio.dicom.series import DicomInstance, DicomSeries
from mhubio.dicom.walk import ScanLimits, walk_files

__all__ = [
    "Bucket", "FileIssue", "FileOutcome", "FilesIndexed", "ScanResult", "index_file", "index_series", "scan_files",
    "scan_folder",
]

MEDIA_STORAGE_DIRECTORY_STORAGE = "1.2.840.10008.1.3.10"

_PIXEL_DATA_TAGS = (0x7FE00008, 0x7FE00009, 0x7FE00010)
_HEADER_KEYWORDS = (
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "FrameOfReferenceUID",
    "PatientID",
    "Modality",
    "SeriesNumber",
    "SeriesDescription",
    "InstanceNumber",
    "AcquisitionTime",
    "ImageType",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "SliceThickness",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "BitsAllocated",
    "SamplesPerPixel",
    "RescaleSlope",
    "RescaleIntercept",
    *FUNCTIONAL_GROUP_KEYWORDS,
)
_SPECIFIC_TAGS = [Tag(k) for k in _HEADER_KEYWORDS] + [Tag(t) for t in _PIXEL_DATA_TAGS]
_REQUIRED_UIDS = ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID")
# Values longer than this are skipped while parsing; only pixel data is that long.
_DEFER_SIZE = 4096
SCAN_BLOCK_FILES = 64
"""Files sent to a scanning process at a time (``processes`` > 1)."""
FilesIndexed = Callable[[int, int], None]
"""A scan's progress callback: called with the files parsed so far and the number of files to parse."""


class FileIssue(NamedTuple):
    """A file that was not indexed, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class ScanResult:
    """Outcome of :func:`scan_folder`.

    Attributes
    ----------
    root
        The scanned folder.
    series
        Indexed series by SeriesInstanceUID.
    non_dicom
        Files that are not DICOM (listed, not an error).
    unreadable
        Files or folders that could not be read: empty, truncated, corrupt,
        permission denied.
    rejected_files
        DICOM files that cannot belong to a series: missing or blank UIDs, invalid
        geometry values, duplicated SOPInstanceUID.
    ignored
        Valid DICOM files that are not images of a series (DICOMDIR).
    n_files
        Number of files examined.
    """

    root: Path
    series: dict[str, DicomSeries] = field(default_factory=dict)
    non_dicom: list[Path] = field(default_factory=list)
    unreadable: list[FileIssue] = field(default_factory=list)
    rejected_files: list[FileIssue] = field(default_factory=list)
    ignored: list[FileIssue] = field(default_factory=list)
    n_files: int = 0

    @property
    def n_instances(self) -> int:
        """Number of indexed DICOM instances over all series (a multi-frame instance counts once)."""
        return sum(len({i.sop_instance_uid for i in s.instances}) for s in self.series.values())


class _NotDicom(Exception):
    pass


class _Unreadable(Exception):
    pass


class _Rejected(Exception):
    pass


class _Ignored(Exception):
    pass


def scan_folder(root: Path | str, limits: ScanLimits | None = None, processes: int = 1,
                progress: FilesIndexed | None = None) -> ScanResult:
    """Index all DICOM files below ``root``, whatever the layout and file names.

    Only the header attributes the framework needs are parsed (pixel data is
    skipped), files are indexed in place and bad files never stop the scan.

    Parameters
    ----------
    root
        Folder to scan recursively.
    limits
        Depth and file-count limits (:class:`~mhubio.dicom.walk.ScanLimits`); defaults apply when ``None``.
    processes
        Processes that parse the headers (see :func:`scan_files`).
    progress
        Called as the files are parsed (see :func:`scan_files`).

    Returns
    -------
    ScanResult
        Series grouped by SeriesInstanceUID plus every file that was not indexed,
        with the reason.

    Raises
    ------
    NotADirectoryError
        If ``root`` is not an existing folder.
    InputLimitError
        If the folder exceeds ``limits``.
    """
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"input folder {root} does not exist or is not a folder")
    walk_errors: list[FileIssue] = []

    def on_walk_error(error: OSError) -> None:
        reason = "permission denied" if isinstance(error, PermissionError) else str(error)
        walk_errors.append(FileIssue(Path(error.filename), f"unreadable folder: {reason}"))

    files = walk_files(root, limits or ScanLimits(), on_walk_error)
    result = scan_files(files, root=root, processes=processes, progress=progress)
    result.unreadable.extend(walk_errors)
    return result


def scan_files(paths: Iterable[Path], root: Path | None = None, processes: int = 1,
               progress: FilesIndexed | None = None) -> ScanResult:
    """Index the given files (see :func:`scan_folder`), e.g. to re-read a known series.

    Parameters
    ----------
    paths
        Files to index, in the order duplicates are resolved (first one wins).
    root
        Recorded as :attr:`ScanResult.root`; defaults to the files' common folder.
    processes
        Processes that parse the headers, forked (:func:`~mhubio.core.forking.map_in_processes`); the result
        is the same for any number.
    progress
        Called with the files parsed so far and the number of files: before the first, every
        :data:`SCAN_BLOCK_FILES` files and after the last.
    """
    paths = [Path(p) for p in paths]
    if root is None:
        root = Path(os.path.commonpath(paths)) if paths else Path()
        root = root if root.is_dir() else root.parent
    result = ScanResult(root=root, n_files=len(paths))
    by_series: dict[str, dict[str, list[DicomInstance]]] = {}
    if progress is not None and paths:
        progress(0, len(paths))
    outcomes = map_in_processes(index_file, paths, processes, SCAN_BLOCK_FILES)
    for parsed, (path, outcome) in enumerate(zip(paths, outcomes, strict=True), start=1):
        if progress is not None and (parsed % SCAN_BLOCK_FILES == 0 or parsed == len(paths)):
            progress(parsed, len(paths))
        if outcome.bucket is not None:
            if outcome.bucket is Bucket.NON_DICOM:
                result.non_dicom.append(path)
            else:
                getattr(result, outcome.bucket.value).append(FileIssue(path, outcome.reason))
            continue
        first = outcome.frames[0]
        members = by_series.setdefault(first.series_instance_uid, {})
        earlier = members.get(first.sop_instance_uid)
        if earlier is not None:
            result.rejected_files.append(
                FileIssue(
                    path,
                    f"duplicate SOPInstanceUID: {first.sop_instance_uid}, already indexed from {earlier[0].path}",
                )
            )
            continue
        members[first.sop_instance_uid] = outcome.frames
    for uid, members in by_series.items():
        result.series[uid] = DicomSeries(tuple(i for frames in members.values() for i in frames))
    return result


def index_series(paths: Iterable[Path]) -> DicomSeries:
    """Index files that must form exactly one series (e.g. a DICOM item made without the importer).

    Raises
    ------
    ValueError
        If a file is not a readable, usable DICOM file, or the files belong to several series.
    """
    scanned = scan_files(paths)
    problems = [*scanned.unreadable, *scanned.rejected_files, *scanned.ignored]
    problems += [FileIssue(path, "not a DICOM file") for path in scanned.non_dicom]
    if problems:
        raise ValueError(f"{problems[0].path.name}: {problems[0].reason}")
    if len(scanned.series) != 1:
        raise ValueError(f"the files hold {len(scanned.series)} series, expected one")
    (series,) = scanned.series.values()
    return series


class Bucket(Enum):
    """The :class:`ScanResult` list of a file that was not indexed."""

    NON_DICOM = "non_dicom"
    UNREADABLE = "unreadable"
    REJECTED = "rejected_files"
    IGNORED = "ignored"


class FileOutcome(NamedTuple):
    """What indexing one file gave: its instances (one per frame with its own plane), or why none."""

    frames: list[DicomInstance]
    bucket: Bucket | None = None
    reason: str = ""


def index_file(path: Path) -> FileOutcome:
    """Index one file; never raises for a bad file (the reason is in the outcome)."""
    try:
        with quiet_pydicom():
            return FileOutcome(_read_instance(path))
    except _NotDicom:
        return FileOutcome([], Bucket.NON_DICOM)
    except _Unreadable as exc:
        return FileOutcome([], Bucket.UNREADABLE, str(exc))
    except _Rejected as exc:
        return FileOutcome([], Bucket.REJECTED, str(exc))
    except _Ignored as exc:
        return FileOutcome([], Bucket.IGNORED, str(exc))
    except Exception as exc:  # malformed files make pydicom raise almost anything
        return FileOutcome([], Bucket.UNREADABLE, f"cannot be parsed: {exc}")


def _read_instance(path: Path) -> list[DicomInstance]:
    """Read the minimal header of one file (one instance per frame of an enhanced multi-frame file).

    Raises the exception naming the list the file goes to.
    """
    dataset, size = _read_header(path)
    _check_complete(dataset, size)
    sop_class = _sop_class(dataset)
    if sop_class == MEDIA_STORAGE_DIRECTORY_STORAGE:
        raise _Ignored("DICOMDIR (media storage directory), not an image")
    missing = [k for k in _REQUIRED_UIDS if not _text(dataset, k).strip()]
    if missing:
        raise _Rejected(f"missing or empty UIDs: {', '.join(missing)}")
    try:
        instance = _instance_from_dataset(path, dataset)
        if has_frame_planes(dataset, sop_class):
            return _frames(instance, dataset)
    except (ValueError, TypeError, OverflowError) as exc:
        raise _Rejected(f"invalid header value: {exc}") from exc
    return [instance]


def _frames(instance: DicomInstance, dataset: Dataset) -> list[DicomInstance]:
    """One instance per frame, with the frame's plane, pixel measures and rescale."""
    return [
        replace(
            instance,
            frame_number=plane.frame_number,
            image_position=plane.image_position,
            image_orientation=plane.image_orientation,
            pixel_spacing=plane.pixel_spacing,
            slice_thickness=plane.slice_thickness,
            rescale_slope=plane.rescale_slope,
            rescale_intercept=plane.rescale_intercept,
        )
        for plane in frame_planes(dataset)
    ]


def _read_header(path: Path) -> tuple[Dataset, int]:
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise _Unreadable("not a regular file")
        with path.open("rb") as fp:
            return _parse_header(fp, status.st_size)
    except PermissionError as exc:
        raise _Unreadable("permission denied") from exc
    except OSError as exc:
        raise _Unreadable(f"cannot be read: {exc.strerror or exc}") from exc


def _parse_header(fp: BinaryIO, size: int) -> tuple[Dataset, int]:
    if size == 0:
        raise _Unreadable("empty file (0 bytes)")
    head = fp.read(132)
    has_preamble = head[128:132] == b"DICM"
    if not has_preamble and not _looks_like_raw_dataset(head):
        raise _NotDicom
    fp.seek(0)
    try:
        dataset = dcmread(
            fp,
            force=not has_preamble,
            specific_tags=_SPECIFIC_TAGS,
            defer_size=_DEFER_SIZE,
        )
    except Exception as exc:  # malformed files make pydicom raise almost anything
        if not has_preamble:
            raise _NotDicom from exc
        raise _Unreadable(f"corrupt or truncated DICOM file: {exc}") from exc
    if not has_preamble and not any(k in dataset for k in _REQUIRED_UIDS + ("SOPClassUID",)):
        raise _NotDicom
    return dataset, size


def _looks_like_raw_dataset(head: bytes) -> bool:
    """Whether a file without preamble starts like a little endian data set."""
    if len(head) < 8:
        return False
    group = int.from_bytes(head[0:2], "little")
    return group in (0x0002, 0x0008)


def _check_complete(dataset: Dataset, size: int) -> None:
    for tag in _PIXEL_DATA_TAGS:
        element = dataset.get_item(tag, keep_deferred=True)
        if element is None:
            continue
        if isinstance(element, RawDataElement) and element.length != 0xFFFFFFFF:
            end = element.value_tell + element.length
            value = element.value
            if end > size or (value is not None and len(value) < element.length):
                raise _Unreadable(
                    f"truncated file: pixel data needs {end} bytes, the file has {size}"
                )
        return
    if ("Rows" in dataset and "Columns" in dataset) or "Image Storage" in UID(_sop_class(dataset)).name:
        raise _Unreadable("image object without pixel data (truncated file?)")


def _sop_class(dataset: Dataset) -> str:
    meta = getattr(dataset, "file_meta", None)
    media = _text(meta, "MediaStorageSOPClassUID") if meta is not None else ""
    return media or _text(dataset, "SOPClassUID")


def _instance_from_dataset(path: Path, ds: Dataset) -> DicomInstance:
    meta = getattr(ds, "file_meta", None)
    return DicomInstance(
        path=path,
        sop_instance_uid=_text(ds, "SOPInstanceUID").strip(),
        series_instance_uid=_shared(_text(ds, "SeriesInstanceUID").strip()),
        study_instance_uid=_shared(_text(ds, "StudyInstanceUID").strip()),
        sop_class_uid=_shared(_text(ds, "SOPClassUID").strip()),
        frame_of_reference_uid=_shared(_text(ds, "FrameOfReferenceUID").strip()),
        modality=_shared(_text(ds, "Modality").strip()),
        patient_id=_shared(str(ds.get("PatientID", "") or "")),
        series_number=_integer(ds, "SeriesNumber"),
        series_description=_shared(str(ds.get("SeriesDescription", "") or "")),
        instance_number=_integer(ds, "InstanceNumber"),
        acquisition_time=_shared(_text(ds, "AcquisitionTime")),
        image_type=_shared(_strings(ds, "ImageType")),
        image_position=_floats3(ds, "ImagePositionPatient"),
        image_orientation=_shared(_floats6(ds, "ImageOrientationPatient")),
        pixel_spacing=_shared(_floats2(ds, "PixelSpacing")),
        slice_thickness=_shared(_float(ds, "SliceThickness")),
        rows=_integer(ds, "Rows"),
        columns=_integer(ds, "Columns"),
        number_of_frames=_integer(ds, "NumberOfFrames") or 1,
        transfer_syntax_uid=_shared(_text(meta, "TransferSyntaxUID") if meta is not None else ""),
        bits_allocated=_integer(ds, "BitsAllocated"),
        samples_per_pixel=_integer(ds, "SamplesPerPixel"),
        rescale_slope=_shared(_float(ds, "RescaleSlope")),
        rescale_intercept=_shared(_float(ds, "RescaleIntercept")),
    )


_SHARED_LIMIT = 4096
"""Distinct values :func:`_shared` remembers before it starts afresh."""
_shared_values: dict[tuple[type, str | tuple[str, ...]], Any] = {}

_V = TypeVar("_V", bound="str | float | tuple[str | float, ...] | None")


def _shared(value: _V) -> _V:
    """One object for a header value that repeats across the files of a series (UIDs, modality, orientation,
    spacing, slice thickness, rescale), so that the index of a large input holds it once rather than once per
    file (about half of an index entry's memory).

    Values are matched by type and text (``repr`` for floats, so that -0.0 stays apart from 0.0); the memory
    is bounded by :data:`_SHARED_LIMIT` values.
    """
    if value is None or value == "":
        return value
    if isinstance(value, str):
        key: tuple[type, str | tuple[str, ...]] = (str, value)
    elif isinstance(value, float):
        key = (float, repr(value))
    else:
        key = (type(value), tuple(map(repr, value)))
    if len(_shared_values) >= _SHARED_LIMIT:
        _shared_values.clear()
    return cast(_V, _shared_values.setdefault(key, value))


def _text(ds: Dataset, keyword: str) -> str:
    """``str`` of a single-valued text attribute's value; ``""`` where absent or empty."""
    try:
        return plain_text(ds, keyword)
    except Undecoded:
        return str(ds.get(keyword, "") or "")


def _integer(ds: Dataset, keyword: str) -> int | None:
    try:
        return plain_integer(ds, keyword)
    except Undecoded:
        return cast("int | None", _optional(ds, keyword, int))


def _float(ds: Dataset, keyword: str) -> float | None:
    """A single-valued ``DS``; pydicom converts (and rejects) what is not one plain value."""
    try:
        values = plain_floats(ds, keyword)
        if values is None or len(values) == 1:
            return None if values is None else values[0]
    except Undecoded:
        pass
    return cast("float | None", _optional(ds, keyword, float))


def _value(ds: Dataset, keyword: str) -> Any:
    try:
        value = ds.get(keyword)
    except Exception as exc:  # pydicom raises various errors for malformed values
        raise ValueError(f"{keyword} cannot be decoded ({exc})") from exc
    if value is None or value == "":
        return None
    return value


def _optional(ds: Dataset, keyword: str, kind: Callable[[Any], Any]) -> Any:
    value = _value(ds, keyword)
    if value is None:
        return None
    try:
        return kind(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{keyword} has the invalid value {value!r}") from exc


def _floats(ds: Dataset, keyword: str) -> tuple[float, ...] | None:
    try:
        return plain_floats(ds, keyword)
    except Undecoded:
        pass
    value = _value(ds, keyword)
    if value is None:
        return None
    values = [value] if isinstance(value, (str, bytes)) or not isinstance(value, Iterable) else value
    try:
        return tuple(float(v) for v in values)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{keyword} has the invalid value {value!r}") from exc


def _counted(ds: Dataset, keyword: str, count: int) -> tuple[float, ...] | None:
    """Float values of ``keyword``, checked to be ``count`` many (as :class:`DicomInstance` requires)."""
    values = _floats(ds, keyword)
    if values is not None and len(values) != count:
        raise ValueError(f"{keyword} must have {count} values, got {len(values)}")
    return values


def _floats2(ds: Dataset, keyword: str) -> tuple[float, float] | None:
    values = _counted(ds, keyword, 2)
    return None if values is None else (values[0], values[1])


def _floats3(ds: Dataset, keyword: str) -> tuple[float, float, float] | None:
    values = _counted(ds, keyword, 3)
    return None if values is None else (values[0], values[1], values[2])


def _floats6(ds: Dataset, keyword: str) -> tuple[float, float, float, float, float, float] | None:
    values = _counted(ds, keyword, 6)
    return None if values is None else (values[0], values[1], values[2], values[3], values[4], values[5])


def _strings(ds: Dataset, keyword: str) -> tuple[str, ...]:
    try:
        return tuple(v.strip().upper() for v in plain_strings(ds, keyword))
    except Undecoded:
        pass
    value = _value(ds, keyword)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value.strip().upper(),)
    return tuple(str(v).strip().upper() for v in value)
