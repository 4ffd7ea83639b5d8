"""RtstructEncoder: label map (NIfTI) -> DICOM RT Structure Set referencing the source series."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from mhubio.core.data import DataItem, Instance
from mhubio.core.errors import StepError
from mhubio.core.fileio import atomic_path
from mhubio.core.filetypes import FileType
from mhubio.core.labelmaps import label_map_algorithm, label_segments
from mhubio.core.module import Input, Output
from mhubio.core.params import Params
from mhubio.modules._highdicom import HighdicomWriter
from mhubio.rtstruct import EmptyStructureSetError, RtstructOptions, encode_rtstruct
from mhubio.segdb import SegmentMap


class RtstructEncoder(HighdicomWriter):
    """Encode a label map as an RT Structure Set: one ROI per non-empty label, contoured slice by slice.

    ROI names, colours and identification codes come from the segment registry through the label map's
    label -> segment id map (set by the runner or a processor) unless ``segment_map`` overrides it.  The
    contours reference the source images (the series the label map was computed on) and their frame of
    reference; see :mod:`mhubio.rtstruct.contours` for the contour conventions.  Empty labels are left out
    with a warning; when every label is empty no structure set is written and the series gets a warning.
    """

    class Params(Params):
        segment_map: SegmentMap = None
        series_description: Annotated[str, Field(max_length=64)] = ""
        series_number: Annotated[int, Field(ge=0, le=2**31 - 1)] = 903
        label: Annotated[str, Field(min_length=1, max_length=16)] = "MHUB"

    inputs = {
        "segmentation": Input("nifti:mod=seg", description="label map", needs_file=False),
        "source": Input("dicom", description="series the structure set references"),
    }
    outputs = {"rtstruct": Output(FileType.RTSTRUCT, {"mod": "seg"}, inherit="segmentation", optional=True)}

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Encode and write the structure set atomically."""
        segmentation: DataItem = inputs["segmentation"]
        segments = label_segments(segmentation, self.params.segment_map, "RtstructEncoder.segment_map")
        algorithm = label_map_algorithm(segmentation, self.context.model)
        options = RtstructOptions(
            series_description=self.params.series_description or f"{algorithm.name} structures"[:64],
            series_number=self.params.series_number,
            label=self.params.label,
        )
        labels = segmentation.read_image()
        try:
            result = encode_rtstruct(labels, inputs["source"].dicom_series().headers(), segments, algorithm, options)
        except EmptyStructureSetError as exc:
            instance.warn(f"no RT Structure Set written: {exc}")
            return
        except ValueError as exc:
            raise StepError(f"cannot encode {segmentation.path.name} as an RT Structure Set: {exc}") from exc
        if result.dropped:
            instance.warn(f"empty segments left out of the RT Structure Set: {', '.join(result.dropped)}")
        item = outputs["rtstruct"]
        item.set_labels({result.roi_numbers[v]: segments[v] for v in result.roi_numbers})
        item.algorithm = algorithm
        with atomic_path(item.path) as tmp:
            result.dataset.save_as(tmp, enforce_file_format=True)

