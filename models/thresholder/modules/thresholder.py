"""Classical HU-threshold segmentation of body, lungs and bone (no weights)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import SimpleITK as sitk
from pydantic import model_validator
from scipy import ndimage

from mhubio.core.algorithm import AlgorithmFamily
from mhubio.core.data import AlgorithmInfo, DataItem, Instance
from mhubio.core.fileio import atomic_path
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

    inputs = {"ct": Input("nifti:mod=ct")}
    outputs = {"seg": Output(FileType.NIFTI, {"mod": "seg", "model": "thresholder", "roi": "BODY,LUNG,BONE"})}

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Threshold the CT and write the label map on the CT grid."""
        image = sitk.ReadImage(str(inputs["ct"].path))
        hu = sitk.GetArrayFromImage(image)
        voxel_ml = float(np.prod(image.GetSpacing())) / 1000.0
        labels = segment(hu, self.params, voxel_ml)
        out = sitk.GetImageFromArray(labels)
        out.CopyInformation(image)
        item = outputs["seg"]
        with atomic_path(item.path) as tmp:
            sitk.WriteImage(out, str(tmp), useCompression=True)
        item.set_labels(SEGMENTS)
        item.algorithm = AlgorithmInfo(
            "MHub HU Thresholder", self.context.model.version, family=AlgorithmFamily.HISTOGRAM_ANALYSIS,
            parameters={k: str(v) for k, v in self.params.model_dump().items()},
        )


def segment(hu: np.ndarray, params: Thresholder.Params, voxel_ml: float) -> np.ndarray:
    """Label map (uint8, same shape as ``hu`` in (z, y, x)) of body, lungs and bone."""
    labels = np.zeros(hu.shape, dtype=np.uint8)
    body = _largest_component(hu > params.body_hu)
    if not body.any():
        return labels
    body = np.stack([ndimage.binary_fill_holes(s) for s in body])
    labels[body] = BODY
    air = (hu < params.lung_hu) & body
    components, count = ndimage.label(air)
    if count:
        sizes = ndimage.sum_labels(air, components, index=np.arange(1, count + 1)) * voxel_ml
        keep = np.flatnonzero(sizes >= params.min_lung_ml) + 1
        labels[np.isin(components, keep)] = LUNG
    labels[(hu > params.bone_hu) & body] = BONE
    return labels


def _largest_component(mask: np.ndarray) -> np.ndarray:
    components, count = ndimage.label(mask)
    if count == 0:
        return mask
    sizes = np.bincount(components.ravel())[1:]
    return components == (int(np.argmax(sizes)) + 1)
