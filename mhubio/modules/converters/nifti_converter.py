"""NiftiConverter: DICOM series -> NIfTI with the exact header geometry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mhubio.core.data import DataItem, Instance
from mhubio.core.errors import StepError
from mhubio.core.filetypes import FileType
from mhubio.core.module import Input, Module, Output
from mhubio.dicom.volume import InputChangedError, VolumeReadError, read_series_image


class NiftiConverter(Module):
    """Convert the series' DICOM files to one NIfTI volume, handed to later steps in memory (the file is
    written when a step needs it, see :class:`~mhubio.core.module.Input`).

    Slices are stacked along the slice normal; origin, spacing and direction come
    from the DICOM headers; the modality LUT (rescale) is applied, and compressed
    transfer syntaxes are decoded by pydicom's handlers. The output inherits the
    metadata of the DICOM item (``dicom:mod=ct`` -> ``nifti:mod=ct``).
    """

    inputs = {"dicom": Input("dicom", description="the series, files in slice order")}
    outputs = {"nifti": Output(FileType.NIFTI, inherit="dicom")}

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Read the volume of the item's indexed series."""
        item: DataItem = inputs["dicom"]
        try:
            series = item.dicom_series()
            image = read_series_image(series)
        except InputChangedError as exc:
            raise StepError(
                f"{instance.label}: the input changed since it was imported ({exc.path.name}: {exc.reason})"
            ) from exc
        except (VolumeReadError, ValueError) as exc:
            raise StepError(str(exc)) from exc
        outputs["nifti"].write_image(image)
