"""Post-processing of bpreg slice scores: cleaning, sanity checks, landmarks, body part regions, JSON output.

The cleaning (background filter, 0-100 transform, Gaussian smoothing, tail outlier removal, linear fit), the z-spacing
and z-ordering checks, "body part examined" and "body part examined tag" follow bpreg 1.1
(``bpreg.score_processing``). Landmark slice positions are added here: bpreg only stores the look-up table.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.ndimage import gaussian_filter

from mhubio.core.fileio import atomic_path

#: Raw network scores of empty slices (all pixels at the lower HU bound); bpreg drops slices with these scores.
BACKGROUND_SCORES: tuple[float, ...] = (110.83, 6.14, 108.92, 6.22)

#: Scale of the transformed scores: the start landmark maps to 0, the end landmark to this value.
SCORE_SCALE = 100.0


class BodyPartRegion(str, Enum):
    """Body part regions of bpreg's "body part examined" output."""

    LEGS = "legs"
    PELVIS = "pelvis"
    ABDOMEN = "abdomen"
    CHEST = "chest"
    SHOULDER_NECK = "shoulder-neck"
    HEAD = "head"


#: Landmark bounds of each region (lower inclusive, upper exclusive; an open lower bound counts from below,
#: an open upper bound includes scores strictly above the lower landmark), as bpreg's ``BODY_PARTS``.
REGION_BOUNDS: dict[BodyPartRegion, tuple[str | None, str | None]] = {
    BodyPartRegion.LEGS: (None, "pelvis_start"),
    BodyPartRegion.PELVIS: ("pelvis_start", "pelvis_end"),
    BodyPartRegion.ABDOMEN: ("L5", "Th8"),
    BodyPartRegion.CHEST: ("Th12", "Th1"),
    BodyPartRegion.SHOULDER_NECK: ("Th3", "C2"),
    BodyPartRegion.HEAD: ("C5", None),
}

#: Landmarks whose presence makes a body part part of the "body part examined tag" (bpreg ``BODY_PARTS_INCLUDED``).
TAG_LANDMARKS: dict[str, tuple[str, ...]] = {
    "PELVIS": ("pelvis_start", "femur_end", "pelvis_end"),
    "ABDOMEN": ("L5", "L4", "L3", "L2", "L1", "Th12", "Th11", "Th10", "Th9"),
    "CHEST": ("Th12", "Th11", "Th10", "Th9", "Th8", "Th7", "Th6", "Th5", "Th4", "Th3", "Th2", "Th1"),
    "NECK": ("Th3", "Th2", "Th1", "C7", "C6", "C5", "C4", "C3", "C2"),
    "HEAD": ("C3", "C2", "C1", "eyes_end"),
}
#: Minimum number of present landmarks per body part for the tag (bpreg ``MIN_PRESENT_LANDMARKS``).
TAG_MIN_PRESENT_LANDMARKS: dict[str, int] = {"PELVIS": 2, "ABDOMEN": 7, "CHEST": 9, "NECK": 6, "HEAD": 3}
#: Non-overlapping body parts used for short scans (bpreg ``DISTINCT_BODY_PARTS``).
TAG_DISTINCT_BODY_PARTS: dict[str, tuple[str, str]] = {
    "PELVIS": ("pelvis_start", "pelvis_end"),
    "ABDOMEN": ("pelvis_end", "Th9"),
    "CHEST": ("Th9", "Th2"),
    "NECK": ("Th2", "C3"),
    "HEAD": ("C3", "head_end"),
}
#: Scans shorter than this (mm) get the most frequent distinct body part as tag.
TAG_ZRANGE_THRESHOLD_MM = 100.0


@dataclass(frozen=True)
class LandmarkScore:
    """Expected score of an anatomical landmark (mean and standard deviation over bpreg's training data)."""

    mean: float
    std: float


LookupTable = Mapping[str, LandmarkScore]


