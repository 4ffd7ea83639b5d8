"""Load a bpreg model folder and score CT volumes slice by slice."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from mhubio.bpr.model import BodyPartRegressionNet
from mhubio.bpr.preprocess import PreprocessingSettings, preprocess_volume
from mhubio.bpr.scores import (
    BodyPartResult,
    LandmarkScore,
    ScoreProcessingSettings,
    analyze_scores,
    clean_scores,
    lookup_table_from_dict,
)

logger = logging.getLogger(__name__)

MODEL_FILE = "model.pt"
CONFIG_FILE = "config.json"
INFERENCE_SETTINGS_FILE = "inference-settings.json"
#: Folder name inside the public model archive (Zenodo record 5113483, ``public_bpr_model.zip``).
PUBLIC_MODEL_FOLDER = "public_bpr_model"


@dataclass(frozen=True)
class InferenceSettings:
    """Contents of a bpreg ``inference-settings.json``.

    Attributes
    ----------
    lookup_table: dict[str, LandmarkScore]
        Landmark scores on the 0-100 scale (``lookuptable_train_val.transformed``).
    lookup_table_original: dict[str, LandmarkScore]
        Landmark scores on the raw network scale (``lookuptable_train_val.original``).
    start_landmark, end_landmark: str
        Landmarks that define score 0 and 100.
    score_processing: ScoreProcessingSettings
        Score cleaning parameters derived from the file.
    """

    lookup_table: dict[str, LandmarkScore]
    lookup_table_original: dict[str, LandmarkScore]
    start_landmark: str
    end_landmark: str
    score_processing: ScoreProcessingSettings

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = INFERENCE_SETTINGS_FILE) -> InferenceSettings:
        """Parse the JSON document; ``source`` names it in error messages."""
        try:
            tables = data["lookuptable_train_val"]
            original = lookup_table_from_dict(tables["original"])
            transformed = lookup_table_from_dict(tables["transformed"])
            start = data["settings"]["start-landmark"]
            end = data["settings"]["end-landmark"]
            slope_mean = float(data["slope_mean"])
            slope_min = float(data["lower_quantile_tangential_slope"])
            slope_max = float(data["upper_quantile_tangential_slope"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{source} is not a bpreg inference settings file: missing or invalid {error}") from error
        for name in (start, end):
            if name not in original:
                raise ValueError(f"{source}: start/end landmark {name!r} is not in the original look-up table")
        processing = ScoreProcessingSettings(
            transform_min=original[start].mean,
            transform_max=original[end].mean,
            slope_mean=slope_mean,
            tangential_slope_min=slope_min,
            tangential_slope_max=slope_max,
        )
        return cls(transformed, original, start, end, processing)


def resolve_model_dir(model_dir: str | os.PathLike[str]) -> Path:
    """Folder holding the model files: ``model_dir`` itself or its ``public_bpr_model`` subfolder (archive layout).

    Raises
    ------
    FileNotFoundError
        If the folder or one of ``model.pt``, ``config.json``, ``inference-settings.json`` is missing.
    """
    root = Path(model_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"body part regression model folder {root} does not exist")
    files = (MODEL_FILE, CONFIG_FILE, INFERENCE_SETTINGS_FILE)
    for candidate in (root, root / PUBLIC_MODEL_FOLDER):
        if all((candidate / name).is_file() for name in files):
            return candidate
    missing = [name for name in files if not (root / name).is_file()]
    raise FileNotFoundError(
        f"body part regression model folder {root} lacks {', '.join(missing)}; expected the contents of "
        f"public_bpr_model.zip (Zenodo record 5113483): {', '.join(files)}"
    )


class BodyPartRegressor:
    """bpreg 1.1 inference on CPU: preprocessing, slice scores, score post-processing.

    Parameters
    ----------
    network: BodyPartRegressionNet
        Network with loaded weights.
    settings: InferenceSettings
        Look-up table and score processing parameters.
    preprocessing: PreprocessingSettings | None
        Slice preprocessing constants; bpreg's defaults if omitted.
    batch_size: int
        Slices per forward pass.
    """

    #: Number of models loaded from disk by :meth:`load` in this process.
    load_count: ClassVar[int] = 0

    def __init__(
        self,
        network: BodyPartRegressionNet,
        settings: InferenceSettings,
        preprocessing: PreprocessingSettings | None = None,
        batch_size: int = 200,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.network = network.eval()
        self.settings = settings
        self.preprocessing = preprocessing or PreprocessingSettings()
        self.batch_size = batch_size

    @classmethod
    def load(cls, model_dir: str | os.PathLike[str], batch_size: int = 200) -> BodyPartRegressor:
        """Load ``model.pt`` (a state dict), ``config.json`` and ``inference-settings.json`` from a model folder.

        Parameters
        ----------
        model_dir: str | os.PathLike
            Folder with the three files, or the folder the public archive was extracted to.
        batch_size: int
            Slices per forward pass.
        """
        folder = resolve_model_dir(model_dir)
        config_path = folder / CONFIG_FILE
        try:
            config = json.loads(config_path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{config_path} is not valid JSON: {error}") from error
        if not isinstance(config, dict):
            raise ValueError(f"{config_path} must hold a JSON object of bpreg model settings")
        base_model = config.get("base_model", "vgg")
        if base_model != "vgg":
            raise ValueError(f"{config_path}: base_model {base_model!r} is not supported, only bpreg's 'vgg' model")
        settings_path = folder / INFERENCE_SETTINGS_FILE
        try:
            settings_data = json.loads(settings_path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{settings_path} is not valid JSON: {error}") from error
        settings = InferenceSettings.from_dict(settings_data, source=str(settings_path))

        network = BodyPartRegressionNet()
        state = torch.load(folder / MODEL_FILE, map_location="cpu", weights_only=True)
        try:
            network.load_state_dict(state, strict=True)
        except RuntimeError as error:
            raise ValueError(f"{folder / MODEL_FILE} does not hold bpreg VGG16 weights: {error}") from error
        cls.load_count += 1
        logger.info("loaded body part regression model from %s", folder)
        return cls(network, settings, batch_size=batch_size)

    def predict_scores(self, volume_hu: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
        """Raw network score of every slice.

        Parameters
        ----------
        volume_hu: numpy.ndarray
            CT volume in HU, shape (z, y, x) in DICOM pixel layout.
        spacing: Sequence[float]
            Voxel spacing (z, y, x) in mm.

        Returns
        -------
        numpy.ndarray
            float64 array of shape (z,), one score per slice in volume order.
        """
        slices = preprocess_volume(volume_hu, spacing, self.preprocessing)
        scores = []
        with torch.inference_mode():
            for start in range(0, len(slices), self.batch_size):
                batch = torch.from_numpy(slices[start : start + self.batch_size])[:, None]
                scores.append(self.network(batch).double().numpy())
        return np.concatenate(scores)

    def analyze(self, volume_hu: np.ndarray, spacing: Sequence[float]) -> BodyPartResult:
        """Scores, cleaned scores, landmarks and regions of a CT volume (see :meth:`predict_scores`)."""
        raw = self.predict_scores(volume_hu, spacing)
        cleaned = clean_scores(raw, float(spacing[0]), self.settings.score_processing)
        return analyze_scores(cleaned, self.settings.lookup_table, self.settings.score_processing)
