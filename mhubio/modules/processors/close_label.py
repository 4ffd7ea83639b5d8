"""Close gaps and holes in one label, per slice or in 3-D."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import PositiveInt

from mhubio.core.params import Params
from mhubio.modules.processors.labelmap import LabelMap, LabelMapProcessor, LabelRef
from mhubio.postprocessing import close_label


class CloseLabel(LabelMapProcessor):
    """Binary closing of ``label`` with a ball (or per-slice disk) of ``radius`` voxels.

    See :func:`mhubio.postprocessing.close_label`.
    """

    class Params(Params):
        label: LabelRef
        radius: PositiveInt
        per_slice: bool = False
        overwrite: bool = False

    def transform(self, label_map: LabelMap, inputs: Mapping[str, Any]) -> LabelMap:
        p = self.params
        return label_map.with_array(
            close_label(
                label_map.array,
                label_map.resolve_one(p.label, "label"),
                p.radius,
                per_slice=p.per_slice,
                overwrite=p.overwrite,
            )
        )
