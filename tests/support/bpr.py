"""Test helpers: a bpreg model folder in the real file format with random weights, results of hand-made curves.

The public weights (Zenodo record 5113483) cannot be downloaded in tests; this writes the same three files with the
same structure so that loading, inference and post-processing run end to end.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from mhubio.bpr.inference import CONFIG_FILE, INFERENCE_SETTINGS_FILE, MODEL_FILE
from mhubio.bpr.model import BodyPartRegressionNet
from mhubio.bpr.scores import (
    BodyPartResult,
    ScoreProcessingSettings,
    analyze_scores,
    clean_scores,
    lookup_table_from_dict,
)

#: Plausible transformed landmark scores (pelvis_start = 0, eyes_end = 100), in anatomical order.
EXAMPLE_LANDMARK_SCORES: dict[str, float] = {
    "pelvis_start": 0.0, "femur_end": 4.5, "pelvis_end": 11.5, "L5": 16.0, "L4": 19.5, "L3": 23.0,
    "kidney": 25.0, "L2": 26.5, "L1": 30.0, "Th12": 33.5, "liver_end": 35.0, "Th11": 37.0, "lung_start": 38.0,
    "Th10": 40.5, "Th9": 43.5, "Th8": 46.5, "Th7": 49.5, "Th6": 52.5, "Th5": 55.0, "Th4": 57.5, "Th3": 60.0,
    "Th2": 62.5, "Th1": 65.0, "lung_end": 66.0, "C7": 67.5, "C6": 70.0, "C5": 72.5, "C4": 75.0, "C3": 77.5,
    "C2": 80.5, "C1": 84.0, "teeth": 87.0, "nose": 93.0, "eyes_end": 100.0, "head_end": 110.0,
}

#: Raw network scores that map to 0 and 100 in the example model.
EXAMPLE_TRANSFORM = (-8.0, 12.0)


def example_lookup_table() -> dict[str, dict[str, float]]:
    """Transformed look-up table ``{landmark: {"mean", "std"}}`` of the example model."""
    return {name: {"mean": score, "std": 1.5} for name, score in EXAMPLE_LANDMARK_SCORES.items()}


def example_inference_settings() -> dict:
    """An ``inference-settings.json`` document with bpreg's structure and the example look-up table."""
    low, high = EXAMPLE_TRANSFORM
    scale = (high - low) / 100.0
    transformed = example_lookup_table()
    original = {
        name: {"mean": low + entry["mean"] * scale, "std": entry["std"] * scale}
        for name, entry in transformed.items()
    }
    tables = {"original": original, "transformed": transformed}
    return {
        "slope_mean": 0.118,
        "slope_median": 0.118,
        "slope_std": 0.012,
        "tangential_slope_mean": 0.113,
        "upper_quantile_tangential_slope": 0.25,
        "lower_quantile_tangential_slope": -0.037,
        "lookuptable_train": tables,
        "lookuptable_train_val": tables,
        "settings": {
            "upper_tangential_quantile": 0.995,
            "lower_tangential_quantile": 0.005,
            "start-landmark": "pelvis_start",
            "end-landmark": "eyes_end",
        },
    }


def example_config() -> dict:
    """A ``config.json`` document with the keys of bpreg's ``ModelSettings``."""
    return {
        "df_data_source_path": "", "data_path": "", "landmark_path": "", "save_dir": "",
        "batch_size": 64, "effective_batch_size": 64, "equidistance_range": [5, 100], "num_slices": 4,
        "epochs": 480, "alpha_h": 1, "beta_h": 0.01, "loss_order": "h", "lambda_": 0, "alpha": 0,
        "lr": 0.0001, "shuffle_train_dataloader": True, "random_seed": 0, "deterministic": True,
        "save_model": True, "base_model": "vgg", "transform_params": {}, "name": "test.p",
        "model_name": "random-weights-test-model", "model": "",
    }


def write_model_folder(folder: str | os.PathLike[str], seed: int = 0) -> Path:
    """Write ``model.pt`` (random-weight state dict), ``config.json`` and ``inference-settings.json``.

    Parameters
    ----------
    folder: str | os.PathLike
        Target folder (created if missing).
    seed: int
        Seed of the random weights.

    Returns
    -------
    pathlib.Path
        The folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    torch.save(BodyPartRegressionNet().state_dict(), folder / MODEL_FILE)
    (folder / CONFIG_FILE).write_text(json.dumps(example_config(), indent=4))
    (folder / INFERENCE_SETTINGS_FILE).write_text(json.dumps(example_inference_settings(), indent=4))
    return folder


def result_from_curve(scores: Sequence[float], z_spacing: float, slope_mean: float = 0.11) -> BodyPartResult:
    """Body part regression result of a hand-made score curve, already on the 0-100 scale.

    Parameters
    ----------
    scores: Sequence[float]
        Slice scores in volume order (e.g. a straight line crossing some landmark scores).
    z_spacing: float
        Slice spacing in mm.
    slope_mean: float
        Expected slope per mm of the curve (for the z-spacing check).
    """
    settings = ScoreProcessingSettings(transform_min=0.0, transform_max=100.0, slope_mean=slope_mean)
    lookup_table = lookup_table_from_dict(example_lookup_table())
    return analyze_scores(clean_scores(scores, z_spacing, settings), lookup_table, settings)
