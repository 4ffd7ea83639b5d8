"""Breast PET/CT glue: keep FDG-avid tumour only outside the organs found by TotalSegmentator.

Follows the BAMF breast post-processing (paper 002, public MHub code): tumour
voxels are removed inside the closed mask of every TotalSegmentator organ,
inside the bounding box of the abdominal organs (spleen, kidneys, gallbladder;
open towards the patient's back), and in the first slices of the volume.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import numpy as np
from pydantic import Field, NonNegativeInt, PositiveInt

from mhubio.core.errors import StepError
from mhubio.core.module import Input
from mhubio.core.params import Params
from mhubio.modules.processors.labelmap import LabelMap, LabelMapProcessor, LabelRefs, read_label_map, same_grid
from mhubio.postprocessing import close_label

ABDOMINAL_ORGANS = ["SPLEEN", "RIGHT_KIDNEY", "LEFT_KIDNEY", "GALLBLADDER"]


class BreastTumorRegionFilter(LabelMapProcessor):
    """Remove ``labels`` inside the closed organ mask, the abdominal box and the first slices.

    ``region`` is the TotalSegmentator label map on the grid of the tumour map.
    The organ mask (every TotalSegmentator label) is closed with a ball of
    ``closing_radius`` voxels (the public code closes with five 3x3
    dilations and erosions).  The abdominal box spans the slices of
    ``abdominal_organs`` and, within them, every row from the most anterior
    abdominal organ voxel to the back of the volume.  When none of those organs
    is present the box is skipped, as in the public code.
    """

    inputs = {
        **LabelMapProcessor.inputs,
        "region": Input("nifti:mod=seg:model=totalsegmentator", description="TotalSegmentator label map",
                        needs_file=False),
    }

    class Params(Params):
        labels: LabelRefs
        closing_radius: PositiveInt = 5
        abdominal_organs: LabelRefs = Field(default_factory=lambda: list(ABDOMINAL_ORGANS))
        first_slices: Annotated[NonNegativeInt, Field(description="slices zeroed at the start of axis z")] = 3

    def transform(self, label_map: LabelMap, inputs: Mapping[str, Any]) -> LabelMap:
        """Apply the three exclusions to a copy of ``label_map``."""
        p = self.params
        labels = label_map.resolve(p.labels, "labels")
        organs = read_label_map(inputs["region"])
        if not same_grid(organs.image, label_map.image):
            raise StepError(f"{organs.name} is not on the grid of {label_map.name}; resample it first")
        abdominal = np.isin(organs.array, organs.resolve(p.abdominal_organs, "abdominal_organs"))
        excluded = close_label((organs.array > 0).astype(np.uint8), 1, p.closing_radius) > 0
        if abdominal.any():
            slices = np.flatnonzero(abdominal.any(axis=(1, 2)))
            first_row = int(np.flatnonzero(abdominal.any(axis=(0, 2)))[0])
            excluded[slices[0] : slices[-1] + 1, first_row:, :] = True
        excluded[: p.first_slices] = True
        result = label_map.array.copy()
        result[excluded & np.isin(result, labels)] = 0
        return label_map.with_array(result)
