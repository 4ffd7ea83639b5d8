"""Remove or relabel components of one label by diameter (lung nodules: 3-30 mm)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, PositiveInt, model_validator

from mhubio.core.errors import StepError
from mhubio.core.module import Output
from mhubio.core.params import Params
from mhubio.core.query import ANY
from mhubio.modules.processors.labelmap import (
    LabelMap,
    LabelMapProcessor,
    LabelRef,
    SegmentId,
)
from mhubio.postprocessing import Connectivity, DiameterMeasure, filter_components_by_diameter

Millimetres = Annotated[float, Field(ge=0)]


class FilterComponentsByDiameter(LabelMapProcessor):
    """Keep components of ``label`` whose diameter lies in [min, max] mm.

    Smaller components get ``fill_label`` (default background); larger ones get
    ``oversize_label`` or are removed. An ``oversize_label`` value missing from the
    input's label table is added with ``oversize_segment``. See
    :func:`mhubio.postprocessing.filter_components_by_diameter`.
    """

    class Params(Params):
        label: LabelRef
        measure: DiameterMeasure
        min_diameter_mm: Millimetres | None = None
        max_diameter_mm: Millimetres | None = None
        oversize_label: PositiveInt | None = None
        oversize_segment: SegmentId | None = None
        fill_label: LabelRef | None = None
        connectivity: Connectivity = Connectivity.VERTEX

        @model_validator(mode="after")
        def _consistent(self) -> FilterComponentsByDiameter.Params:
            if self.min_diameter_mm is None and self.max_diameter_mm is None:
                raise ValueError("give min_diameter_mm, max_diameter_mm or both")
            if (
                self.min_diameter_mm is not None
                and self.max_diameter_mm is not None
                and self.min_diameter_mm > self.max_diameter_mm
            ):
                raise ValueError("min_diameter_mm is larger than max_diameter_mm")
            if self.oversize_segment is not None and self.oversize_label is None:
                raise ValueError("oversize_segment needs oversize_label (the value to write)")
            return self

    def declare_outputs(self) -> Mapping[str, Output]:
        """The label table gains ``oversize_segment`` at run time if it is set."""
        if self.params.oversize_segment is None:
            return super().declare_outputs()
        return {"segmentation": self.output_declaration(roi=ANY)}

    def transform(self, label_map: LabelMap, inputs: Mapping[str, Any]) -> LabelMap:
        p = self.params
        table = dict(label_map.table)
        if p.oversize_label is not None:
            known = table.get(p.oversize_label)
            if known is None and p.oversize_segment is None:
                raise StepError(
                    f"oversize_label {p.oversize_label} is not in the label table of {label_map.name} "
                    f"({label_map.describe_table()}); give oversize_segment to add it"
                )
            if known is not None and p.oversize_segment not in (None, known):
                raise StepError(
                    f"oversize_label {p.oversize_label} is already {known} in {label_map.name}, "
                    f"not {p.oversize_segment}"
                )
            table.setdefault(p.oversize_label, p.oversize_segment)
        result = filter_components_by_diameter(
            label_map.array,
            label_map.spacing,
            label=label_map.resolve_one(p.label, "label"),
            min_diameter_mm=p.min_diameter_mm,
            max_diameter_mm=p.max_diameter_mm,
            measure=p.measure,
            oversize_label=p.oversize_label,
            fill_label=0 if p.fill_label is None else label_map.resolve_one(p.fill_label, "fill_label"),
            connectivity=p.connectivity,
        )
        return label_map.with_array(result, dict(sorted(table.items())))
