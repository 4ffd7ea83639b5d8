"""SegImporter: add the DICOM SEG of the input folder that belongs to an instance's image series."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import highdicom as hd
import pydicom
from pydantic import field_validator

from mhubio.core.data import DataItem, Instance
from mhubio.core.errors import StepError
from mhubio.core.fileio import copy_atomic
from mhubio.core.filetypes import FileType
from mhubio.core.module import Input, Module, Output
from mhubio.core.params import Params
from mhubio.dicom._quiet import quiet_pydicom
from mhubio.dicom.scan import scan_folder
from mhubio.seg.codes import segment_codes, segment_names
from mhubio.seg.consistency import MissingReferencePolicy, check_seg_against_series
from mhubio.seg.decode import (
    DEFAULT_FRACTIONAL_THRESHOLD,
    FRACTIONAL_THRESHOLD_META,
    OverlappingSegmentsError,
    check_fractional_threshold,
    decode_label_map,
)


class MultipleSegPolicy(str, Enum):
    """What to do when several SEGs belong to one image series."""

    ERROR = "error"
    """Fail the series, naming the SEGs."""
    LATEST = "latest"
    """Take the SEG with the latest SeriesDate/SeriesTime (then ContentDate/ContentTime)."""


@dataclass(frozen=True)
class _SegFile:
    path: Path
    sop_instance_uid: str
    referenced_series: frozenset[str]
    frame_of_reference_uid: str
    timestamp: str


class SegImporter(Module):
    """Find the DICOM SEG in the input folder that was derived from the instance's series.

    A SEG belongs to the series it references (Referenced Series Sequence).  A
    SEG that references no series is paired by FrameOfReferenceUID, but only
    when exactly one image series of the input folder has that frame of
    reference.  The SEG is copied into the work folder as ``dicomseg:mod=seg``
    with its segment map (SegmentNumber -> segment id, :func:`mhubio.seg.codes.segment_names`:
    the registry id where the codes are known, else ``segment-<number>``, so that every
    segment can be measured); its segments are also written as a label map on the series
    grid (``nifti:mod=seg``, label = SegmentNumber) unless they overlap.

    BINARY, LABELMAP and FRACTIONAL SEGs are read; a voxel of a FRACTIONAL segment
    belongs to it from ``fractional_threshold`` on (0..1; carried to later steps in the
    item's ``fractional_threshold`` metadata).  The run report notes, per series, the SEG
    read (``seg_input``: type, threshold applied, segment names) and every legacy SNOMED RT
    code replaced by its SNOMED CT equivalent (``code_mappings``).

    The SEG must describe the series (:func:`mhubio.seg.consistency.check_seg_against_series`):
    the same FrameOfReferenceUID, every referenced image in the series (``on_missing_references``:
    ``reject`` fails the series, ``warn`` reports it) and at least one frame inside the volume;
    otherwise the series fails with the name of the check.
    """

    class Params(Params):
        on_multiple: MultipleSegPolicy = MultipleSegPolicy.ERROR
        write_label_map: bool = True
        on_missing_references: MissingReferencePolicy = MissingReferencePolicy.REJECT
        fractional_threshold: float = DEFAULT_FRACTIONAL_THRESHOLD

        @field_validator("fractional_threshold")
        @classmethod
        def _threshold(cls, value: float) -> float:
            return check_fractional_threshold(value)

    inputs = {"source": Input("dicom", description="image series the SEG must reference")}
    reads_modalities = frozenset({"SEG"})
    outputs = {
        "seg": Output(FileType.DICOMSEG, {"mod": "seg", "origin": "input"}),
        "labels": Output(FileType.NIFTI, {"mod": "seg", "origin": "input"}, optional=True),
    }

    def setup(self) -> None:
        """Index the SEGs and image series of the input folder once per run."""
        scan = scan_folder(self.context.input_dir)
        self._segs: list[_SegFile] = []
        self._series_by_for: dict[str, set[str]] = {}
        for series in scan.series.values():
            for item in series.instances:
                if item.sop_class_uid in hd.seg.SOP_CLASS_UIDS:
                    self._segs.append(read_seg_header(item.path))
                elif item.frame_of_reference_uid:
                    self._series_by_for.setdefault(item.frame_of_reference_uid, set()).add(series.series_uid)

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Copy the matching SEG, record how its segments are named, and write its label map."""
        source: DataItem = inputs["source"]
        series = source.dicom_series()
        seg_file = self._match(instance.id, series.frame_of_reference_uid)
        try:
            seg = hd.seg.segread(seg_file.path)
        except Exception as exc:  # highdicom and pydicom raise many types for malformed SEGs
            raise StepError(f"DICOM SEG {seg_file.path.name} cannot be read: {type(exc).__name__}") from exc
        for warning in check_seg_against_series(seg, series, self.params.on_missing_references):
            instance.warn(warning)
        try:
            segment_ids = segment_names(seg)
            self._record(instance, seg, segment_ids)
        except ValueError as exc:
            raise StepError(f"DICOM SEG {seg_file.path.name}: {exc}") from exc
        item = outputs["seg"]
        copy_atomic(seg_file.path, item.path)
        item.set_labels(segment_ids)
        item.meta[FRACTIONAL_THRESHOLD_META] = repr(self.params.fractional_threshold)
        if not self.params.write_label_map:
            return
        try:
            labels, _ = decode_label_map(seg, series.reference_image(), self.params.fractional_threshold)
        except OverlappingSegmentsError as exc:
            instance.warn(f"no label map written: {exc}")
            return
        except ValueError as exc:
            raise StepError(f"cannot decode SEG {seg_file.path.name}: {exc}") from exc
        label_item = outputs["labels"]
        label_item.write_image(labels)
        label_item.set_labels(segment_ids)

    def _record(self, instance: Instance, seg: hd.seg.Segmentation, segment_ids: Mapping[int, str]) -> None:
        """Report the SEG read (type, threshold applied, segment names) and every SRT -> SCT mapping applied."""
        segmentation_type = str(seg.SegmentationType)
        entry: dict[str, Any] = {
            "sop_instance_uid": str(seg.SOPInstanceUID),
            "segmentation_type": segmentation_type,
            "segments": {str(number): segment_id for number, segment_id in segment_ids.items()},
        }
        if segmentation_type == "FRACTIONAL":
            entry["fractional_threshold"] = self.params.fractional_threshold
        instance.note("seg_input", entry)
        for codes in segment_codes(seg).values():
            for record in codes.mapping_records():
                instance.note("code_mappings", record)
            for role, code in codes.unmapped:
                instance.warn(f"SEG segment {codes.number}: legacy code SRT {code.value} ({role}) has no SNOMED CT "
                              "equivalent in pydicom's mapping table; kept as found")

    def _match(self, series_uid: str, frame_of_reference_uid: str) -> _SegFile:
        found = [s for s in self._segs if series_uid in s.referenced_series]
        if not found and frame_of_reference_uid:
            if self._series_by_for.get(frame_of_reference_uid) == {series_uid}:
                found = [
                    s for s in self._segs
                    if not s.referenced_series and s.frame_of_reference_uid == frame_of_reference_uid
                ]
        if not found:
            raise StepError(
                f"no DICOM SEG in the input folder references series {series_uid} "
                f"({len(self._segs)} SEG file(s) found)"
            )
        if len(found) > 1:
            if self.params.on_multiple is MultipleSegPolicy.ERROR:
                names = ", ".join(sorted(s.path.name for s in found))
                raise StepError(
                    f"{len(found)} SEGs reference series {series_uid} ({names}); "
                    "set SegImporter.on_multiple: latest to take the newest"
                )
            found.sort(key=lambda s: (s.timestamp, s.sop_instance_uid))
        return found[-1]


def read_seg_header(path: Path) -> _SegFile:
    """The header of a DICOM SEG that the matching needs.

    Raises
    ------
    StepError
        If the file cannot be parsed or lacks SOPInstanceUID or a referenced SeriesInstanceUID.
    """
    try:
        with quiet_pydicom():
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            referenced = frozenset(str(i.SeriesInstanceUID) for i in ds.get("ReferencedSeriesSequence", []))
            stamp_keys = ("SeriesDate", "SeriesTime", "ContentDate", "ContentTime")
            stamp = "".join(str(ds.get(k, "") or "") for k in stamp_keys)
            return _SegFile(path, str(ds.SOPInstanceUID), referenced, str(ds.get("FrameOfReferenceUID", "")), stamp)
    except Exception as exc:  # malformed files make pydicom raise almost anything
        raise StepError(f"DICOM SEG {path.name} cannot be read: {type(exc).__name__}") from exc

