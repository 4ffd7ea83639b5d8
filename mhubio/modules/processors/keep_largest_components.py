"""Keep the k largest connected components of labels (liver: 1; kidneys: 2 over a union)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, PositiveInt

from mhubio.core.params import Params
from mhubio.modules.processors.labelmap import LabelMap, LabelMapProcessor, LabelRefs
from mhubio.postprocessing import Connectivity, keep_largest_components


class KeepLargestComponents(LabelMapProcessor):
    """Keep the ``k`` largest components per label, or over the union of ``labels``.

    See :func:`mhubio.postprocessing.keep_largest_components`.
    """

    class Params(Params):
        labels: LabelRefs | None = None
        """Labels to process (values or segment ids); default: every declared label."""
        k: PositiveInt = 1
        union: bool = False
        connectivity: Connectivity = Connectivity.VERTEX
        min_voxels: PositiveInt = 1
        min_volume_mm3: Annotated[float, Field(ge=0)] = 0.0
        min_fraction_of_largest: Annotated[float, Field(ge=0, lt=1)] = 0.0

    def transform(self, label_map: LabelMap, inputs: Mapping[str, Any]) -> LabelMap:
        p = self.params
        return label_map.with_array(
            keep_largest_components(
                label_map.array,
                p.k,
                labels=label_map.resolve(p.labels, "labels"),
                union=p.union,
                connectivity=p.connectivity,
                min_voxels=p.min_voxels,
                min_volume_mm3=p.min_volume_mm3,
                spacing=label_map.spacing,
                min_fraction_of_largest=p.min_fraction_of_largest,
            )
        )
