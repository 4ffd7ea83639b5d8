"""BodyPartRegressionRunner: bpreg 1.1 slice scores, landmarks and regions of a CT series."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mhubio.core.algorithm import AlgorithmFamily
from mhubio.core.data import AlgorithmInfo, DataItem, Instance
from mhubio.core.errors import ConfigError, StepError, WeightsError
from mhubio.core.fileio import sha256_file
from mhubio.core.filetypes import FileType
from mhubio.core.module import Input, Module, Output
from mhubio.core.params import Params

ALGORITHM_NAME = "BodyPartRegression"
ALGORITHM_VERSION = "1.1.0"
#: Weights entry of the public model in ``models/<model>/mhub.toml``.
WEIGHTS_ENTRY = "public_bpr_model"


class BodyPartRegressionRunner(Module):
    """Score every slice of a CT series with Body Part Regression and write bpreg's JSON.

    The series is read from its DICOM files and stacked in slice position order (ascending along the slice
    normal), the order the SR encoders reference; the frames of an enhanced multi-frame CT are its slices. The
    model is loaded once per run. The JSON has bpreg's keys plus the landmark slice indices under ``"mhubio"``.
    """

    class Params(Params):
        model_dir: str = ""
        """Folder with bpreg's model.pt, config.json, inference-settings.json; default: the installed weights
        entry ``public_bpr_model`` of the model's mhub.toml."""
        batch_size: int = 200

    inputs = {"ct": Input("dicom:mod=ct", description="CT series")}
    outputs = {"bpreg": Output(FileType.JSON, {"type": "bpreg"}, description="bpreg JSON of the series")}

    def _model_folder(self) -> Path:
        from mhubio.bpr.inference import resolve_model_dir
        from mhubio.weights import require_weights

        if self.params.model_dir:
            folder = Path(self.params.model_dir)
        else:
            model_dir = self.context.model.directory
            if model_dir is None:
                raise ConfigError(
                    f"{self.step_id}: no model folder with an mhub.toml is known; set {self.step_id}.model_dir"
                )
            folder = require_weights(self.context, model_dir, WEIGHTS_ENTRY).path
        try:
            return resolve_model_dir(folder)
        except FileNotFoundError as exc:
            raise WeightsError(str(exc)) from exc

    def preflight(self) -> None:
        """Check that the model files exist before any series is read."""
        if self.params.batch_size < 1:
            raise ConfigError(f"{self.step_id}.batch_size must be at least 1")
        self._model_folder()

    def setup(self) -> None:
        """Load the network and inference settings once per run."""
        from mhubio.bpr.inference import MODEL_FILE, BodyPartRegressor

        folder = self._model_folder()
        self.regressor = BodyPartRegressor.load(folder, batch_size=self.params.batch_size)
        self.algorithm = AlgorithmInfo(
            ALGORITHM_NAME,
            ALGORITHM_VERSION,
            family=AlgorithmFamily.ARTIFICIAL_INTELLIGENCE,
            weights={MODEL_FILE: sha256_file(folder / MODEL_FILE)},
        )

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Read the series, score it and write the JSON atomically."""
        from mhubio.bpr.series import read_ct_slices, read_indexed_ct
        from mhubio.dicom.volume import VolumeReadError

        ct: DataItem = inputs["ct"]
        try:
            if ct.files and any(i.is_frame for i in ct.dicom_series().instances):
                series = read_indexed_ct(ct.dicom_series())
            else:
                series = read_ct_slices(list(ct.files) or sorted(p for p in ct.path.iterdir() if p.is_file()))
                if ct.files:
                    ct.dicom_series().keep_headers(series.datasets)
            result = self.regressor.analyze(series.volume_hu, series.spacing)
        except (ValueError, VolumeReadError) as exc:
            raise StepError(f"body part regression of {instance.label} failed: {exc}") from exc
        if result.valid_zspacing is False:
            instance.warn(
                f"body part regression: slope ratio {result.slope_ratio:.2f} of the score curve is implausible "
                "(bpreg 'valid z-spacing' = 0); landmarks and regions may be wrong"
            )
        item = outputs["bpreg"]
        item.algorithm = self.algorithm
        result.save_json(item.path)
