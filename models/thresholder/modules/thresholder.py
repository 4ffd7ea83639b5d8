"""Classical HU-threshold segmentation of body, lungs and bone (no weights)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import cc3d
import numpy as np
import SimpleITK as sitk
from pydantic import model_validator

from mhubio.core.algorithm import AlgorithmFamily
from mhubio.core.data import AlgorithmInfo, DataItem, Instance
from mhubio.core.filetypes import FileType
from mhubio.core.module import Input, Module, Output
from mhubio.core.params import Params

BODY, LUNG, BONE = 1, 2, 3
SEGMENTS = {BODY: "BODY", LUNG: "LUNG", BONE: "BONE"}


class Thresholder(Module):
    """Body (largest connected region above ``body_hu``, holes filled per slice),
    lungs (air below ``lung_hu`` enclosed by the body) and bone (above ``bone_hu``
    inside the body).  Later labels overwrite earlier ones: bone > lung > body.

    Classical image processing, no trained model: its SEG segments state the family Histogram Analysis (DCM
    123105, intensity thresholds; connected components and hole filling refine them) and the type AUTOMATIC.
    """

    class Params(Params):
        body_hu: float = -500.0
        lung_hu: float = -400.0
        bone_hu: float = 250.0
        min_lung_ml: float = 5.0

        @model_validator(mode="after")
        def _ordered(self) -> Thresholder.Params:
            if not self.body_hu < self.bone_hu or not self.lung_hu < self.bone_hu:
                raise ValueError("thresholds must satisfy body_hu < bone_hu and lung_hu < bone_hu")
            return self

    inputs = {"ct": Input("nifti:mod=ct", needs_file=False)}
    outputs = {"seg": Output(FileType.NIFTI, {"mod": "seg", "model": "thresholder", "roi": "BODY,LUNG,BONE"})}

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Threshold the CT and write the label map on the CT grid."""
        image = inputs["ct"].read_image()
        hu = sitk.GetArrayFromImage(image)
        voxel_ml = float(np.prod(image.GetSpacing())) / 1000.0
        labels = segment(hu, self.params, voxel_ml)
        out = sitk.GetImageFromArray(labels)
        out.CopyInformation(image)
        item = outputs["seg"]
        item.write_image(out)
        item.set_labels(SEGMENTS)
        item.algorithm = AlgorithmInfo(
            "MHub HU Thresholder", self.context.model.version, family=AlgorithmFamily.HISTOGRAM_ANALYSIS,
            parameters={k: str(v) for k, v in self.params.model_dump().items()},
        )


def segment(hu: np.ndarray, params: Thresholder.Params, voxel_ml: float) -> np.ndarray:
    """Label map (uint8, same shape as ``hu`` in (z, y, x)) of body, lungs and bone.

    Connected components are 6-connected in 3-D and holes are filled per slice (4-connected background), as
    scipy.ndimage's defaults; cc3d does the labelling in a fraction of the time and memory.
    """
    labels = np.zeros(hu.shape, dtype=np.uint8)
    body = cc3d.largest_k(hu > params.body_hu, k=1, connectivity=6) > 0
    if not body.any():
        return labels
    body = _fill_holes_per_slice(body)
    labels[body] = BODY
    air = (hu < params.lung_hu) & body
    labels[cc3d.dust(air, threshold=_min_voxels(params.min_lung_ml, voxel_ml), connectivity=6)] = LUNG
    labels[(hu > params.bone_hu) & body] = BONE
    return labels


def _fill_holes_per_slice(mask: np.ndarray) -> np.ndarray:
    """``mask`` with every background region that does not touch its slice's border filled, slice by slice."""
    filled = np.empty_like(mask)
    for z, plane in enumerate(mask):
        background = cc3d.connected_components(~plane, connectivity=4)
        outside = np.unique(np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]]))
        filled[z] = ~np.isin(background, outside[outside > 0])
    return filled


def _min_voxels(min_ml: float, voxel_ml: float) -> int:
    """The fewest voxels whose volume (``count * voxel_ml``) is at least ``min_ml``."""
    count = max(math.ceil(min_ml / voxel_ml), 0)
    while count > 0 and (count - 1) * voxel_ml >= min_ml:
        count -= 1
    while count * voxel_ml < min_ml:
        count += 1
    return count
