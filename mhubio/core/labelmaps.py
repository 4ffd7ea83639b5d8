"""Label maps as encoders read them: the label -> segment id map and the algorithm that made the map."""

from __future__ import annotations

from collections.abc import Mapping

from mhubio.core.data import AlgorithmInfo, DataItem
from mhubio.core.errors import StepError
from mhubio.core.module import ModelInfo


def label_segments(segmentation: DataItem, override: Mapping[int, str] | None, setting: str) -> dict[int, str]:
    """The label value -> segment id map of ``segmentation``: ``override`` if given, else the item's own.

    Raises
    ------
    StepError
        If neither gives one; ``setting`` names the parameter that would (e.g. ``SegEncoder.segment_map``).
    """
    segments = dict(override or segmentation.labels or {})
    if not segments:
        raise StepError(f"label map {segmentation.path.name} has no label -> segment id map; "
                        f"set {setting} or use a runner that records one")
    return segments


def label_map_algorithm(segmentation: DataItem, model: ModelInfo) -> AlgorithmInfo:
    """The algorithm that made ``segmentation``, else the model (without a segmentation algorithm family)."""
    return segmentation.algorithm or AlgorithmInfo(model.name, model.version)
