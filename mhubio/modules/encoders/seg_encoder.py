"""SegEncoder: label map (NIfTI) -> DICOM SEG referencing the source series."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mhubio.core.data import DataItem, Instance
from mhubio.core.errors import StepError
from mhubio.core.fileio import atomic_path
from mhubio.core.filetypes import FileType
from mhubio.core.labelmaps import label_map_algorithm, label_segments
from mhubio.core.module import Input, Output
from mhubio.core.params import Params
from mhubio.modules._highdicom import HighdicomWriter
from mhubio.seg import EmptySegmentationError, SegOptions, encode_segmentation
from mhubio.segdb import SegmentMap


class SegEncoder(HighdicomWriter):
    """Encode a label map as a DICOM Segmentation (highdicom).

    The parameters are those of :class:`~mhubio.seg.SegOptions` (an empty
    ``series_description`` becomes "<algorithm> segmentation") plus
    ``segment_map``.  The label -> segment id map comes from the label map item
    (set by the runner or a processor) unless ``segment_map`` overrides it.
    The segments' algorithm name, version, family and type are those the
    runner recorded on the label map (:class:`~mhubio.core.data.AlgorithmInfo`);
    a label map without a stated family is refused unless it is ``MANUAL``.
    When every segment is empty and ``keep_empty`` is false, no SEG is written
    and the series gets a warning.  The source headers are those the converter
    kept on the indexed series (:meth:`~mhubio.dicom.DicomSeries.headers`).
    """

    class Params(Params, SegOptions):
        segment_map: SegmentMap = None
        series_description: str = ""

    inputs = {
        "segmentation": Input("nifti:mod=seg", description="label map", needs_file=False),
        "source": Input("dicom", description="series the SEG references (its grid is the SEG grid)"),
    }
    outputs = {"seg": Output(FileType.DICOMSEG, {"mod": "seg"}, inherit="segmentation", optional=True)}

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Encode and write the SEG atomically."""
        segmentation: DataItem = inputs["segmentation"]
        segments = label_segments(segmentation, self.params.segment_map, "SegEncoder.segment_map")
        algorithm = label_map_algorithm(segmentation, self.context.model)
        options = SegOptions.model_validate({
            **self.params.model_dump(exclude={"segment_map"}),
            "series_description": self.params.series_description or f"{algorithm.name} segmentation",
        })
        labels = segmentation.read_image()
        try:
            sources = inputs["source"].dicom_series().headers()
            result = encode_segmentation(labels, sources, segments, algorithm, options)
        except EmptySegmentationError as exc:
            instance.warn(f"no SEG written: {exc}")
            return
        except ValueError as exc:
            raise StepError(f"cannot encode {segmentation.path.name}: {exc}") from exc
        if result.dropped:
            instance.warn(f"empty segments left out of the SEG: {', '.join(result.dropped)}")
        item = outputs["seg"]
        item.set_labels({result.segment_numbers[v]: segments[v] for v in result.segment_numbers})
        item.algorithm = algorithm
        with atomic_path(item.path) as tmp:
            result.dataset.save_as(tmp, enforce_file_format=True)
