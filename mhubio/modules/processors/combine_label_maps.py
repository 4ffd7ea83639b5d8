"""Combine two label maps of one grid (e.g. lungs of one model and tumours of another) into one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import PositiveInt, field_validator

from mhubio.core.data import DataItem, Instance
from mhubio.core.errors import StepError
from mhubio.core.filetypes import FileType
from mhubio.core.module import Input, Module, Output
from mhubio.core.params import Params
from mhubio.modules.processors.labelmap import LabelMap, SegmentId, read_label_map, same_grid, write_label_map


class CombineLabelMaps(Module):
    """Build the label map ``table`` (label value -> segment id) from the labels of ``base`` and ``overlay``.

    Every segment id of ``table`` is looked up by id in the label table of
    exactly one input; labels of the inputs that ``table`` does not name are
    dropped.  Where both inputs have a kept label, ``overlay`` wins.  The
    output's metadata and algorithm come from the input named by ``inherit``.
    """

    class Params(Params):
        table: dict[PositiveInt, SegmentId]
        inherit: Literal["base", "overlay"] = "base"

        @field_validator("table")
        @classmethod
        def _distinct(cls, value: dict[int, str]) -> dict[int, str]:
            if not value:
                raise ValueError("table must name at least one label")
            repeated = sorted({s for s in value.values() if list(value.values()).count(s) > 1})
            if repeated:
                raise ValueError(f"segment ids {repeated} appear more than once in table")
            return dict(sorted(value.items()))

    inputs = {
        "base": Input("nifti:mod=seg", description="label map painted first", needs_file=False),
        "overlay": Input("nifti:mod=seg", description="label map painted over base", needs_file=False),
    }

    def declare_outputs(self) -> Mapping[str, Output]:
        """The combined map (``processed=<step id>``); its roi is known from ``table``."""
        meta = {"mod": "seg", "roi": ",".join(self.params.table.values()), "processed": self.step_id}
        return {"segmentation": Output(FileType.NIFTI, meta, inherit=self.params.inherit)}

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Combine and write the label map with ``table``."""
        base, overlay = read_label_map(inputs["base"]), read_label_map(inputs["overlay"])
        if not same_grid(base.image, overlay.image):
            raise StepError(f"{overlay.name} (size {overlay.image.GetSize()}) is not on the grid of {base.name} "
                            f"(size {base.image.GetSize()}); resample one first")
        dtype = np.min_scalar_type(max(self.params.table))
        result = np.zeros(base.array.shape, dtype=dtype)
        painted: dict[str, list[tuple[LabelMap, int, str]]] = {"base": [], "overlay": []}
        for value, segment_id in self.params.table.items():
            source, name = self._source(segment_id, base, overlay)
            painted[name].append((source, value, segment_id))
        for name in ("base", "overlay"):
            for source, value, segment_id in painted[name]:
                result[source.array == _value_of(source, segment_id)] = value
        dropped = [f"{m.name}: {s}" for m in (base, overlay) for s in m.table.values()
                   if s not in self.params.table.values()]
        if dropped:
            instance.log.info("%s: labels not in table dropped: %s", self.step_id, "; ".join(dropped))
        source = base if self.params.inherit == "base" else overlay
        write_label_map(source.with_array(result, self.params.table), outputs["segmentation"])

    def _source(self, segment_id: str, base: LabelMap, overlay: LabelMap) -> tuple[LabelMap, str]:
        found = [(m, n) for m, n in ((base, "base"), (overlay, "overlay")) if segment_id in m.table.values()]
        if len(found) != 1:
            where = "neither" if not found else "both"
            raise StepError(
                f"{self.step_id}: segment {segment_id} is in {where} of the inputs "
                f"(base {base.name}: {base.describe_table()}; overlay {overlay.name}: {overlay.describe_table()}); "
                "check the input queries"
            )
        return found[0]


def _value_of(label_map: LabelMap, segment_id: str) -> int:
    return label_map.resolve_one(segment_id, "table")
