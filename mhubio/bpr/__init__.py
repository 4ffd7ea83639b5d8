"""Body Part Regression (bpreg 1.1, Schuhegger 2021) reimplemented for current torch.

- :mod:`mhubio.bpr.model`: the VGG16-based network (loads the public ``model.pt`` state dict strictly).
- :mod:`mhubio.bpr.preprocess`: bpreg's slice preprocessing.
- :mod:`mhubio.bpr.inference`: :class:`~mhubio.bpr.inference.BodyPartRegressor` (model folder loading, scores).
- :mod:`mhubio.bpr.scores`: score cleaning, landmarks, body part regions, bpreg-compatible JSON.
- :mod:`mhubio.bpr.series`: reading a CT series in slice position order.

Importing this package does not import torch; :mod:`mhubio.bpr.inference` does.
"""

from mhubio.bpr.scores import (
    BodyPartRegion,
    BodyPartResult,
    CleanedScores,
    LandmarkPosition,
    LandmarkScore,
    ScoreProcessingSettings,
    analyze_scores,
    clean_scores,
)

__all__ = [
    "BodyPartRegion",
    "BodyPartResult",
    "CleanedScores",
    "LandmarkPosition",
    "LandmarkScore",
    "ScoreProcessingSettings",
    "analyze_scores",
    "clean_scores",
]
