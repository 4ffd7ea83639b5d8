"""BprLandmarkSREncoder and BprRegionSREncoder: bpreg JSON -> Comprehensive 3D SR of the CT series."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from mhubio.core.data import AlgorithmInfo, DataItem, Instance
from mhubio.core.errors import StepError
from mhubio.core.fileio import atomic_path
from mhubio.core.filetypes import FileType
from mhubio.core.module import Input, Output
from mhubio.core.params import Params
from mhubio.modules._highdicom import HighdicomWriter


class _BprSREncoder(HighdicomWriter):
    """Shared behaviour: read the bpreg JSON and the series headers, encode, write atomically."""

    kind: ClassVar[str]
    """What the SR holds, for messages."""
    encoder_name: ClassVar[str]
    """Name of the encoding function in :mod:`mhubio.sr.bpr`."""

    inputs = {
        "bpreg": Input("json:type=bpreg", description="bpreg JSON written by BodyPartRegressionRunner"),
        "source": Input("dicom:mod=ct", description="CT series the scores were computed from"),
    }

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Encode the SR; a series without content gets a warning instead of an SR."""
        from mhubio.bpr.scores import BodyPartResult
        from mhubio.sr import bpr

        scores: DataItem = inputs["bpreg"]
        source: DataItem = inputs["source"]
        algorithm = scores.algorithm or AlgorithmInfo(self.context.model.name, self.context.model.version)
        encode = getattr(bpr, self.encoder_name)
        try:
            result = BodyPartResult.load_json(scores.path)
            sr = encode(
                result,
                list(source.dicom_series().headers()),
                algorithm.name,
                algorithm.version,
                self.params.series_number,
                manufacturer=self.params.manufacturer,
            )
        except bpr.NothingToEncodeError as exc:
            instance.warn(f"no {self.kind} SR written: {exc}")
            return
        except (ValueError, KeyError) as exc:
            raise StepError(f"cannot encode the {self.kind} SR of {instance.label}: {exc}") from exc
        item = outputs["sr"]
        item.algorithm = algorithm
        with atomic_path(item.path) as tmp:
            sr.save_as(tmp, enforce_file_format=True)


class BprLandmarkSREncoder(_BprSREncoder):
    """Landmarks inside the scan as a Comprehensive 3D SR ("BPR landmark annotations").

    One measurement group per slice that carries a landmark; each landmark is a Finding Site with its
    topographical modifier. No SR (and a warning) when no landmark lies inside the scan.
    """

    class Params(Params):
        series_number: int = 101
        manufacturer: str = "MHub"

    kind = "BPR landmark"
    encoder_name = "encode_landmark_sr"
    outputs = {"sr": Output(FileType.DICOMSR, {"kind": "bpr-landmarks"}, optional=True)}


class BprRegionSREncoder(_BprSREncoder):
    """Body part regions of every slice as a Comprehensive 3D SR ("BPR region annotations").

    One measurement group per slice with at least one region, one Finding Site per region. No SR (and a
    warning) when no slice has a region.
    """

    class Params(Params):
        series_number: int = 100
        manufacturer: str = "MHub"

    kind = "BPR region"
    encoder_name = "encode_region_sr"
    outputs = {"sr": Output(FileType.DICOMSR, {"kind": "bpr-regions"}, optional=True)}
