"""Remove labels where a resampled image has no data from its original field of view."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mhubio.core.errors import StepError
from mhubio.core.module import Input
from mhubio.modules.processors.labelmap import LabelMap, LabelMapProcessor, same_grid
from mhubio.postprocessing import field_of_view_mask, mask_outside_field_of_view


class MaskOutsideFieldOfView(LabelMapProcessor):
    """Set every label to 0 outside the field of view of the input ``original``.

    ``original`` is the image as acquired (e.g. the CT before it was resampled
    onto the PET grid); the segmentation lives on the resampled grid. An
    ``original`` already on the segmentation's grid is an error: the mask would
    be all true and the step would do nothing. See
    :func:`mhubio.postprocessing.field_of_view_mask`.
    """

    inputs = {
        **LabelMapProcessor.inputs,
        "original": Input("nifti:mod=ct", description="the image before resampling", needs_file=False),
    }

    def transform(self, label_map: LabelMap, inputs: Mapping[str, Any]) -> LabelMap:
        original_item = inputs["original"]
        original = original_item.read_image()
        if same_grid(original, label_map.image):
            raise StepError(
                f"{original_item} is on the grid of {label_map.name}, so its field of view covers "
                "every voxel; point input 'original' to the image before resampling"
            )
        fov = field_of_view_mask(original, label_map.image)
        return label_map.with_array(mask_outside_field_of_view(label_map.array, fov))
