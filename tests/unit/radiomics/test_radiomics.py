"""mhubio.radiomics: feature codes, extraction per segment (named by segment id), tables."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import SimpleITK as sitk

from mhubio.radiomics import (
    DEFAULT_SHAPE_FEATURES,
    ExtractionConfig,
    FeatureClass,
    RadiomicsResult,
    SegmentFeatures,
    SegmentMask,
    coded_features,
    extract_features,
    extract_mask_features,
    feature_code,
    read_json,
    write_csv,
    write_json,
)
from mhubio.radiomics.codes import parse_feature_codes
from mhubio.synthetic import make_ct_phantom
from tests.radiomics_helpers import SMALL_SHAPE, SMALL_SPACING, label_image, pyradiomics_shape

pytest.importorskip("radiomics")


@pytest.fixture(scope="module")
def phantom():
    p = make_ct_phantom(shape=SMALL_SHAPE, spacing=SMALL_SPACING, seed=1)
    image = sitk.GetImageFromArray(p.image)
    image.SetSpacing(p.spacing)
    image.SetOrigin((-60.0, -70.0, 15.0))
    return p, image, label_image(p.labels, image)


# --- feature code table -------------------------------------------------------------------------------------


def test_code_table_has_the_14_shape_features_of_paper_000():
    coded = coded_features()
    assert [c.feature for c in coded] == [
        "Elongation", "Flatness", "LeastAxisLength", "MajorAxisLength", "Maximum3DDiameter", "MeshVolume",
        "MinorAxisLength", "Sphericity", "SurfaceArea", "SurfaceVolumeRatio", "VoxelVolume", "Compactness1",
        "Compactness2", "SphericalDisproportion",
    ]
    assert all(c.quantity.scheme_designator == "IBSI" and c.unit.scheme_designator == "UCUM" for c in coded)
    assert feature_code("shape_Maximum3DDiameter").quantity.value == "L0JK"
    assert feature_code("shape_SurfaceArea").quantity.value == "C0JK"
    assert feature_code("shape_Elongation").unit.value == "1"
    assert feature_code("shape_Flatness").unit.value == "1"
    assert feature_code("shape_SurfaceVolumeRatio").unit.value == "/mm"
    assert feature_code("shape_MeshVolume").unit.value == "mm3"


def test_unknown_feature_code_names_the_coded_ones():
    with pytest.raises(KeyError, match="shape_MeshVolume"):
        feature_code("firstorder_Mean")


ROW = {
    "feature_class": "shape", "feature": "Maximum3DDiameter", "quantity_scheme": "IBSI", "quantity_value": "L0JK",
    "quantity_meaning": "Maximum 3D Diameter of a Mesh", "unit_scheme": "UCUM", "unit_value": "mm",
    "unit_meaning": "millimeter",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"quantity_value": "LOJK"}, "not in the DICOM code dictionary"),
        ({"quantity_meaning": "Max diameter"}, "means 'Maximum 3D Diameter of a Mesh'"),
        ({"unit_scheme": "DCM"}, "UCUM"),
        ({"unit_value": ""}, "unit_value"),
    ],
)
def test_code_table_rejects_bad_rows(change, message):
    with pytest.raises(ValueError, match=message) as caught:
        parse_feature_codes([{**ROW, **change}], "table.csv")
    assert "table.csv line 2" in str(caught.value)


def test_code_table_rejects_a_feature_listed_twice():
    with pytest.raises(ValueError, match="line 3: feature shape_Maximum3DDiameter is listed twice"):
        parse_feature_codes([ROW, ROW], "table.csv")


# --- extraction -----------------------------------------------------------------------------------------------


def test_shape_features_equal_pyradiomics_on_each_binary_mask(phantom):
    p, image, labels = phantom
    result = extract_features(image, labels, p.label_names)
    assert [s.segment_id for s in result.segments] == [p.label_names[v] for v in sorted(p.label_names)]
    assert result.missing == ()
    assert result.algorithm_name == "pyradiomics" and result.algorithm_version == "3.0.1"
    for segment in result.segments:
        mask = label_image(p.mask(segment.segment_id), image)
        expected = pyradiomics_shape(image, mask)
        assert set(segment.features) == {f"shape_{n}" for n in DEFAULT_SHAPE_FEATURES}
        for key, value in expected.items():
            assert segment.features[key] == pytest.approx(value, rel=1e-6), (segment.segment_id, key)


def test_voxel_volume_is_the_voxel_count_times_voxel_size(phantom):
    p, image, labels = phantom
    result = extract_features(image, labels, p.label_names)
    voxel = float(np.prod(SMALL_SPACING))
    for segment in result.segments:
        count = int(np.count_nonzero(p.mask(segment.segment_id)))
        assert segment.features["shape_VoxelVolume"] == pytest.approx(count * voxel)


def test_a_missing_organ_does_not_shift_the_names(phantom):
    p, image, labels = phantom
    full = extract_features(image, labels, p.label_names).by_segment()
    heart = p.label_value("HEART")
    array = p.labels.copy()
    array[array == heart] = 0
    partial = extract_features(image, label_image(array, image), p.label_names)
    assert [(m.segment_id, m.label_value) for m in partial.missing] == [("HEART", heart)]
    assert "HEART" not in partial.by_segment()
    for segment in partial.segments:
        assert segment.features == full[segment.segment_id].features
        assert segment.label_value == p.label_value(segment.segment_id)


def test_segments_of_the_map_absent_from_the_image_are_missing_not_errors(phantom):
    p, image, labels = phantom
    result = extract_features(image, labels, {**p.label_names, 200: "SPLEEN"})
    assert [m.segment_id for m in result.missing] == ["SPLEEN"]


def test_label_values_without_segment_id_are_an_error(phantom):
    p, image, labels = phantom
    names = {v: n for v, n in p.label_names.items() if n != "LIVER"}
    with pytest.raises(ValueError, match=rf"label values \[{p.label_value('LIVER')}\]"):
        extract_features(image, labels, names)


def test_too_small_segment_is_reported_with_pyradiomics_reason(phantom):
    _, image, _ = phantom
    array = np.zeros(SMALL_SHAPE, np.uint8)
    array[5, 10, 10] = 1
    array[10:14, 20:30, 20:30] = 2
    result = extract_features(image, label_image(array, image), {1: "HEART", 2: "LIVER"})
    assert [s.segment_id for s in result.segments] == ["LIVER"]
    (missing,) = result.missing
    assert missing.segment_id == "HEART" and missing.reason.startswith("pyradiomics:")


def test_label_map_on_another_grid_is_resampled_onto_the_image(phantom):
    p, image, labels = phantom
    box = np.zeros(SMALL_SHAPE, np.uint8)
    box[8:16, 20:40, 24:44] = 1
    coarse = sitk.Resample(label_image(box, image), image, sitk.Transform(), sitk.sitkNearestNeighbor)
    shifted = sitk.Image(coarse)
    shifted.SetOrigin(tuple(o + 0.0001 for o in image.GetOrigin()))
    on_grid = extract_features(image, label_image(box, image), {1: "LIVER"}).segments[0]
    almost = extract_features(image, shifted, {1: "LIVER"}).segments[0]
    assert almost.features == on_grid.features
    assert on_grid.features["shape_VoxelVolume"] == pytest.approx(8 * 20 * 20 * np.prod(SMALL_SPACING))


def test_first_order_features_on_request_match_the_image(phantom):
    p, image, labels = phantom
    config = ExtractionConfig(classes=(FeatureClass.SHAPE, FeatureClass.FIRSTORDER))
    liver_only = label_image(p.mask("LIVER"), image)
    result = extract_features(image, liver_only, {1: "LIVER"}, config)
    (liver,) = result.segments
    hu = p.image[p.mask("LIVER")]
    assert liver.features["firstorder_Mean"] == pytest.approx(float(hu.mean()), rel=1e-6)
    assert liver.features["firstorder_Maximum"] == float(hu.max())
    assert "shape_MeshVolume" in liver.features
    assert result.settings["classes"] == "shape,firstorder"


def test_separate_masks_may_overlap(phantom):
    p, image, _ = phantom
    lungs = label_image(np.isin(p.labels, [p.label_value("LEFT_LUNG"), p.label_value("RIGHT_LUNG")]), image)
    left = label_image(p.mask("LEFT_LUNG"), image)
    result = extract_mask_features(image, [SegmentMask("LUNG", 1, lungs), SegmentMask("LEFT_LUNG", 2, left)])
    volumes = {s.segment_id: s.features["shape_VoxelVolume"] for s in result.segments}
    assert volumes["LUNG"] > volumes["LEFT_LUNG"] > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shape_features": ("MeshVolume", "Roundness")}, "unknown pyradiomics shape features \\['Roundness'\\]"),
        ({"settings": {"label": 2}}, "chosen per segment"),
        ({"classes": ()}, "at least one feature class"),
    ],
)
def test_extraction_config_errors(phantom, kwargs, message):
    p, image, labels = phantom
    with pytest.raises(ValueError, match=message):
        extract_features(image, labels, p.label_names, ExtractionConfig(**kwargs))


# --- typed results and tables -------------------------------------------------------------------------------


def test_segment_features_are_validated():
    with pytest.raises(ValueError, match="positive integer"):
        SegmentFeatures("HEART", 0, {})
    with pytest.raises(ValueError, match="'<class>_<name>'"):
        SegmentFeatures("HEART", 1, {"MeshVolume": 1.0})
    with pytest.raises(ValueError, match="HEART"):
        RadiomicsResult([SegmentFeatures("HEART", 1, {}), SegmentFeatures("HEART", 2, {})])


def test_tables_hold_the_same_numbers_named_by_segment(phantom, tmp_path):
    p, image, labels = phantom
    names = {**p.label_names, 99: "SPLEEN"}
    result = extract_features(image, labels, names, ExtractionConfig(classes=("shape", "firstorder")))
    nan_segment = SegmentFeatures("PANCREAS", 77, {"shape_MeshVolume": math.nan})
    result = RadiomicsResult([*result.segments[:-1], nan_segment], result.missing, "pyradiomics", "3.0.1",
                             result.settings)
    write_json(result, tmp_path / "f.json")
    write_csv(result, tmp_path / "f.csv")
    back = read_json(tmp_path / "f.json")
    assert [s.segment_id for s in back.segments] == [s.segment_id for s in result.segments]
    for a, b in zip(back.segments, result.segments, strict=True):
        assert a.label_value == b.label_value
        assert a.features.keys() == b.features.keys()
        assert all(a.features[k] == b.features[k] or (math.isnan(a.features[k]) and math.isnan(b.features[k]))
                   for k in a.features)
    assert back.missing == result.missing
    assert json.loads((tmp_path / "f.json").read_text())["segments"][-1]["features"] == {"shape_MeshVolume": None}
    with open(tmp_path / "f.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["segment_id"] for r in rows] == [s.segment_id for s in result.segments]
    for row, segment in zip(rows, result.segments, strict=True):
        for key, value in segment.features.items():
            assert row[key] == ("" if math.isnan(value) else repr(value))


def test_reading_a_foreign_json_fails_clearly(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="not an mhub radiomics table"):
        read_json(path)
