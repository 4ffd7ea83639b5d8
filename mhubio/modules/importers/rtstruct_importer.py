"""RtstructImporter: the RT Structure Set of the input folder that references an instance's image series."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.uid import RTStructureSetStorage

from mhubio.core.data import DataItem, Instance
from mhubio.core.errors import StepError
from mhubio.core.fileio import atomic_path
from mhubio.core.filetypes import FileType
from mhubio.core.module import Input, Output
from mhubio.core.params import Params
from mhubio.dicom._quiet import quiet_pydicom
from mhubio.dicom.scan import scan_folder
from mhubio.modules._highdicom import HighdicomWriter
from mhubio.modules.importers.seg_importer import MultipleSegPolicy
from mhubio.rtstruct import ContourOffGridError, read_rois, referenced_series
from mhubio.rtstruct.to_seg import RasterisedRoi, encode_roi_segmentation, roi_name

_HEADER_TAGS = ["SOPInstanceUID", "ReferencedFrameOfReferenceSequence", "StructureSetDate", "StructureSetTime"]


@dataclass(frozen=True)
class _StructureSetFile:
    path: Path
    sop_instance_uid: str
    referenced_series: frozenset[str]
    timestamp: str


class RtstructImporter(HighdicomWriter):
    """Find the RT Structure Set that references the instance's series and rasterise its ROIs onto the series.

    A structure set belongs to the series its Referenced Frame of Reference Sequence names
    (RT Referenced Series Sequence).  Each ROI with closed planar contours becomes a segment of a BINARY DICOM
    SEG on the series grid (``dicomseg:mod=seg:origin=rtstruct``; ROIs may overlap), named by its codes (a
    registry id when they are a registry entry) or else by its ROI Name, kept as text
    (:mod:`mhubio.rtstruct.to_seg`).  The SEG is what later steps measure and reference; write it to the
    output folder with the results that reference it.  A voxel belongs to an ROI when its centre is inside
    (or on) an odd number of the ROI's contours on that slice (:mod:`mhubio.rtstruct.contours`).

    ``write_label_map`` also writes the ROIs as a label map on the series grid (``nifti:mod=seg``, label =
    SegmentNumber) when no two of them overlap (with a warning otherwise).

    ROIs in another frame of reference, or with contours off the series' slice planes, fail the series;
    ROIs without area (points, open contours) or without any voxel are left out with a warning.
    """

    class Params(Params):
        on_multiple: MultipleSegPolicy = MultipleSegPolicy.ERROR
        series_number: int = 904
        write_label_map: bool = False

    inputs = {"source": Input("dicom", description="image series the structure set must reference")}
    outputs = {
        "seg": Output(FileType.DICOMSEG, {"mod": "seg", "origin": "rtstruct"}),
        "labels": Output(FileType.NIFTI, {"mod": "seg", "origin": "rtstruct"}, optional=True),
    }

    def setup(self) -> None:
        """Index the structure sets of the input folder once per run."""
        scan = scan_folder(self.context.input_dir)
        self._files = [
            _read_header(item.path)
            for series in scan.series.values()
            for item in series.instances
            if item.sop_class_uid == RTStructureSetStorage
        ]

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Rasterise every ROI and write them as one SEG."""
        series = inputs["source"].dicom_series()
        found = self._match(instance.id)
        try:
            with quiet_pydicom():
                dataset = pydicom.dcmread(found.path)
            rois = read_rois(dataset)
        except Exception as exc:  # malformed files make pydicom raise almost anything
            raise StepError(f"RT Structure Set {found.path.name} cannot be read: {type(exc).__name__}") from exc
        grid = series.reference_image()
        rasterised: list[RasterisedRoi] = []
        for roi in rois:
            name = roi_name(roi)
            if roi.frame_of_reference_uid and roi.frame_of_reference_uid != series.frame_of_reference_uid:
                raise StepError(f"ROI {roi.number} ({name}) is in another frame of reference than the series")
            if roi.ignored_contours:
                instance.warn(f"ROI {roi.number} ({name}): {roi.ignored_contours} contour(s) without area ignored")
            try:
                mask = roi.mask(grid)
            except ContourOffGridError as exc:
                raise StepError(f"ROI {roi.number} ({name}): {exc}") from exc
            if not mask.any():
                instance.warn(f"ROI {roi.number} ({name}) covers no voxel centre of the series; left out")
                continue
            rasterised.append(RasterisedRoi(roi, mask))
        names = [roi_name(r.roi) for r in rasterised]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise StepError(f"RT Structure Set {found.path.name} has several ROIs named {', '.join(repeated)}")
        if not rasterised:
            raise StepError(f"no ROI of RT Structure Set {found.path.name} covers a voxel of the series")
        seg, labels = encode_roi_segmentation(rasterised, series.headers(), dataset,
                                              series_number=self.params.series_number)
        item = outputs["seg"]
        item.set_labels(labels)
        with atomic_path(item.path) as tmp:
            seg.save_as(tmp, enforce_file_format=True)
        if self.params.write_label_map:
            self._write_label_map(instance, rasterised, grid, labels, outputs["labels"])

    @staticmethod
    def _write_label_map(
        instance: Instance, rois: list[RasterisedRoi], grid: sitk.Image, labels: dict[int, str], item: DataItem
    ) -> None:
        if np.sum([r.mask for r in rois], axis=0, dtype=np.uint16).max() > 1:
            instance.warn("no label map written: ROIs of the RT Structure Set overlap")
            return
        array = np.zeros(rois[0].mask.shape, dtype=np.uint8 if len(rois) < 256 else np.uint16)
        for number, roi in enumerate(rois, start=1):
            array[roi.mask] = number
        image = sitk.GetImageFromArray(array)
        image.CopyInformation(grid)
        item.write_image(image)
        item.set_labels(labels)

    def _match(self, series_uid: str) -> _StructureSetFile:
        found = [f for f in self._files if series_uid in f.referenced_series]
        if not found:
            raise StepError(f"no RT Structure Set in the input folder references series {series_uid} "
                            f"({len(self._files)} RT Structure Set file(s) found)")
        if len(found) > 1:
            if self.params.on_multiple is MultipleSegPolicy.ERROR:
                names = ", ".join(sorted(f.path.name for f in found))
                raise StepError(f"{len(found)} RT Structure Sets reference series {series_uid} ({names}); "
                                "set RtstructImporter.on_multiple: latest to take the newest")
            found.sort(key=lambda f: (f.timestamp, f.sop_instance_uid))
        return found[-1]


def _read_header(path: Path) -> _StructureSetFile:
    try:
        with quiet_pydicom():
            ds = pydicom.dcmread(path, specific_tags=_HEADER_TAGS)
            stamp = f"{ds.get('StructureSetDate', '') or ''}{ds.get('StructureSetTime', '') or ''}"
            return _StructureSetFile(path, str(ds.SOPInstanceUID), referenced_series(ds), stamp)
    except Exception as exc:  # malformed files make pydicom raise almost anything
        raise StepError(f"RT Structure Set {path.name} cannot be read: {type(exc).__name__}") from exc
