"""Remap or merge label values (e.g. lung lobes -> left and right lung)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import NonNegativeInt, PositiveInt, model_validator

from mhubio.core.errors import StepError
from mhubio.core.module import Output
from mhubio.core.params import Params
from mhubio.core.query import ANY
from mhubio.modules.processors.labelmap import LabelMap, LabelMapProcessor, LabelRef, SegmentId
from mhubio.postprocessing import Unmapped, remap_labels


class RemapLabels(LabelMapProcessor):
    """Give labels new values by ``mapping`` and new segment ids by ``segments``.

    ``mapping`` maps a label (value or segment id) to a new value, 0 to remove it;
    ``segments`` names the segment id of every new non-zero value. Declared labels
    not in ``mapping`` follow ``unmapped``: ``error`` (default), ``keep`` or ``zero``.
    See :func:`mhubio.postprocessing.remap_labels`.
    """

    class Params(Params):
        mapping: dict[LabelRef, NonNegativeInt]
        segments: dict[PositiveInt, SegmentId]
        unmapped: Unmapped = Unmapped.ERROR

        @model_validator(mode="after")
        def _segments_cover_targets(self) -> RemapLabels.Params:
            if not self.mapping:
                raise ValueError("mapping must name at least one label")
            targets = {t for t in self.mapping.values() if t != 0}
            if set(self.segments) != targets:
                raise ValueError(
                    f"segments must name the segment id of every non-zero mapping target "
                    f"{sorted(targets)}; got {sorted(self.segments)}"
                )
            return self

    def declare_outputs(self) -> Mapping[str, Output]:
        """The output's roi is known now unless unmapped labels are kept."""
        roi = ANY if self.params.unmapped is Unmapped.KEEP else ",".join(
            segment for _, segment in sorted(self.params.segments.items())
        )
        return {"segmentation": self.output_declaration(roi=roi)}

    def transform(self, label_map: LabelMap, inputs: Mapping[str, Any]) -> LabelMap:
        p = self.params
        mapping = {label_map.resolve_one(ref, "mapping"): target for ref, target in p.mapping.items()}
        leftover = {v: s for v, s in label_map.table.items() if v not in mapping}
        if leftover and p.unmapped is Unmapped.ERROR:
            raise StepError(
                f"mapping does not cover labels {', '.join(f'{v}={s}' for v, s in leftover.items())} "
                f"of {label_map.name}; map them or set unmapped to keep or zero"
            )
        table = dict(p.segments)
        if p.unmapped is Unmapped.KEEP:
            clashes = [v for v, s in leftover.items() if table.get(v, s) != s]
            if clashes:
                raise StepError(
                    f"mapping targets {clashes} collide with kept labels of {label_map.name} "
                    f"({label_map.describe_table()})"
                )
            table.update(leftover)
        result = remap_labels(
            label_map.array,
            mapping,
            known_labels=list(label_map.table),
            unmapped=Unmapped.KEEP if p.unmapped is Unmapped.KEEP else Unmapped.ZERO,
        )
        return label_map.with_array(result, dict(sorted(table.items())))
