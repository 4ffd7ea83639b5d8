"""Known-answer tests of bpreg's score post-processing, landmarks and body part regions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mhubio.bpr.scores import (
    BodyPartRegion,
    BodyPartResult,
    CleanedScores,
    ScoreProcessingSettings,
    analyze_scores,
    body_part_examined,
    body_part_examined_tag,
    clean_scores,
    landmark_positions,
    lookup_table_from_dict,
    regions_per_slice,
)
from tests.support.bpr import EXAMPLE_LANDMARK_SCORES, example_lookup_table

# Raw scores equal transformed scores with these settings.
IDENTITY = ScoreProcessingSettings(transform_min=0.0, transform_max=100.0, slope_mean=0.11)
LUT = lookup_table_from_dict(example_lookup_table())

BPREG_JSON_KEYS = {
    "cleaned slice scores", "z", "unprocessed slice scores", "body part examined", "body part examined tag",
    "look-up table", "reverse z-ordering", "valid z-spacing", "expected slope", "observed slope", "slope ratio",
    "expected z-spacing", "z-spacing", "settings",
}


def linear_scores(n: int, z_spacing: float, slope: float, offset: float = 0.0, noise: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(7)
    return offset + np.arange(n) * z_spacing * slope + rng.normal(0.0, noise, n)


def hand_cleaned(values: list[float], z_spacing: float = 1.0) -> CleanedScores:
    """CleanedScores with the given cleaned values and the linear fit of bpreg."""
    cleaned = np.asarray(values, dtype=float)
    z = np.arange(len(cleaned)) * z_spacing
    valid = ~np.isnan(cleaned)
    slope, intercept = np.polyfit(z[valid], cleaned[valid], 1)
    return CleanedScores(
        unprocessed=cleaned.copy(), cleaned=cleaned, z=z, z_spacing=z_spacing, observed_slope=float(slope),
        intercept=float(intercept), expected_zspacing=math.nan, slope_ratio=math.nan, valid_zspacing=True,
        reverse_zordering=bool(slope < 0),
    )


def one_landmark_table(score: float) -> dict:
    return lookup_table_from_dict({"X": {"mean": score, "std": 1.0}})


class TestCleanScores:
    def test_noisy_linear_curve_is_kept_and_valid(self) -> None:
        scores = clean_scores(linear_scores(100, 1.0, 0.11, noise=0.2), 1.0, IDENTITY)
        assert not np.isnan(scores.cleaned).any()
        assert scores.valid_zspacing is True
        assert scores.reverse_zordering is False
        assert scores.observed_slope == pytest.approx(0.11, rel=0.05)

    def test_transform_maps_start_and_end_scores_to_0_and_100(self) -> None:
        settings = ScoreProcessingSettings(transform_min=1.0, transform_max=8.0, slope_mean=1.0)
        scores = clean_scores(np.arange(10.0), 1.0, settings)
        assert scores.unprocessed[1] == pytest.approx(0.0)
        assert scores.unprocessed[8] == pytest.approx(100.0)

    def test_implausible_tails_are_removed(self) -> None:
        body = linear_scores(400, 4.0, 0.11, offset=-20.0, noise=0.2)
        raw = np.concatenate([[20.0] * 3, body, [20.0] * 3])
        scores = clean_scores(raw, 4.0, IDENTITY)
        assert np.isnan(scores.cleaned[:3]).all()
        assert np.isnan(scores.cleaned[-3:]).all()
        assert not np.isnan(scores.cleaned[10:-10]).any()
        assert not np.isnan(scores.unprocessed).any()

    @pytest.mark.parametrize("factor", [2.0, 0.5])
    def test_unexpected_slope_marks_z_spacing_invalid(self, factor: float) -> None:
        settings = ScoreProcessingSettings(transform_min=0.0, transform_max=100.0, slope_mean=0.11 * factor)
        scores = clean_scores(linear_scores(100, 1.0, 0.11, noise=0.2), 1.0, settings)
        assert scores.valid_zspacing is False

    def test_decreasing_curve_sets_reverse_z_ordering(self) -> None:
        scores = clean_scores(linear_scores(100, 2.0, 0.11, offset=5.0)[::-1], 2.0, IDENTITY)
        assert scores.reverse_zordering is True
        assert scores.observed_slope == pytest.approx(-0.11, rel=0.05)

    def test_background_scores_are_dropped_from_cleaned_scores_only(self) -> None:
        raw = linear_scores(60, 2.0, 0.11, offset=20.0)
        raw[30] = 110.83
        scores = clean_scores(raw, 2.0, IDENTITY)
        assert np.isnan(scores.cleaned[30])
        assert scores.unprocessed[30] == pytest.approx(110.83)
        assert np.isfinite(np.delete(scores.cleaned, 30)).all()

    def test_single_slice_has_no_fit(self) -> None:
        scores = clean_scores([42.0], 3.0, IDENTITY)
        assert math.isnan(scores.observed_slope)
        assert scores.valid_zspacing is None
        assert scores.reverse_zordering is False

    @pytest.mark.parametrize("raw, spacing", [([], 1.0), ([1.0, 2.0], 0.0), ([1.0, 2.0], float("nan"))])
    def test_invalid_input_is_rejected(self, raw: list[float], spacing: float) -> None:
        with pytest.raises(ValueError):
            clean_scores(raw, spacing, IDENTITY)


class TestLandmarkPositions:
    def test_crossing_is_interpolated_between_slices(self) -> None:
        cleaned = hand_cleaned([0.0, 10.0, 20.0, 30.0, 40.0], z_spacing=2.0)
        position = landmark_positions(cleaned, one_landmark_table(24.0))["X"]
        assert position.fractional_index == pytest.approx(2.4)
        assert position.slice_index == 2
        assert position.expected_z == pytest.approx(4.8)
        assert landmark_positions(cleaned, one_landmark_table(26.0))["X"].slice_index == 3
        assert landmark_positions(cleaned, one_landmark_table(20.0))["X"].slice_index == 2

    @pytest.mark.parametrize("score", [0.0, -5.0, 40.0, 55.0])
    def test_landmarks_outside_the_scan_are_absent(self, score: float) -> None:
        cleaned = hand_cleaned([0.0, 10.0, 20.0, 30.0, 40.0])
        assert landmark_positions(cleaned, one_landmark_table(score)) == {}

    def test_reversed_slice_order_mirrors_the_slice_index(self) -> None:
        values = [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
        forward = landmark_positions(hand_cleaned(values), LUT)
        backward = landmark_positions(hand_cleaned(values[::-1]), LUT)
        assert set(forward) == set(backward) == {n for n, s in EXAMPLE_LANDMARK_SCORES.items() if 0 < s < 50}
        for name, position in forward.items():
            assert backward[name].fractional_index == pytest.approx(5 - position.fractional_index)

    def test_spurious_crossing_far_from_the_fit_is_ignored(self) -> None:
        values = list(np.linspace(0.0, 100.0, 101))
        values[80] = 10.0
        position = landmark_positions(hand_cleaned(values), one_landmark_table(10.5))["X"]
        assert position.slice_index == 11
        assert position.fractional_index == pytest.approx(10.5)

    def test_removed_slices_are_skipped(self) -> None:
        cleaned = hand_cleaned([math.nan, math.nan, 10.0, 20.0, 30.0, math.nan])
        assert landmark_positions(cleaned, one_landmark_table(35.0)) == {}
        assert landmark_positions(cleaned, one_landmark_table(5.0)) == {}
        assert landmark_positions(cleaned, one_landmark_table(25.0))["X"].fractional_index == pytest.approx(3.5)

    def test_monotone_curve_through_clean_scores_finds_landmarks_where_expected(self) -> None:
        z_spacing = 2.0
        raw = linear_scores(200, z_spacing, 0.11, offset=10.0, noise=0.1)
        result = analyze_scores(clean_scores(raw, z_spacing, IDENTITY), LUT, IDENTITY)
        for name in ("L3", "Th12", "Th8", "Th6"):
            expected_index = (EXAMPLE_LANDMARK_SCORES[name] - 10.0) / (0.11 * z_spacing)
            assert abs(result.landmarks[name] - expected_index) <= 2
        assert not {"pelvis_start", "Th4", "C5"} & set(result.landmarks)


class TestRegions:
    @pytest.mark.parametrize(
        "score, regions",
        [
            (-3.0, {"legs"}),
            (0.0, {"pelvis"}),
            (5.0, {"pelvis"}),
            (11.5, set()),
            (20.0, {"abdomen"}),
            (40.0, {"abdomen", "chest"}),
            (62.0, {"chest", "shoulder-neck"}),
            (75.0, {"shoulder-neck", "head"}),
            (90.0, {"head"}),
            (math.nan, set()),
        ],
    )
    def test_regions_of_a_score(self, score: float, regions: set[str]) -> None:
        examined = body_part_examined(np.array([score]), LUT)
        assert regions_per_slice(examined, 1) == [regions]

    def test_lower_bounds_inclusive_upper_exclusive(self) -> None:
        scores = np.array([LUT["L5"].mean, LUT["Th8"].mean, LUT["pelvis_start"].mean, LUT["C2"].mean])
        examined = body_part_examined(scores, LUT)
        assert examined[BodyPartRegion.ABDOMEN] == [0]
        assert examined[BodyPartRegion.PELVIS] == [2]
        assert 3 not in examined[BodyPartRegion.SHOULDER_NECK]

    def test_missing_landmark_in_table_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="C5"):
            body_part_examined(np.array([1.0]), {k: v for k, v in LUT.items() if k != "C5"})


class TestBodyPartExaminedTag:
    def test_chest_abdomen_pelvis_scan(self) -> None:
        raw = np.linspace(-5.0, 60.0, 150)
        scores = clean_scores(raw, 65.0 / 149 / 0.11, IDENTITY)
        assert body_part_examined_tag(scores, LUT) == "CHEST-ABDOMEN-PELVIS"

    def test_invalid_z_spacing_gives_none(self) -> None:
        scores = clean_scores(np.linspace(-5.0, 60.0, 150), 65.0 / 149 / 0.11 / 1.35, IDENTITY)
        assert scores.valid_zspacing is False
        assert body_part_examined_tag(scores, LUT) == "NONE"
        assert body_part_examined_tag(scores, LUT, ignore_invalid_z=True) == "CHEST-ABDOMEN-PELVIS"

    def test_short_scan_gets_most_frequent_distinct_part(self) -> None:
        raw = linear_scores(30, 3.0, 0.11, offset=50.0)
        scores = clean_scores(raw, 3.0, IDENTITY)
        assert body_part_examined_tag(scores, LUT) == "CHEST"


class TestResultJson:
    def make_result(self) -> BodyPartResult:
        raw = np.concatenate([[20.0] * 3, linear_scores(150, 2.5, 0.11, offset=-3.0, noise=0.1)])
        return analyze_scores(clean_scores(raw, 2.5, IDENTITY), LUT, IDENTITY)

    def test_json_has_bpreg_keys(self) -> None:
        document = self.make_result().to_bpreg_json()
        assert set(document) == BPREG_JSON_KEYS | {"mhubio"}
        assert set(document["body part examined"]) == {r.value for r in BodyPartRegion}
        assert document["look-up table"]["Th1"] == {"mean": 65.0, "std": 1.5}

    def test_round_trip_through_file(self, tmp_path) -> None:
        result = self.make_result()
        path = result.save_json(tmp_path / "out" / "bpreg.json")
        assert [p.name for p in path.parent.iterdir()] == ["bpreg.json"]
        assert json.loads(path.read_text())["reverse z-ordering"] == 0.0
        loaded = BodyPartResult.load_json(path)
        assert loaded.landmarks == result.landmarks
        assert loaded.regions == result.regions
        assert loaded.body_part_examined_tag == result.body_part_examined_tag
        np.testing.assert_array_equal(loaded.cleaned_scores, result.cleaned_scores)
        assert np.isnan(loaded.cleaned_scores[:3]).all()

    def test_malformed_json_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="body part regression JSON"):
            BodyPartResult.from_bpreg_json({"z": []})

    def test_result_rejects_inconsistent_lengths(self) -> None:
        result = self.make_result()
        with pytest.raises(ValueError, match="one entry per slice"):
            BodyPartResult(**{**result.__dict__, "regions": result.regions[:-1]})
        with pytest.raises(ValueError, match="outside"):
            BodyPartResult(**{**result.__dict__, "landmarks": {"L1": result.n_slices}})
