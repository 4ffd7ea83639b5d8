"""Keep labels only inside (or outside) a region of another or the same label map."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mhubio.core.errors import StepError
from mhubio.modules.processors.labelmap import LabelMap, LabelRef, RegionParams, RegionProcessor
from mhubio.postprocessing import RegionSide, restrict_to_region


class RestrictToRegion(RegionProcessor):
    """Keep ``labels`` voxel by voxel on one ``side`` of the region ``region_labels``.

    The region is read from the input ``region``, another label map on the same
    grid (e.g. TotalSegmentator's breast or lungs). Region and labels from one
    label map are an error: its labels never overlap, so the step would remove
    every voxel (inside) or nothing (outside); use
    ``KeepComponentsConnectedToRegion`` for that. See
    :func:`mhubio.postprocessing.restrict_to_region`.
    """

    class Params(RegionParams):
        side: RegionSide = RegionSide.INSIDE
        fill_label: LabelRef | None = None
        """Label given to removed voxels; default background."""

    def check_region_input(self, label_map: LabelMap, inputs: Mapping[str, Any]) -> None:
        """Reject a region taken from the label map being restricted."""
        if inputs["region"].path == label_map.path:
            raise StepError(
                f"inputs 'segmentation' and 'region' both select {label_map.name}; labels of one map "
                "never overlap, so this would remove all or nothing. Point 'region' to another label "
                "map or use KeepComponentsConnectedToRegion"
            )

    def transform(self, label_map: LabelMap, inputs: Mapping[str, Any]) -> LabelMap:
        p = self.params
        labels, region = self.labels_and_region(label_map, inputs)
        fill = 0 if p.fill_label is None else label_map.resolve_one(p.fill_label, "fill_label")
        return label_map.with_array(
            restrict_to_region(
                label_map.array,
                region,
                labels=labels,
                side=p.side,
                fill_label=fill,
                allow_empty_region=p.allow_empty_region,
            )
        )
