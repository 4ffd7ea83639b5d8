"""Remove labels inside the bounding box of a region (e.g. false positives in the heart)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, NonNegativeInt

from mhubio.modules.processors.labelmap import LabelMap, RegionParams, RegionProcessor
from mhubio.postprocessing import zero_inside_bounding_box


class ZeroInsideBoundingBox(RegionProcessor):
    """Set ``labels`` to 0 inside the bounding box of ``region_labels``, widened by ``margin``.

    See :func:`mhubio.postprocessing.zero_inside_bounding_box`.
    """

    class Params(RegionParams):
        margin: NonNegativeInt | Annotated[list[NonNegativeInt], Field(min_length=3, max_length=3)] = 0
        """Voxels added on each side: one value or [z, y, x]."""

    def transform(self, label_map: LabelMap, inputs: Mapping[str, Any]) -> LabelMap:
        p = self.params
        labels, region = self.labels_and_region(label_map, inputs)
        return label_map.with_array(
            zero_inside_bounding_box(
                label_map.array,
                region,
                labels=labels,
                margin=p.margin,
                allow_empty_region=p.allow_empty_region,
            )
        )
