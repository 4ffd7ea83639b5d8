"""RadiomicsSREncoder: radiomics features -> TID 1500 Measurement Report referencing the SEG segments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydicom

from mhubio.core.data import AlgorithmInfo, DataItem, Instance
from mhubio.core.errors import StepError
from mhubio.core.fileio import atomic_path
from mhubio.core.filetypes import FileType
from mhubio.core.module import Input, Output
from mhubio.core.params import Params
from mhubio.modules._highdicom import HighdicomWriter
from mhubio.radiomics import read_json
from mhubio.sr.radiomics import SERIES_DESCRIPTION, RadiomicsSROptions, encode_radiomics_sr

_RECORDED_ELSEWHERE = ("classes", "shape_features")


class RadiomicsSREncoder(HighdicomWriter):
    """Encode the radiomics table of a series as a TID 1500 Enhanced SR.

    One volumetric ROI group per segment with features, referencing the
    segment of the SEG: SegmentNumbers come from the SEG item's segment map
    (set by SegEncoder or SegImporter), else from matching the segment codes.
    Features without an IBSI code (first-order, texture) or without a finite
    value are left out with a warning.  Without a features table (no segment
    had features) no SR is written and the series gets a warning.
    """

    class Params(Params):
        series_description: str = SERIES_DESCRIPTION
        series_number: int = 902

    inputs = {
        "features": Input("json:kind=radiomics", optional=True, description="table written by RadiomicsRunner"),
        "seg": Input("dicomseg:mod=seg", optional=True, description="SEG the features were computed from"),
        "source": Input("dicom", description="series the SEG was derived from"),
    }
    outputs = {"sr": Output(FileType.DICOMSR, {"kind": "radiomics"}, optional=True)}

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Encode and write the SR atomically; nothing (with a warning) when no segment has features."""
        if inputs["features"] is None:
            instance.warn("no radiomics table for this series; no radiomics SR written")
            return
        result = read_json(inputs["features"].path)
        seg_item: DataItem | None = inputs["seg"]
        if seg_item is None:
            raise StepError("radiomics features exist but no DICOM SEG (dicomseg:mod=seg) to reference")
        seg = pydicom.dcmread(seg_item.path, stop_before_pixels=True)
        numbers = None
        if seg_item.labels:
            by_id = {segment_id: number for number, segment_id in seg_item.labels.items()}
            numbers = {s.segment_id: by_id[s.segment_id] for s in result.segments if s.segment_id in by_id}
            absent = [s.segment_id for s in result.segments if s.segment_id not in by_id]
            if absent:
                raise StepError(
                    f"segments {', '.join(absent)} have radiomics features but are not in SEG {seg_item.path.name} "
                    f"(it has {', '.join(seg_item.labels.values())})"
                )
        parameters = {k: v for k, v in result.settings.items() if k not in _RECORDED_ELSEWHERE}
        try:
            encoded = encode_radiomics_sr(
                result.segments,
                seg,
                list(inputs["source"].dicom_series().headers()),
                algorithm_name=result.algorithm_name,
                algorithm_version=result.algorithm_version,
                algorithm_parameters=parameters,
                segment_numbers=numbers,
                options=RadiomicsSROptions(self.params.series_description, self.params.series_number),
            )
        except ValueError as exc:
            raise StepError(f"cannot encode the radiomics SR: {exc}") from exc
        for segment_id, keys in encoded.omitted.items():
            instance.warn(f"{segment_id}: features without an IBSI code or a finite value left out of the SR: "
                          f"{', '.join(keys)}")
        item = outputs["sr"]
        item.algorithm = AlgorithmInfo(result.algorithm_name, result.algorithm_version, parameters=parameters)
        with atomic_path(item.path) as tmp:
            encoded.dataset.save_as(tmp, enforce_file_format=True)
