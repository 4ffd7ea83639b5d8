"""Download the series of a :class:`DicomwebLocation` into a folder, one sub-folder per series."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
from dicomweb_client import DICOMwebClient

from mhubio.core.errors import NoInputError
from mhubio.core.fileio import atomic_path
from mhubio.dicomweb.errors import TRANSFER_ERRORS, DicomwebError, explain, is_server_problem
from mhubio.dicomweb.location import DicomwebLocation

log = logging.getLogger("mhub")
_STUDY_UID, _SERIES_UID, _INSTANCE_COUNT = "0020000D", "0020000E", "00201209"
# the instances as stored on the server: no transcoding (which could be lossy or unsupported)
_AS_STORED = (("application/dicom", "*"),)


@dataclass
class SeriesDownload:
    """Outcome of downloading one series (``error`` set when it failed; nothing of it is then kept)."""

    study_uid: str
    series_uid: str
    folder: str
    expected: int | None = None
    """NumberOfSeriesRelatedInstances from the QIDO-RS search (None when the server does not say)."""
    instances: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether every instance of the series was downloaded."""
        return self.error is None


@dataclass
class DownloadResult:
    """The series found for a location and what became of each."""

    location: DicomwebLocation
    folder: Path
    series: list[SeriesDownload]

    @property
    def failed(self) -> list[SeriesDownload]:
        """Series that could not be downloaded."""
        return [s for s in self.series if not s.ok]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary for the report."""
        return {**self.location.describe(), "series": [vars(s) for s in self.series]}


def download_series(client: DICOMwebClient, location: DicomwebLocation, folder: Path,
                    progress: Callable[[int, int], None] | None = None) -> DownloadResult:
    """Find the series of ``location`` (QIDO-RS) and stream each one into ``folder/series-NNN`` (WADO-RS).

    A series that fails is removed and recorded; the others are kept. ``progress``, where given, is called with
    the series finished so far (downloaded or failed) and the number of series: before the first and after each.

    Raises
    ------
    DicomwebError
        The server cannot be used (unreachable, TLS, credentials) or no series could be downloaded.
    NoInputError
        The location matches no series.
    """
    targets = _find_series(client, location)
    if not targets:
        raise NoInputError(f"no series on {location.describe()['server']} matches the input URL")
    result = DownloadResult(location, folder, [])
    if progress is not None:
        progress(0, len(targets))
    for number, (study_uid, series_uid, expected) in enumerate(targets, start=1):
        entry = SeriesDownload(study_uid, series_uid, f"series-{number:03d}", expected)
        result.series.append(entry)
        target = folder / entry.folder
        try:
            for dataset in client.iter_series(study_uid, series_uid, media_types=_AS_STORED):
                entry.instances += 1
                with atomic_path(target / f"{entry.instances:05d}.dcm") as tmp:
                    pydicom.dcmwrite(tmp, dataset, enforce_file_format=True)
            if entry.instances == 0:
                entry.error = "the server returned no instance"
            elif expected is not None and entry.instances != expected:
                # a server that loses an instance may end the multipart stream early without an error
                entry.error = f"incomplete: the server sent {entry.instances} of its {expected} instances"
        except TRANSFER_ERRORS as exc:
            shutil.rmtree(target, ignore_errors=True)
            if is_server_problem(exc):
                raise DicomwebError(f"retrieving a series (WADO-RS) failed: {explain(exc, client.base_url)}") from None
            entry.error = explain(exc, client.base_url)
        if entry.error is not None:
            log.warning("DICOMweb series %d of %d not downloaded: %s", number, len(targets), entry.error)
            shutil.rmtree(target, ignore_errors=True)
            entry.instances = 0
        if progress is not None:
            progress(number, len(targets))
    if all(not s.ok for s in result.series):
        reasons = sorted({s.error or "" for s in result.series})
        raise DicomwebError(f"none of the {len(targets)} series could be downloaded: {'; '.join(reasons)}")
    return result


def _find_series(client: DICOMwebClient, location: DicomwebLocation) -> list[tuple[str, str, int | None]]:
    """(study, series, instance count) of every series of ``location``, from a QIDO-RS search."""
    filters = dict(location.filters)
    if location.series_uid is not None:
        filters["SeriesInstanceUID"] = location.series_uid
    try:
        found = client.search_for_series(
            study_instance_uid=location.study_uid, search_filters=filters or None,
            fields=["StudyInstanceUID", "SeriesInstanceUID", "NumberOfSeriesRelatedInstances"], get_remaining=True,
        )
    except TRANSFER_ERRORS as exc:
        raise DicomwebError(f"searching the series (QIDO-RS) failed: {explain(exc, client.base_url)}") from None
    series: dict[tuple[str, str], int | None] = {}
    for item in found:
        study = _value(item, _STUDY_UID) or location.study_uid
        uid = _value(item, _SERIES_UID)
        count = _value(item, _INSTANCE_COUNT)
        if study and uid:
            series.setdefault((str(study), str(uid)), int(count) if count is not None else None)
    return [(study, uid, count) for (study, uid), count in series.items()]


def _value(item: dict[str, Any], tag: str) -> Any:
    values = item.get(tag, {}).get("Value") or [None]
    return values[0]
