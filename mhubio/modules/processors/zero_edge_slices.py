"""Remove labels from the first and last slices of the volume."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import PositiveInt

from mhubio.core.params import Params
from mhubio.modules.processors.labelmap import LabelMap, LabelMapProcessor, LabelRefs
from mhubio.postprocessing import zero_edge_slices


class ZeroEdgeSlices(LabelMapProcessor):
    """Set ``labels`` to 0 in the first and last ``count`` slices along ``axis``.

    See :func:`mhubio.postprocessing.zero_edge_slices`.
    """

    class Params(Params):
        count: PositiveInt
        axis: Literal[0, 1, 2] = 0
        """Array axis: 0 = z (axial slices), 1 = y, 2 = x."""
        labels: LabelRefs | None = None

    def transform(self, label_map: LabelMap, inputs: Mapping[str, Any]) -> LabelMap:
        p = self.params
        return label_map.with_array(
            zero_edge_slices(
                label_map.array, p.count, axis=p.axis, labels=label_map.resolve(p.labels, "labels")
            )
        )
