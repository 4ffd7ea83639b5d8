"""Keep the component nearest the volume centre (prostate: "largest centermost")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, PositiveInt

from mhubio.core.params import Params
from mhubio.modules.processors.labelmap import LabelMap, LabelMapProcessor, LabelRefs
from mhubio.postprocessing import CenterDistance, Connectivity, keep_centermost_component


class KeepCentermostComponent(LabelMapProcessor):
    """Keep the one component of the union of ``labels`` nearest the volume centre.

    See :func:`mhubio.postprocessing.keep_centermost_component`.
    """

    class Params(Params):
        labels: LabelRefs | None = None
        """Labels searched as one union (values or segment ids); default: every declared label."""
        connectivity: Connectivity = Connectivity.VERTEX
        distance: CenterDistance = CenterDistance.CENTROID
        min_voxels: PositiveInt = 1
        min_fraction_of_largest: Annotated[float, Field(ge=0, lt=1)]
        """Required: with 0 a speck at the centre beats the organ; the paper gives no value."""

    def transform(self, label_map: LabelMap, inputs: Mapping[str, Any]) -> LabelMap:
        p = self.params
        return label_map.with_array(
            keep_centermost_component(
                label_map.array,
                label_map.spacing,
                labels=label_map.resolve(p.labels, "labels"),
                connectivity=p.connectivity,
                distance=p.distance,
                min_voxels=p.min_voxels,
                min_fraction_of_largest=p.min_fraction_of_largest,
            )
        )
