"""Typed radiomics results: features of one segment, and of all segments of a label map."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

__all__ = ["FeatureClass", "MissingSegment", "RadiomicsResult", "SegmentFeatures"]


class FeatureClass(str, Enum):
    """pyradiomics feature classes (3-D)."""

    SHAPE = "shape"
    FIRSTORDER = "firstorder"
    GLCM = "glcm"
    GLRLM = "glrlm"
    GLSZM = "glszm"
    GLDM = "gldm"
    NGTDM = "ngtdm"


@dataclass(frozen=True)
class SegmentFeatures:
    """Radiomics features of one segment.

    Parameters
    ----------
    segment_id: str
        Segment id of :mod:`mhubio.segdb` (``"HEART"``): results are named by
        segment, never by position.
    label_value: int
        Label value (or SEG segment number) the mask was taken from.
    features: Mapping[str, float]
        Feature key ``"<class>_<name>"`` (``"shape_MeshVolume"``) -> value.
    """

    segment_id: str
    label_value: int
    features: Mapping[str, float]

    def __post_init__(self) -> None:
        if not self.segment_id:
            raise ValueError("SegmentFeatures needs a segment id")
        if isinstance(self.label_value, bool) or not isinstance(self.label_value, int) or self.label_value <= 0:
            raise ValueError(f"segment {self.segment_id}: label value must be a positive integer, "
                             f"got {self.label_value!r}")
        bad = [k for k in self.features if "_" not in k]
        if bad:
            raise ValueError(f"segment {self.segment_id}: feature keys must be '<class>_<name>', got {bad}")
        object.__setattr__(self, "features", {str(k): float(v) for k, v in self.features.items()})

    def finite(self) -> dict[str, float]:
        """Features with a finite value (pyradiomics returns NaN for undefined ones)."""
        return {k: v for k, v in self.features.items() if math.isfinite(v)}


@dataclass(frozen=True)
class MissingSegment:
    """A segment of the label map without features, and why (empty, too small)."""

    segment_id: str
    label_value: int
    reason: str


@dataclass(frozen=True)
class RadiomicsResult:
    """Features of every segment that had some, plus the segments left out.

    Parameters
    ----------
    segments: Sequence[SegmentFeatures]
        In label-value order; segment ids are unique.
    missing: Sequence[MissingSegment]
        Segments of the label map without features.
    algorithm_name, algorithm_version: str
        The library that computed the features (``"pyradiomics"``, ``"3.0.1"``).
    settings: Mapping[str, str]
        Extraction settings that change the values (for the record).
    """

    segments: Sequence[SegmentFeatures]
    missing: Sequence[MissingSegment] = ()
    algorithm_name: str = "pyradiomics"
    algorithm_version: str = ""
    settings: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ids = [s.segment_id for s in self.segments] + [m.segment_id for m in self.missing]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"segment ids occur more than once: {', '.join(repeated)}")
        object.__setattr__(self, "segments", tuple(self.segments))
        object.__setattr__(self, "missing", tuple(self.missing))
        object.__setattr__(self, "settings", {str(k): str(v) for k, v in self.settings.items()})

    def by_segment(self) -> dict[str, SegmentFeatures]:
        """Segment id -> features."""
        return {s.segment_id: s for s in self.segments}

    def feature_keys(self) -> list[str]:
        """All feature keys, in first-seen order."""
        keys: dict[str, None] = {}
        for segment in self.segments:
            keys.update(dict.fromkeys(segment.features))
        return list(keys)
