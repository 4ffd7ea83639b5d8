"""SegEncoder: label map (NIfTI) -> DICOM SEG referencing the source series."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import SimpleITK as sitk
from pydantic import field_validator

from mhubio.core.data import AlgorithmInfo, DataItem, Instance
from mhubio.core.errors import StepError
from mhubio.core.filetypes import FileType
from mhubio.core.fileio import atomic_path
from mhubio.core.module import Input, Module, Output
from mhubio.core.params import Params
from mhubio.seg import EmptySegmentationError, SegmentationKind, SegOptions, encode_segmentation, load_source_images
from mhubio.segdb import get_segment


class SegEncoder(Module):
    """Encode a label map as a DICOM Segmentation (highdicom).

    The label -> segment id map comes from the label map item (set by the
    runner or a processor) unless ``segment_map`` overrides it.  When every
    segment is empty and ``keep_empty`` is false, no SEG is written and the
    series gets a warning.
    """

    class Params(Params):
        segment_map: dict[int, str] | None = None
        segmentation_type: SegmentationKind = SegmentationKind.BINARY
        keep_empty: bool = False
        series_description: str = ""
        series_number: int = 901
        content_label: str = "SEGMENTATION"
        content_creator: str = "MHub^"

        @field_validator("segment_map")
        @classmethod
        def _known_segments(cls, value: dict[int, str] | None) -> dict[int, str] | None:
            for segment_id in (value or {}).values():
                get_segment(segment_id)
            return value

    inputs = {
        "segmentation": Input("nifti:mod=seg", description="label map"),
        "source": Input("dicom", description="series the SEG references (its grid is the SEG grid)"),
    }
    outputs = {"seg": Output(FileType.DICOMSEG, {"mod": "seg"}, inherit="segmentation", optional=True)}

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Encode and write the SEG atomically."""
        segmentation: DataItem = inputs["segmentation"]
        segments = self.params.segment_map or segmentation.labels
        if not segments:
            raise StepError(
                f"label map {segmentation.path.name} has no label -> segment id map; "
                "set SegEncoder.segment_map or use a runner that records one"
            )
        algorithm = segmentation.algorithm or AlgorithmInfo(self.context.model.name, self.context.model.version)
        options = SegOptions(
            series_description=self.params.series_description or f"{algorithm.name} segmentation",
            series_number=self.params.series_number,
            content_label=self.params.content_label,
            content_creator=self.params.content_creator,
            kind=self.params.segmentation_type,
            keep_empty=self.params.keep_empty,
        )
        labels = sitk.ReadImage(str(segmentation.path))
        try:
            result = encode_segmentation(labels, load_source_images(inputs["source"].files), segments, algorithm, options)
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
