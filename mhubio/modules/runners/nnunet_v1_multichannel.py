"""nnU-Net v1 inference on a two-channel input (e.g. CT resampled to the PET grid as ``_0000`` and PET as ``_0001``)."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any, ClassVar

import SimpleITK as sitk

from mhubio.core.errors import ConfigError, StepError
from mhubio.core.module import Input
from mhubio.geometry import GRID_TOLERANCE_MM, same_grid
from mhubio.modules.runners.nnunet_common import locate_results_root
from mhubio.modules.runners.nnunet_v1 import NnunetV1Runner


class NnunetV1MultiChannelRunner(NnunetV1Runner):
    """:class:`NnunetV1Runner` for models trained on two channels.

    ``image`` is channel 0 (``_0000``) and ``channel_1`` channel 1 (``_0001``);
    both must be on one grid (resample first, e.g. with ``ResampleToReference``).
    The label map is written on that grid.  The model's ``plans.pkl`` must
    declare two modalities.
    """

    inputs: ClassVar[Mapping[str, Input]] = {
        "image": Input("nifti:mod=ct", description="channel 0 (_0000)"),
        "channel_1": Input("nifti:mod=pt", description="channel 1 (_0001), on the grid of channel 0"),
    }

    def preflight(self) -> None:
        """The checks of the single-channel runner, plus: the model takes exactly two channels."""
        super().preflight()
        plans_file = self.model_folder(locate_results_root(self.params, self.context, self.step_id)) / "plans.pkl"
        with open(plans_file, "rb") as handle:
            plans = pickle.load(handle)
        count = int(plans.get("num_modalities", 1))
        if count != len(self.inputs):
            raise ConfigError(f"{self.step_id}: the model in {plans_file} takes {count} channel(s) "
                              f"({plans.get('modalities')}), this runner feeds {len(self.inputs)}")

    def input_files(self, inputs: Mapping[str, Any]) -> list[str]:
        """Channel files in order; they must share one grid."""
        items = [inputs[name] for name in self.inputs]
        images = [sitk.ReadImage(str(item.path)) for item in items]
        for item, image in zip(items[1:], images[1:], strict=True):
            if not same_grid(images[0], image, tolerance_mm=GRID_TOLERANCE_MM):
                raise StepError(
                    f"{self.step_id}: channel {item} (size {image.GetSize()}, spacing {image.GetSpacing()}) is not on "
                    f"the grid of {items[0]} (size {images[0].GetSize()}, spacing {images[0].GetSpacing()}); "
                    "resample it first"
                )
        return [str(item.path) for item in items]
