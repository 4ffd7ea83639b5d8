"""ResampleToReference: bring an image (CT) onto the grid of another (PET), optionally after registration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, model_validator

from mhubio.core.data import DataItem, Instance
from mhubio.core.errors import StepError
from mhubio.core.filetypes import FileType
from mhubio.core.module import Input, Module, Output
from mhubio.core.params import Params
from mhubio.registration import (
    Interpolation,
    TranslationSettings,
    register_translation,
    resample_image,
    resample_labels,
)


class ResampleToReference(Module):
    """Resample ``moving`` onto the grid of ``reference``.

    Intensity images are interpolated (``interpolation``, voxels outside the
    moving image get its minimum, as in the BAMF code); label maps (items with
    a label table) always use nearest neighbour and keep their labels.  With
    ``registration: true`` a translation is first estimated by Mattes mutual
    information (reference fixed, moving moving) with a fixed seed; label maps
    cannot be registered.  The output keeps the moving item's metadata plus
    ``resampled=true`` and ``registered=true|false``.
    """

    class Params(Params):
        registration: bool = False
        interpolation: Interpolation = Interpolation.LINEAR
        histogram_bins: Annotated[int, Field(ge=2)] = 24
        sampling_percentage: Annotated[float, Field(gt=0, le=1)] = 0.10
        seed: Annotated[int, Field(ge=0)] = 42
        learning_rate: Annotated[float, Field(gt=0)] = 1.0
        minimum_step: Annotated[float, Field(gt=0)] = 0.001
        iterations: Annotated[int, Field(ge=1)] = 200
        threads: Annotated[int, Field(ge=1)] = 1

        @model_validator(mode="after")
        def _steps(self) -> ResampleToReference.Params:
            if self.minimum_step > self.learning_rate:
                raise ValueError("minimum_step must not exceed learning_rate")
            return self

        def settings(self) -> TranslationSettings:
            """The registration settings of these parameters."""
            return TranslationSettings(self.histogram_bins, self.sampling_percentage, self.seed, self.learning_rate,
                                       self.minimum_step, self.iterations, self.threads)

    inputs = {
        "moving": Input("nifti:mod=ct", description="image or label map to resample", needs_file=False),
        "reference": Input("nifti:mod=pt", description="image whose grid the result takes", needs_file=False),
    }

    def declare_outputs(self) -> Mapping[str, Output]:
        """The resampled item, marked ``resampled=true`` and ``registered=<registration>``."""
        meta = {"resampled": "true", "registered": str(self.params.registration).lower()}
        return {"resampled": Output(FileType.NIFTI, meta, inherit="moving", description="moving on the reference grid")}

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Register (optionally), resample and hand the result over."""
        moving_item: DataItem = inputs["moving"]
        reference_item: DataItem = inputs["reference"]
        moving = moving_item.read_image()
        reference = reference_item.read_image()
        is_label_map = moving_item.labels is not None
        if is_label_map and self.params.registration:
            raise StepError(f"{moving_item} is a label map; register the image it belongs to, not the labels")
        transform = None
        if self.params.registration:
            result = register_translation(reference, moving, self.params.settings())
            transform = result.transform
            instance.log.info(
                "%s: translation (%.2f, %.2f, %.2f) mm after %d iterations (%s)", self.step_id,
                *result.translation_mm, result.iterations, result.stop_condition,
            )
        try:
            if is_label_map:
                out = resample_labels(moving, reference, transform)
            else:
                out = resample_image(moving, reference, transform, self.params.interpolation)
        except ValueError as exc:
            raise StepError(f"cannot resample {moving_item} onto {reference_item}: {exc}") from exc
        item = outputs["resampled"]
        item.write_image(out)
        if moving_item.labels is not None:
            item.set_labels(moving_item.labels)
