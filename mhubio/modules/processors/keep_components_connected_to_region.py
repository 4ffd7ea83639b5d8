"""Keep components of labels that overlap or touch a region (lung PET/CT tumour and lungs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mhubio.core.module import Input
from mhubio.core.params import Params
from mhubio.modules.processors._labelmap import (
    LabelMap,
    LabelMapProcessor,
    LabelRef,
    LabelRefs,
    read_region,
)
from mhubio.postprocessing import Connectivity, keep_components_connected_to_region


class KeepComponentsConnectedToRegion(LabelMapProcessor):
    """Keep whole components of ``labels`` that overlap or touch the region ``region_labels``.

    See :func:`mhubio.postprocessing.keep_components_connected_to_region`.
    """

    inputs = {
        **LabelMapProcessor.inputs,
        "region": Input("nifti:mod=seg", description="label map holding the region labels"),
    }

    class Params(Params):
        labels: LabelRefs
        region_labels: LabelRefs
        connectivity: Connectivity = Connectivity.VERTEX
        fill_label: LabelRef | None = None
        """Label given to the voxels of removed components; default background."""
        allow_empty_region: bool = False

    def transform(self, label_map: LabelMap, inputs: Mapping[str, Any]) -> LabelMap:
        p = self.params
        labels = label_map.resolve(p.labels, "labels")
        region = read_region(inputs["region"], p.region_labels, label_map, labels)
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