def lookup_table_from_dict(data: Mapping[str, Mapping[str, float]]) -> dict[str, LandmarkScore]:
    """Parse a bpreg look-up table ``{landmark: {"mean": .., "std": ..}}``."""
    table = {}
    for name, entry in data.items():
        try:
            table[name] = LandmarkScore(mean=float(entry["mean"]), std=float(entry["std"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"look-up table entry {name!r} needs numeric 'mean' and 'std': {entry!r}") from error
    if not table:
        raise ValueError("the landmark look-up table is empty")
    return table


@dataclass(frozen=True)
class ScoreProcessingSettings:
    """Parameters of bpreg's slice score cleaning.

    Parameters
    ----------
    transform_min, transform_max: float
        Raw scores mapped to 0 and 100 (expected raw scores of the start and end landmarks).
    slope_mean: float
        Expected slope of the cleaned score curve per mm.
    tangential_slope_min, tangential_slope_max: float
        Range of valid slice-to-slice slopes (per mm); outside it, tails are cut.
    smoothing_sigma: float
        Gaussian smoothing sigma in mm.
    background_scores: tuple[float, ...]
        Raw scores (rounded to two decimals) of empty slices, removed before smoothing.
    r_slope_threshold: float
        Largest relative deviation of the observed from the expected slope for a valid z-spacing.
    """

    transform_min: float
    transform_max: float
    slope_mean: float
    tangential_slope_min: float = -0.037
    tangential_slope_max: float = 0.25
    smoothing_sigma: float = 10.0
    background_scores: tuple[float, ...] = BACKGROUND_SCORES
    r_slope_threshold: float = 0.28

    def __post_init__(self) -> None:
        if not math.isfinite(self.transform_min) or not math.isfinite(self.transform_max):
            raise ValueError("transform_min and transform_max must be finite")
        if self.transform_max == self.transform_min:
            raise ValueError(f"transform_min and transform_max are equal ({self.transform_min})")
        if self.smoothing_sigma <= 0:
            raise ValueError(f"smoothing_sigma must be positive, got {self.smoothing_sigma}")

    def to_bpreg_dict(self) -> dict[str, Any]:
        """Settings as in bpreg's JSON ``settings["slice score processing"]``."""
        return {
            "transform_min": self.transform_min,
            "transform_max": self.transform_max,
            "slope_mean": self.slope_mean,
            "tangential_slope_min": self.tangential_slope_min,
            "tangential_slope_max": self.tangential_slope_max,
            "r_slope_threshold": self.r_slope_threshold,
            "smoothing_sigma": self.smoothing_sigma,
            "background_scores": list(self.background_scores),
        }

    @classmethod
    def from_bpreg_dict(cls, data: Mapping[str, Any]) -> ScoreProcessingSettings:
        """Inverse of :meth:`to_bpreg_dict`."""
        return cls(
            transform_min=float(data["transform_min"]),
            transform_max=float(data["transform_max"]),
            slope_mean=float(data["slope_mean"]),
            tangential_slope_min=float(data["tangential_slope_min"]),
            tangential_slope_max=float(data["tangential_slope_max"]),
            smoothing_sigma=float(data["smoothing_sigma"]),
            background_scores=tuple(float(v) for v in data["background_scores"]),
            r_slope_threshold=float(data["r_slope_threshold"]),
        )


@dataclass(frozen=True)
class CleanedScores:
    """Slice scores after bpreg's cleaning, with its sanity checks.

    Attributes
    ----------
    unprocessed: numpy.ndarray
        Raw scores transformed to the 0-100 scale, nothing removed.
    cleaned: numpy.ndarray
        Smoothed scores; NaN for background slices and cut tails.
    z: numpy.ndarray
        Slice offsets ``index * z_spacing`` in mm.
    z_spacing: float
        Slice spacing in mm.
    observed_slope, intercept: float
        Linear fit of the cleaned scores over ``z`` (NaN with fewer than two valid slices).
    expected_zspacing: float
        z-spacing that would make the observed slope equal the expected one.
    slope_ratio: float
        ``|observed_slope| / slope_mean``.
    valid_zspacing: bool | None
        Whether the slope ratio is within the threshold; None if it cannot be computed.
    reverse_zordering: bool
        True if scores decrease with the slice index, i.e. the slices run from head to feet.
    """

    unprocessed: np.ndarray
    cleaned: np.ndarray
    z: np.ndarray
    z_spacing: float
    observed_slope: float
    intercept: float
    expected_zspacing: float
    slope_ratio: float
    valid_zspacing: bool | None
    reverse_zordering: bool


def _transform(values: np.ndarray, settings: ScoreProcessingSettings) -> np.ndarray:
    return (values - settings.transform_min) * SCORE_SCALE / (settings.transform_max - settings.transform_min)


def _fit_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope and intercept; NaN for fewer than two points."""
    if len(x) < 2:
        return math.nan, math.nan
    design = np.stack([np.ones(len(x)), x.astype(float)], axis=1)
    (intercept, slope), *_ = np.linalg.lstsq(design, y.astype(float), rcond=None)
    return float(slope), float(intercept)


def _boundary_indices(values: np.ndarray) -> tuple[float, float]:
    """Indices of the slices closest to scores 0 and 100 (if closer than 10), as bpreg's boundary indices."""
    if np.all(np.isnan(values)):
        return math.nan, math.nan
    min_idx: float = math.nan
    max_idx: float = math.nan
    diff_min = np.abs(values - 0.0)
    diff_max = np.abs(values - SCORE_SCALE)
    if np.nanmin(diff_min) < 10:
        min_idx = float(np.nanargmin(diff_min))
    if np.nanmin(diff_max) < 10:
        max_idx = float(np.nanargmin(diff_max))
    if min_idx > max_idx:
        min_idx = math.nan
    return min_idx, max_idx


def _remove_tail_outliers(
    values: np.ndarray,
    z_spacing: float,
    increasing: bool,
    boundaries: tuple[float, float],
    settings: ScoreProcessingSettings,
) -> np.ndarray:
    """Cut the tails beyond the 0/100 boundary slices whose slice-to-slice slope is implausible."""
    values = values.copy()
    if len(values) < 2:
        return values
    diffs = np.diff(values)
    slopes = np.append(diffs, diffs[-1]) / z_spacing
    with np.errstate(invalid="ignore"):
        outliers = np.flatnonzero((slopes < settings.tangential_slope_min) | (slopes > settings.tangential_slope_max))
    min_idx, max_idx = boundaries
    low, high = (min_idx, max_idx) if increasing else (max_idx, min_idx)
    left_tail = outliers[outliers < low] if not math.isnan(low) else outliers[:0]
    right_tail = outliers[outliers > high] if not math.isnan(high) else outliers[:0]
    if len(left_tail):
        values[: int(left_tail.max())] = np.nan
    if len(right_tail):
        values[int(right_tail.min()) :] = np.nan
    return values


def clean_scores(raw_scores: npt.ArrayLike, z_spacing: float, settings: ScoreProcessingSettings) -> CleanedScores:
    """Clean raw network slice scores as bpreg does.

    Parameters
    ----------
    raw_scores: array_like of float
        Network output per slice, in volume order.
    z_spacing: float
        Slice spacing in mm.
    settings: ScoreProcessingSettings
        Cleaning parameters (from the model's inference settings).

    Returns
    -------
    CleanedScores
        Transformed, cleaned scores with bpreg's sanity checks.
    """
    raw = np.asarray(raw_scores, dtype=float)
    if raw.ndim != 1 or len(raw) == 0:
        raise ValueError(f"expected a non-empty 1-D sequence of slice scores, got shape {raw.shape}")
    if not math.isfinite(z_spacing) or z_spacing <= 0:
        raise ValueError(f"z-spacing must be a positive number of mm, got {z_spacing}")
    unprocessed = _transform(raw, settings)
    slope_by_index, _ = _fit_line(np.arange(len(raw)), unprocessed)

    filtered = raw.copy()
    for background in settings.background_scores:
        filtered[np.round(filtered, 2) == background] = np.nan
    values = _transform(filtered, settings)
    valid = ~np.isnan(values)
    if valid.any():
        values[valid] = gaussian_filter(values[valid], sigma=settings.smoothing_sigma / z_spacing)
    boundaries = _boundary_indices(values)
    values = _remove_tail_outliers(values, z_spacing, slope_by_index > 0, boundaries, settings)

    z = np.arange(len(raw)) * float(z_spacing)
    valid = ~np.isnan(values)
    slope, intercept = _fit_line(z[valid], values[valid])
    slope_ratio = abs(slope) / settings.slope_mean
    valid_zspacing = None if math.isnan(slope_ratio) else bool(abs(1 - slope_ratio) <= settings.r_slope_threshold)
    return CleanedScores(
        unprocessed=unprocessed,
        cleaned=values,
        z=z,
        z_spacing=float(z_spacing),
        observed_slope=slope,
        intercept=intercept,
        expected_zspacing=slope * z_spacing / settings.slope_mean,
        slope_ratio=slope_ratio,
        valid_zspacing=valid_zspacing,
        reverse_zordering=bool(slope < 0),
    )


def _region_score_bounds(
    lookup_table: LookupTable,
) -> dict[BodyPartRegion, tuple[float | None, float | None]]:
    bounds = {}
    for region, (lower, upper) in REGION_BOUNDS.items():
        missing = [name for name in (lower, upper) if name is not None and name not in lookup_table]
        if missing:
            raise ValueError(
                f"landmark(s) {missing} for body part region {region.value!r} are not in the look-up table"
            )
        bounds[region] = (
            None if lower is None else lookup_table[lower].mean,
            None if upper is None else lookup_table[upper].mean,
        )
    return bounds


def body_part_examined(cleaned: np.ndarray, lookup_table: LookupTable) -> dict[BodyPartRegion, list[int]]:
    """Slice indices of each body part region (bpreg's "body part examined").

    A slice belongs to a region if its cleaned score lies in ``[lower, upper)`` of the region's landmark scores;
    open-ended regions use ``score < upper`` (legs) and ``score > lower`` (head) as bpreg. NaN scores belong nowhere.
    """
    cleaned = np.asarray(cleaned, dtype=float)
    result = {}
    with np.errstate(invalid="ignore"):
        for region, (lower, upper) in _region_score_bounds(lookup_table).items():
            if lower is not None and upper is not None:
                mask = (cleaned >= lower) & (cleaned < upper)
            elif upper is not None:
                mask = cleaned < upper
            elif lower is not None:
                mask = cleaned > lower
            else:
                mask = ~np.isnan(cleaned)
            result[region] = [int(i) for i in np.flatnonzero(mask)]
    return result


def regions_per_slice(examined: Mapping[BodyPartRegion, Sequence[int]], n_slices: int) -> list[set[str]]:
    """Invert "body part examined": the set of region names of every slice (several regions may overlap)."""
    regions: list[set[str]] = [set() for _ in range(n_slices)]
    for region, indices in examined.items():
        for index in indices:
            regions[int(index)].add(region.value)
    return regions


@dataclass(frozen=True)
class LandmarkPosition:
    """Where a landmark's expected score is crossed by the cleaned score curve.

    Attributes
    ----------
    slice_index: int
        Nearest slice (volume order).
    fractional_index: float
        Interpolated crossing position in slice units.
    expected_z: float
        Crossing position in mm on the ``z`` axis of the scores (``fractional_index * z_spacing``).
    """

    slice_index: int
    fractional_index: float
    expected_z: float


def landmark_positions(cleaned: CleanedScores, lookup_table: LookupTable) -> dict[str, LandmarkPosition]:
    """Locate every look-up table landmark that lies inside the scan.

    A landmark is inside the scan if valid cleaned scores exist both below and above its expected score (bpreg's
    ``is_landmark_present``). Its position is where the curve crosses that score, interpolated linearly between
    neighbouring valid slices; if the curve crosses several times, the crossing nearest to the linear fit of the
    curve is taken. Landmarks outside the scan are absent from the result.
    """
    values = cleaned.cleaned
    valid = np.flatnonzero(~np.isnan(values))
    positions: dict[str, LandmarkPosition] = {}
    if len(valid) < 2:
        return positions
    valid_scores = values[valid]
    for name, entry in lookup_table.items():
        score = entry.mean
        if not (valid_scores.min() < score < valid_scores.max()):
            continue
        crossings = []
        for i, j in itertools.pairwise(valid):
            lo, hi = values[i] - score, values[j] - score
            if lo == 0:
                crossings.append(float(i))
            elif lo * hi < 0:
                crossings.append(i + (j - i) * (score - values[i]) / (values[j] - values[i]))
        if values[valid[-1]] == score:
            crossings.append(float(valid[-1]))
        slope = cleaned.observed_slope
        if math.isfinite(slope) and slope != 0 and math.isfinite(cleaned.intercept):
            predicted = (score - cleaned.intercept) / slope / cleaned.z_spacing
            best = min(crossings, key=lambda c: abs(c - predicted))
        else:
            best = crossings[0]
        index = min(max(int(math.floor(best + 0.5)), 0), len(values) - 1)
        positions[name] = LandmarkPosition(
            slice_index=index, fractional_index=float(best), expected_z=float(best * cleaned.z_spacing)
        )
    return positions


def _scores_of(lookup_table: LookupTable, names: Sequence[str]) -> list[float]:
    missing = [name for name in names if name not in lookup_table]
    if missing:
        raise ValueError(f"landmark(s) {missing} needed for the body part examined tag are not in the look-up table")
    return [lookup_table[name].mean for name in names]


def body_part_examined_tag(cleaned: CleanedScores, lookup_table: LookupTable, ignore_invalid_z: bool = False) -> str:
    """bpreg's "body part examined tag", e.g. ``"CHEST-ABDOMEN"``; ``"NONE"`` if undetermined.

    Parameters
    ----------
    cleaned: CleanedScores
        Cleaned slice scores.
    lookup_table: LookupTable
        Transformed landmark look-up table.
    ignore_invalid_z: bool
        Estimate a tag even if the z-spacing check failed.
    """
    if cleaned.valid_zspacing is False and not ignore_invalid_z:
        return "NONE"
    values = cleaned.cleaned
    valid = values[~np.isnan(values)]

    def present(score: float) -> bool:
        return bool((valid < score).any() and (valid > score).any())

    included = [
        part
        for part, names in TAG_LANDMARKS.items()
        if sum(present(s) for s in _scores_of(lookup_table, names)) >= TAG_MIN_PRESENT_LANDMARKS[part]
    ]
    tag = _join_body_parts(included)
    if len(values) * cleaned.z_spacing < TAG_ZRANGE_THRESHOLD_MM or tag is None:
        tag = _most_frequent_distinct_body_part(valid, lookup_table)
    return tag


def _join_body_parts(parts: Sequence[str]) -> str | None:
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    if "HEAD" in parts:
        if "PELVIS" in parts:
            return "HEAD-NECK-CHEST-ABDOMEN-PELVIS"
        if "ABDOMEN" in parts:
            return "HEAD-NECK-CHEST-ABDOMEN"
        if "CHEST" in parts:
            return "HEAD-NECK-CHEST"
        return "HEAD-NECK"
    if "NECK" in parts:
        if "PELVIS" in parts:
            return "NECK-CHEST-ABDOMEN-PELVIS"
        if "ABDOMEN" in parts:
            return "NECK-CHEST-ABDOMEN"
        return "NECK-CHEST"
    if "CHEST" in parts:
        return "CHEST-ABDOMEN-PELVIS" if "PELVIS" in parts else "CHEST-ABDOMEN"
    return "ABDOMEN-PELVIS"


def _most_frequent_distinct_body_part(scores: np.ndarray, lookup_table: LookupTable) -> str:
    bounds = {part: _scores_of(lookup_table, names) for part, names in TAG_DISTINCT_BODY_PARTS.items()}
    parts = [part for score in scores for part, (lo, hi) in bounds.items() if lo < score < hi]
    if not parts:
        return "NONE"
    return Counter(parts).most_common(1)[0][0]


@dataclass(frozen=True)
class BodyPartResult:
    """Body part regression result of one CT series.

    Attributes
    ----------
    slice_scores: numpy.ndarray
        Unprocessed slice scores on the 0-100 scale (bpreg "unprocessed slice scores"), volume order.
    cleaned_scores: numpy.ndarray
        Cleaned slice scores, NaN where removed (bpreg "cleaned slice scores").
    z_positions: numpy.ndarray
        Slice offsets ``index * z_spacing`` in mm (bpreg "z").
    reverse_zordering: bool
        True if the slice index decreases with patient height (volume runs head to feet).
    landmarks: dict[str, int]
        Slice index of each landmark inside the scan.
    regions: list[set[str]]
        Body part region names of every slice (may be empty or several).
    z_spacing: float
        Slice spacing in mm.
    valid_zspacing: bool | None
        bpreg's z-spacing sanity check.
    observed_slope, expected_slope, slope_ratio, expected_zspacing: float
        Slope diagnostics as in bpreg's JSON.
    lookup_table: dict[str, LandmarkScore]
        Transformed landmark look-up table used.
    landmark_positions: dict[str, LandmarkPosition]
        Interpolated crossing positions of the landmarks in ``landmarks``.
    body_part_examined: dict[BodyPartRegion, list[int]]
        Slice indices per region.
    body_part_examined_tag: str
        bpreg's body part examined tag.
    settings: ScoreProcessingSettings
        Cleaning parameters used.
    """

    slice_scores: np.ndarray
    cleaned_scores: np.ndarray
    z_positions: np.ndarray
    reverse_zordering: bool
    landmarks: dict[str, int]
    regions: list[set[str]]
    z_spacing: float
    valid_zspacing: bool | None
    observed_slope: float
    expected_slope: float
    slope_ratio: float
    expected_zspacing: float
    lookup_table: dict[str, LandmarkScore]
    landmark_positions: dict[str, LandmarkPosition]
    body_part_examined: dict[BodyPartRegion, list[int]]
    body_part_examined_tag: str
    settings: ScoreProcessingSettings = field(repr=False)

    def __post_init__(self) -> None:
        n = len(self.cleaned_scores)
        if len(self.slice_scores) != n or len(self.z_positions) != n or len(self.regions) != n:
            raise ValueError(
                f"slice_scores ({len(self.slice_scores)}), cleaned_scores ({n}), z_positions "
                f"({len(self.z_positions)}) and regions ({len(self.regions)}) must have one entry per slice"
            )
        outside = {name: i for name, i in self.landmarks.items() if not 0 <= i < n}
        if outside:
            raise ValueError(f"landmark slice indices outside the {n} slices: {outside}")

    @property
    def n_slices(self) -> int:
        """Number of slices."""
        return len(self.cleaned_scores)

    def to_bpreg_json(self) -> dict[str, Any]:
        """The result as bpreg's JSON document (same keys), plus landmark positions under ``"mhubio"``."""
        return {
            "cleaned slice scores": [float(v) for v in self.cleaned_scores],
            "z": [float(v) for v in self.z_positions],
            "unprocessed slice scores": [float(v) for v in self.slice_scores],
            "body part examined": {
                region.value: [float(i) for i in indices] for region, indices in self.body_part_examined.items()
            },
            "body part examined tag": self.body_part_examined_tag,
            "look-up table": {name: {"mean": e.mean, "std": e.std} for name, e in self.lookup_table.items()},
            "reverse z-ordering": float(self.reverse_zordering),
            "valid z-spacing": math.nan if self.valid_zspacing is None else float(self.valid_zspacing),
            "expected slope": float(self.expected_slope),
            "observed slope": float(self.observed_slope),
            "slope ratio": float(self.slope_ratio),
            "expected z-spacing": float(self.expected_zspacing),
            "z-spacing": float(self.z_spacing),
            "settings": {
                "slice score processing": self.settings.to_bpreg_dict(),
                "body part examined dict": {
                    region.value: [math.nan if b is None else b for b in bounds]
                    for region, bounds in REGION_BOUNDS.items()
                },
                "body part examined tag": {
                    "body parts included": {k: list(v) for k, v in TAG_LANDMARKS.items()},
                    "distinct body parts": {k: list(v) for k, v in TAG_DISTINCT_BODY_PARTS.items()},
                    "min present landmarks": dict(TAG_MIN_PRESENT_LANDMARKS),
                },
            },
            "mhubio": {
                "landmarks": {
                    name: {
                        "slice index": pos.slice_index,
                        "fractional slice index": pos.fractional_index,
                        "expected z": pos.expected_z,
                    }
                    for name, pos in self.landmark_positions.items()
                }
            },
        }

    def save_json(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_bpreg_json` to ``path`` (NaN written as in bpreg), via a temporary file and rename."""
        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_bpreg_json(), indent=4))
        return path

    @classmethod
    def from_bpreg_json(cls, data: Mapping[str, Any]) -> BodyPartResult:
        """Rebuild a result from :meth:`to_bpreg_json` output; landmarks and regions are recomputed."""
        try:
            settings = ScoreProcessingSettings.from_bpreg_dict(data["settings"]["slice score processing"])
            cleaned_values = np.asarray(data["cleaned slice scores"], dtype=float)
            z = np.asarray(data["z"], dtype=float)
            z_spacing = float(data["z-spacing"])
            valid = ~np.isnan(cleaned_values)
            slope, intercept = _fit_line(z[valid], cleaned_values[valid])
            valid_z = float(data["valid z-spacing"])
            cleaned = CleanedScores(
                unprocessed=np.asarray(data["unprocessed slice scores"], dtype=float),
                cleaned=cleaned_values,
                z=z,
                z_spacing=z_spacing,
                observed_slope=slope,
                intercept=intercept,
                expected_zspacing=float(data["expected z-spacing"]),
                slope_ratio=float(data["slope ratio"]),
                valid_zspacing=None if math.isnan(valid_z) else bool(valid_z),
                reverse_zordering=bool(data["reverse z-ordering"]),
            )
            lookup_table = lookup_table_from_dict(data["look-up table"])
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a body part regression JSON document: missing or malformed {error}") from error
        return analyze_scores(cleaned, lookup_table, settings)

    @classmethod
    def load_json(cls, path: str | os.PathLike[str]) -> BodyPartResult:
        """Read a file written by :meth:`save_json`."""
        with open(path) as handle:
            return cls.from_bpreg_json(json.load(handle))


def analyze_scores(
    cleaned: CleanedScores, lookup_table: LookupTable, settings: ScoreProcessingSettings
) -> BodyPartResult:
    """Derive landmarks, regions and the body part examined tag from cleaned scores.

    Parameters
    ----------
    cleaned: CleanedScores
        Output of :func:`clean_scores`.
    lookup_table: LookupTable
        Transformed landmark look-up table (scores on the 0-100 scale).
    settings: ScoreProcessingSettings
        Cleaning parameters used (stored in the result).
    """
    examined = body_part_examined(cleaned.cleaned, lookup_table)
    positions = landmark_positions(cleaned, lookup_table)
    return BodyPartResult(
        slice_scores=cleaned.unprocessed,
        cleaned_scores=cleaned.cleaned,
        z_positions=cleaned.z,
        reverse_zordering=cleaned.reverse_zordering,
        landmarks={name: pos.slice_index for name, pos in positions.items()},
        regions=regions_per_slice(examined, len(cleaned.cleaned)),
        z_spacing=cleaned.z_spacing,
        valid_zspacing=cleaned.valid_zspacing,
        observed_slope=cleaned.observed_slope,
        expected_slope=settings.slope_mean,
        slope_ratio=cleaned.slope_ratio,
        expected_zspacing=cleaned.expected_zspacing,
        lookup_table=dict(lookup_table),
        landmark_positions=positions,
        body_part_examined=examined,
        body_part_examined_tag=body_part_examined_tag(cleaned, lookup_table),
        settings=settings,
    )
