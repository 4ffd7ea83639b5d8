"""Remove labels inside the bounding box of a region (e.g. false positives in the heart)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, NonNegativeInt

from mhubio.core.module import Input
from mhubio.core.params import Params
from mhubio.modules.processors._labelmap import LabelMap, LabelMapProcessor, LabelRefs, read_region
from mhubio.postprocessing import zero_inside_bounding_box


class ZeroInsideBoundingBox(LabelMapProcessor):
    """Set ``labels`` to 0 inside the bounding box of ``region_labels``, widened by ``margin``.

    See :func:`mhubio.postprocessing.zero_inside_bounding_box`.
    """

    inputs = {
        **LabelMapProcessor.inputs,
        "region": Input("nifti:mod=seg", description="label map holding the region labels"),
    }

    class Params(Params):
        labels: LabelRefs
        region_labels: LabelRefs
        margin: NonNegativeInt | Annotated[list[NonNegativeInt], Field(min_length=3, max_length=3)] = 0
        """Voxels added on each side: one value or [z, y, x]."""
        allow_empty_region: bool = False

    def transform(self, label_map: LabelMap, inputs: Mapping[str, Any]) -> LabelMap:
        p = self.params
        labels = label_map.resolve(p.labels, "labels")
        region = read_region(inputs["region"], p.region_labels, label_map, labels)
        return label_map.with_array(
            zero_inside_bounding_box(
                label_map.array,
                region,
                labels=labels,
                margin=p.margin,
                allow_empty_region=p.allow_empty_region,
            )
        )
