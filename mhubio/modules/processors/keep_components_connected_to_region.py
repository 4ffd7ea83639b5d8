"""Keep components of labels that overlap or touch a region (lung PET/CT tumour and lungs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mhubio.modules.processors.labelmap import LabelMap, LabelRef, RegionParams, RegionProcessor
from mhubio.postprocessing import Connectivity, keep_components_connected_to_region


class KeepComponentsConnectedToRegion(RegionProcessor):
    """Keep whole components of ``labels`` that overlap or touch the region ``region_labels``.

    See :func:`mhubio.postprocessing.keep_components_connected_to_region`.
    """

    class Params(RegionParams):
        connectivity: Connectivity = Connectivity.VERTEX
        fill_label: LabelRef | None = None
        """Label given to the voxels of removed components; default background."""

    def transform(self, label_map: LabelMap, inputs: Mapping[str, Any]) -> LabelMap:
        p = self.params
        labels, region = self.labels_and_region(label_map, inputs)
        fill = 0 if p.fill_label is None else label_map.resolve_one(p.fill_label, "fill_label")
        return label_map.with_array(
            keep_components_connected_to_region(
                label_map.array,
                region,
                labels=labels,
                connectivity=p.connectivity,
                fill_label=fill,
                allow_empty_region=p.allow_empty_region,
            )
        )
