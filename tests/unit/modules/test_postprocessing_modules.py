"""The post-processing modules on small NIfTI label maps, and their workflow validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from mhubio.core.config import Step, build_chain, parse_config
from mhubio.core.data import DataItem, Instance
from mhubio.core.errors import ConfigError, StepError
from mhubio.core.filetypes import FileType
from mhubio.core.module import Importer, ImportResult, Input, ModelInfo, Module, Output, RunContext
from mhubio.core.query import Query
from mhubio.core.registry import ModuleRegistry
from mhubio.core.steps import run_step
from mhubio.modules.processors.close_label import CloseLabel
from mhubio.modules.processors.filter_components_by_diameter import FilterComponentsByDiameter
from mhubio.modules.processors.keep_centermost_component import KeepCentermostComponent
from mhubio.modules.processors.keep_components_connected_to_region import (
    KeepComponentsConnectedToRegion,
)
from mhubio.modules.processors.keep_largest_components import KeepLargestComponents
from mhubio.modules.processors.majority_vote import MajorityVote
from mhubio.modules.processors.mask_outside_field_of_view import MaskOutsideFieldOfView
from mhubio.modules.processors.remap_labels import RemapLabels
from mhubio.modules.processors.restrict_to_region import RestrictToRegion
from mhubio.modules.processors.zero_edge_slices import ZeroEdgeSlices
from mhubio.modules.processors.zero_inside_bounding_box import ZeroInsideBoundingBox

KIDNEY = {1: "KIDNEY", 2: "KIDNEY_CYST", 3: "KIDNEY_TUMOR"}
LUNG = {1: "LUNG", 2: "LUNG_NODULE"}
SPACING = (0.8, 0.8, 2.0)
ORIGIN = (-10.0, 5.0, 30.0)


def nifti(path: Path, array: np.ndarray, spacing=SPACING, origin=ORIGIN) -> Path:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    sitk.WriteImage(image, str(path))
    return path


def seg_item(tmp_path: Path, name: str, array: np.ndarray, labels, **meta) -> DataItem:
    path = nifti(tmp_path / f"{name}.nii.gz", array)
    return DataItem(FileType.NIFTI, path, {"mod": "seg", "file": name, **meta}, labels=labels, producer=name)


def run(module_cls, params: dict, tmp_path: Path, **inputs) -> tuple[DataItem, np.ndarray]:
    """Run a module through the runner's step execution (input selection, output allocation)."""
    module = module_cls("step", module_cls.Params.model_validate(params), context(tmp_path))
    instance = Instance("1.2.3", {}, tmp_path / "work")
    queries = {}
    for name, value in inputs.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if item not in instance.items:
                instance.add(item)
        files = ",".join(item.meta["file"] for item in items)
        queries[name] = Query.parse(f"nifti:file={files}")
    (output,) = run_step(Step("step", module, queries, dict(module.declare_outputs())), instance)
    image = output.read_image()
    assert image.GetSpacing() == pytest.approx(SPACING) and image.GetOrigin() == pytest.approx(ORIGIN)
    return output, sitk.GetArrayFromImage(image)


def context(tmp_path: Path) -> RunContext:
    return RunContext(tmp_path, tmp_path, tmp_path, ModelInfo("test", "1"))


def kidney_map() -> np.ndarray:
    vol = np.zeros((12, 12, 12), dtype=np.uint8)
    vol[0:4, 0:4, 0:4] = 1  # left kidney
    vol[0:4, 0:4, 4:6] = 3  # tumour on it
    vol[8:11, 8:11, 8:11] = 1  # right kidney
    vol[8, 8, 11] = 2  # cyst on it
    vol[0:2, 10:12, 0:2] = 2  # false-positive cyst
    return vol


# ---------------------------------------------------------------- runtime behaviour


def test_keep_largest_components_by_segment_id(tmp_path):
    vol = kidney_map()
    source = seg_item(tmp_path, "kidney", vol, KIDNEY, model="bamf")
    before = (tmp_path / "kidney.nii.gz").read_bytes()
    params = {"labels": ["KIDNEY", "KIDNEY_CYST", "KIDNEY_TUMOR"], "k": 2, "union": True}
    output, out = run(KeepLargestComponents, params, tmp_path, segmentation=source)
    assert out.dtype == np.uint8
    assert (out == 1).sum() == 64 + 27 and (out == 3).sum() == 32 and (out == 2).sum() == 1
    assert output.labels == KIDNEY and output.meta["roi"] == "KIDNEY,KIDNEY_CYST,KIDNEY_TUMOR"
    assert output.meta["model"] == "bamf" and output.meta["processed"] == "step"
    assert (tmp_path / "kidney.nii.gz").read_bytes() == before
    assert output.image is not None and not output.path.exists()  # handed over in memory, no file written


@pytest.mark.parametrize("labels", [["LIVER"], [4]])
def test_label_missing_from_table_is_a_step_error(tmp_path, labels):
    source = seg_item(tmp_path, "kidney", kidney_map(), KIDNEY)
    with pytest.raises(StepError, match=r"not in the label table .*1=KIDNEY, 2=KIDNEY_CYST"):
        run(KeepLargestComponents, {"labels": labels}, tmp_path, segmentation=source)


def test_undeclared_voxel_values_are_a_step_error(tmp_path):
    source = seg_item(tmp_path, "kidney", kidney_map(), {1: "KIDNEY", 3: "KIDNEY_TUMOR"})
    with pytest.raises(StepError, match=r"values \[2\]"):
        run(KeepLargestComponents, {}, tmp_path, segmentation=source)


def test_image_passed_as_label_map_is_a_step_error(tmp_path):
    ct = DataItem(FileType.NIFTI, nifti(tmp_path / "ct.nii.gz", np.full((4, 4, 4), -1000, np.int16)),
                  {"mod": "ct", "file": "ct"}, labels=KIDNEY)
    with pytest.raises(StepError, match="ct.nii.gz.*looks like an image"):
        run(KeepLargestComponents, {}, tmp_path, segmentation=ct)


def test_missing_label_table_is_a_step_error(tmp_path):
    source = seg_item(tmp_path, "kidney", kidney_map(), None)
    with pytest.raises(StepError, match="no label table"):
        run(KeepLargestComponents, {}, tmp_path, segmentation=source)


def test_float_label_map_is_read_as_integers(tmp_path):
    source = seg_item(tmp_path, "kidney", kidney_map().astype(np.float32), KIDNEY)
    _, out = run(KeepLargestComponents, {"k": 1}, tmp_path, segmentation=source)
    assert out.dtype == np.uint8 and (out == 2).sum() == 8 and (out == 1).sum() == 64


def test_float_label_map_with_fractions_is_rejected(tmp_path):
    source = seg_item(tmp_path, "kidney", kidney_map().astype(np.float32) * 0.5, KIDNEY)
    with pytest.raises(StepError, match="non-integer"):
        run(KeepLargestComponents, {}, tmp_path, segmentation=source)


def test_keep_centermost_component(tmp_path):
    vol = np.zeros((21, 21, 21), dtype=np.uint8)
    vol[0:5, 0:5, 0:5] = 1
    vol[9:12, 9:12, 9:12] = 1
    source = seg_item(tmp_path, "prostate", vol, {1: "PROSTATE"})
    params = {"labels": ["PROSTATE"], "min_fraction_of_largest": 0.1}
    _, out = run(KeepCentermostComponent, params, tmp_path, segmentation=source)
    assert out.sum() == 27 and out[10, 10, 10] == 1
    _, out = run(KeepCentermostComponent, {**params, "min_fraction_of_largest": 0.5}, tmp_path, segmentation=source)
    assert out.sum() == 125


def nodule_map() -> np.ndarray:
    vol = np.ones((20, 40, 40), dtype=np.uint8)  # lung everywhere
    vol[2, 2, 2] = 2  # 1.28 mm3: tiny
    vol[5:7, 5:10, 5:10] = 2  # 2 x 5 x 5 voxels: 4 x 4 x 4 mm box
    vol[8:19, 0:40, 0:40] = 2  # 22 x 32 x 32 mm: too large
    return vol


def test_nodule_size_filter_with_new_oversize_segment(tmp_path):
    source = seg_item(tmp_path, "lung", nodule_map(), LUNG)
    params = {
        "label": "LUNG_NODULE",
        "measure": "max_extent",
        "min_diameter_mm": 3,
        "max_diameter_mm": 30,
        "fill_label": "LUNG",
        "oversize_label": 3,
        "oversize_segment": "FDG_AVID_LUNG_TUMOR",
    }
    output, out = run(FilterComponentsByDiameter, params, tmp_path, segmentation=source)
    assert out[2, 2, 2] == 1
    assert (out == 2).sum() == 50
    assert (out == 3).sum() == 11 * 40 * 40
    assert output.labels == {**LUNG, 3: "FDG_AVID_LUNG_TUMOR"}


def test_oversize_label_outside_table_needs_a_segment(tmp_path):
    source = seg_item(tmp_path, "lung", nodule_map(), LUNG)
    params = {"label": 2, "measure": "equivalent_sphere", "max_diameter_mm": 30, "oversize_label": 3}
    with pytest.raises(StepError, match="give oversize_segment"):
        run(FilterComponentsByDiameter, params, tmp_path, segmentation=source)


def tumour_and_lungs(tmp_path: Path) -> tuple[DataItem, DataItem]:
    tumours = np.zeros((12, 12, 12), dtype=np.uint8)
    tumours[3:5, 3:5, 3:5] = 1  # inside the lung
    tumours[3:5, 3:5, 7:9] = 1  # against the lung
    tumours[9:11, 9:11, 9:11] = 1  # far away
    lungs = np.zeros((12, 12, 12), dtype=np.uint8)
    lungs[2:7, 2:7, 2:5] = 10
    lungs[2:7, 2:7, 5:7] = 11
    tumour_item = seg_item(tmp_path, "tumour", tumours, {1: "FDG_AVID_TUMOR"}, model="autopet")
    lung_item = seg_item(
        tmp_path, "total", lungs, {10: "LEFT_UPPER_LUNG_LOBE", 11: "LEFT_LOWER_LUNG_LOBE"}
    )
    return tumour_item, lung_item


def test_restrict_to_region_of_another_label_map(tmp_path):
    tumour, lungs = tumour_and_lungs(tmp_path)
    params = {"labels": ["FDG_AVID_TUMOR"], "region_labels": [10, "LEFT_LOWER_LUNG_LOBE"]}
    _, out = run(RestrictToRegion, params, tmp_path, segmentation=tumour, region=lungs)
    assert out.sum() == 8 and out[3, 3, 3] == 1


def test_keep_components_connected_to_region(tmp_path):
    tumour, lungs = tumour_and_lungs(tmp_path)
    params = {"labels": [1], "region_labels": ["LEFT_UPPER_LUNG_LOBE", "LEFT_LOWER_LUNG_LOBE"]}
    _, out = run(KeepComponentsConnectedToRegion, params, tmp_path, segmentation=tumour, region=lungs)
    assert out.sum() == 16 and out[9, 9, 9] == 0
    params["region_labels"] = ["LEFT_UPPER_LUNG_LOBE"]  # 2 voxels from the second tumour
    _, out = run(KeepComponentsConnectedToRegion, params, tmp_path, segmentation=tumour, region=lungs)
    assert out.sum() == 8


def test_region_label_missing_from_region_map(tmp_path):
    tumour, lungs = tumour_and_lungs(tmp_path)
    params = {"labels": [1], "region_labels": ["RIGHT_UPPER_LUNG_LOBE"]}
    with pytest.raises(StepError, match="region_labels.*RIGHT_UPPER_LUNG_LOBE.*10=LEFT_UPPER_LUNG_LOBE"):
        run(RestrictToRegion, params, tmp_path, segmentation=tumour, region=lungs)


def test_region_on_another_grid(tmp_path):
    tumour, _ = tumour_and_lungs(tmp_path)
    lungs = DataItem(
        FileType.NIFTI,
        nifti(tmp_path / "small.nii.gz", np.full((6, 12, 12), 10, dtype=np.uint8)),
        {"mod": "seg", "file": "small"},
        labels={10: "LUNG"},
    )
    with pytest.raises(StepError, match="not on the grid"):
        run(RestrictToRegion, {"labels": [1], "region_labels": ["LUNG"]}, tmp_path, segmentation=tumour, region=lungs)


def test_region_and_labels_from_one_map(tmp_path):
    source = seg_item(tmp_path, "lung", nodule_map(), LUNG)
    params = {"labels": ["LUNG_NODULE"], "region_labels": ["LUNG"]}
    with pytest.raises(StepError, match="both select .*KeepComponentsConnectedToRegion"):
        run(RestrictToRegion, params, tmp_path, segmentation=source, region=source)
    params["region_labels"] = ["LUNG", "LUNG_NODULE"]
    with pytest.raises(StepError, match="restricted to itself"):
        run(KeepComponentsConnectedToRegion, params, tmp_path, segmentation=source, region=source)
    vol = nodule_map()
    vol[8:19] = 0  # the large nodule now touches nothing; small ones sit in the lung
    vol[15:17, 0:3, 0:3] = 2  # a nodule outside the lung
    source = seg_item(tmp_path, "lung2", vol, LUNG)
    params["region_labels"] = ["LUNG"]
    _, out = run(KeepComponentsConnectedToRegion, params, tmp_path, segmentation=source, region=source)
    assert (out == 2).sum() == 1 + 50 and out[15, 0, 0] == 0


def test_empty_region_fails_unless_allowed(tmp_path):
    tumour, _ = tumour_and_lungs(tmp_path)
    empty = seg_item(tmp_path, "empty", np.zeros((12, 12, 12), dtype=np.uint8), {1: "LUNG"})
    params = {"labels": [1], "region_labels": ["LUNG"]}
    with pytest.raises(ValueError, match="region is empty"):
        run(RestrictToRegion, params, tmp_path, segmentation=tumour, region=empty)
    _, out = run(RestrictToRegion, {**params, "allow_empty_region": True}, tmp_path, segmentation=tumour, region=empty)
    assert not out.any()


def test_zero_inside_bounding_box(tmp_path):
    tumour, lungs = tumour_and_lungs(tmp_path)
    params = {"labels": [1], "region_labels": [10, 11], "margin": [0, 0, 2]}
    _, out = run(ZeroInsideBoundingBox, params, tmp_path, segmentation=tumour, region=lungs)
    assert out.sum() == 8 and out[9, 9, 9] == 1


def test_zero_edge_slices_and_close_label(tmp_path):
    vol = np.zeros((7, 7, 7), dtype=np.uint8)
    vol[:, 1:6, 1:6] = 1
    vol[3, 3, 3] = 0
    source = seg_item(tmp_path, "liver", vol, {1: "LIVER"})
    _, out = run(ZeroEdgeSlices, {"count": 1}, tmp_path, segmentation=source)
    assert out[0].sum() == 0 and out[6].sum() == 0 and out[1].sum() == 25
    _, out = run(CloseLabel, {"label": "LIVER", "radius": 1}, tmp_path, segmentation=source)
    assert out[3, 3, 3] == 1 and out.sum() == 7 * 25


def test_mask_outside_field_of_view(tmp_path):
    tumour, _ = tumour_and_lungs(tmp_path)
    ct = np.zeros((6, 12, 12), dtype=np.int16)  # the original CT covers the first 6 slices only
    original = DataItem(FileType.NIFTI, nifti(tmp_path / "ct.nii.gz", ct), {"mod": "ct", "file": "ct"})
    _, out = run(MaskOutsideFieldOfView, {}, tmp_path, segmentation=tumour, original=original)
    assert out[:6].sum() == 16 and out[6:].sum() == 0


def test_field_of_view_on_the_same_grid_is_a_step_error(tmp_path):
    tumour, _ = tumour_and_lungs(tmp_path)
    ct = np.zeros((12, 12, 12), dtype=np.int16)
    original = DataItem(FileType.NIFTI, nifti(tmp_path / "ct.nii.gz", ct), {"mod": "ct", "file": "ct"})
    with pytest.raises(StepError, match="before resampling"):
        run(MaskOutsideFieldOfView, {}, tmp_path, segmentation=tumour, original=original)


LOBES = {
    10: "LEFT_UPPER_LUNG_LOBE",
    11: "LEFT_LOWER_LUNG_LOBE",
    12: "RIGHT_UPPER_LUNG_LOBE",
    13: "RIGHT_MIDDLE_LUNG_LOBE",
    14: "RIGHT_LOWER_LUNG_LOBE",
}


def lobe_item(tmp_path: Path, table=LOBES) -> DataItem:
    vol = np.zeros((5, 5, 5), dtype=np.uint8)
    for i, value in enumerate(LOBES):
        vol[i] = value
    return seg_item(tmp_path, "lobes", vol, table)


def test_remap_lobes_to_left_and_right_lung(tmp_path):
    mapping = {
        "LEFT_UPPER_LUNG_LOBE": 1,
        "LEFT_LOWER_LUNG_LOBE": 1,
        12: 2,
        "RIGHT_MIDDLE_LUNG_LOBE": 2,
        "RIGHT_LOWER_LUNG_LOBE": 2,
    }
    params = {"mapping": mapping, "segments": {1: "LEFT_LUNG", 2: "RIGHT_LUNG"}}
    output, out = run(RemapLabels, params, tmp_path, segmentation=lobe_item(tmp_path))
    assert out[:, 0, 0].tolist() == [1, 1, 2, 2, 2]
    assert output.labels == {1: "LEFT_LUNG", 2: "RIGHT_LUNG"}


def test_remap_unmapped_declared_label_is_a_step_error(tmp_path):
    params = {"mapping": {10: 1, 11: 1}, "segments": {1: "LEFT_LUNG"}}
    with pytest.raises(StepError, match="does not cover labels 12=RIGHT_UPPER_LUNG_LOBE"):
        run(RemapLabels, params, tmp_path, segmentation=lobe_item(tmp_path))
    output, out = run(RemapLabels, {**params, "unmapped": "keep"}, tmp_path, segmentation=lobe_item(tmp_path))
    assert out[:, 0, 0].tolist() == [1, 1, 12, 13, 14] and output.labels[1] == "LEFT_LUNG"
    output, out = run(RemapLabels, {**params, "unmapped": "zero"}, tmp_path, segmentation=lobe_item(tmp_path))
    assert out[:, 0, 0].tolist() == [1, 1, 0, 0, 0] and output.labels == {1: "LEFT_LUNG"}


def test_remap_target_clashing_with_kept_label(tmp_path):
    params = {"mapping": {10: 12}, "segments": {12: "LEFT_LUNG"}, "unmapped": "keep"}
    with pytest.raises(StepError, match="collide"):
        run(RemapLabels, params, tmp_path, segmentation=lobe_item(tmp_path))


def fold_items(tmp_path: Path, count: int, votes_per_column=(0, 1, 2, 3, 4, 5)) -> list[DataItem]:
    folds = [np.zeros((1, 2, 6), dtype=np.uint8) for _ in range(count)]
    for column, votes in enumerate(votes_per_column):
        for fold in folds[:votes]:
            fold[0, 0, column] = 1
            fold[0, 1, column] = 2
    return [seg_item(tmp_path, f"fold{i}", f, LUNG, fold=str(i), model="bamf") for i, f in enumerate(folds)]


def test_majority_vote_of_five_folds(tmp_path):
    output, out = run(MajorityVote, {"folds": 5}, tmp_path, folds=fold_items(tmp_path, 5))
    assert out[0, 0].tolist() == [0, 0, 0, 1, 1, 1]
    assert out[0, 1].tolist() == [0, 0, 0, 2, 2, 2]
    assert output.labels == LUNG and output.meta["model"] == "bamf" and output.meta["fold"] == "ensemble"


def test_majority_vote_wrong_fold_count_or_tables(tmp_path):
    with pytest.raises(StepError, match="expected 5 fold predictions, found 4"):
        run(MajorityVote, {"folds": 5}, tmp_path, folds=fold_items(tmp_path, 4))
    items = fold_items(tmp_path, 3)
    items[2].set_labels({1: "LUNG", 2: "FDG_AVID_TUMOR"})
    with pytest.raises(StepError, match="unlike"):
        run(MajorityVote, {"folds": 3}, tmp_path, folds=items)
    with pytest.raises(StepError, match="two labels win"):
        run(MajorityVote, {"folds": 5, "threshold": 0.4}, tmp_path, folds=fold_items(tmp_path, 5))


# ---------------------------------------------------------------- workflow validation


class FakeImporter(Importer):
    outputs = {"ct": Output(FileType.DICOM, {"mod": "ct"})}

    def import_instances(self, input_dir):
        return ImportResult([])


class FakeKidneyRunner(Module):
    inputs = {"image": Input("dicom:mod=ct")}
    outputs = {
        "seg": Output(FileType.NIFTI, {"mod": "seg", "model": "bamf", "roi": "KIDNEY,KIDNEY_CYST,KIDNEY_TUMOR"})
    }


class FakeFoldRunner(Module):
    inputs = {"image": Input("dicom:mod=ct")}
    outputs = {
        f"fold{i}": Output(FileType.NIFTI, {"mod": "seg", "fold": str(i), "roi": "LUNG,LUNG_NODULE"})
        for i in range(5)
    }


def chain(tmp_path: Path, *steps, runner: str = "FakeKidneyRunner"):
    registry = ModuleRegistry.discover()
    for fake in (FakeImporter, FakeKidneyRunner, FakeFoldRunner):
        registry.add(fake)
    raw = {"general": {"model": "test"}, "execute": ["FakeImporter", runner, *steps]}
    return build_chain(parse_config(raw), registry, context(tmp_path))


def test_processor_chain_validates_and_keeps_roi_for_later_queries(tmp_path):
    built = chain(
        tmp_path,
        {"KeepLargestComponents": {"labels": ["KIDNEY", "KIDNEY_CYST", "KIDNEY_TUMOR"], "k": 2, "union": True}},
        {"module": "ZeroEdgeSlices", "params": {"count": 1}, "inputs": {"segmentation": "nifti:roi=KIDNEY_TUMOR"}},
    )
    assert [s.id for s in built.steps] == ["FakeKidneyRunner", "KeepLargestComponents", "ZeroEdgeSlices"]


def test_roi_of_inherited_outputs_is_known_to_validation(tmp_path):
    """Only the ensemble output has fold=ensemble; its roi comes from the folds it inherits."""
    built = chain(
        tmp_path,
        {"MajorityVote": {"folds": 5}},
        {"module": "KeepLargestComponents", "inputs": {"segmentation": "nifti:fold=ensemble:roi=LUNG_NODULE"}},
        runner="FakeFoldRunner",
    )
    assert built.steps[-1].id == "KeepLargestComponents"


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"KeepLargestComponents": {"k": 0}}, "'k'"),
        ({"KeepLargestComponents": {"connectivity": 8}}, "'connectivity'"),
        ({"KeepLargestComponents": {"labels": ["KIDNY"]}}, "did you mean 'KIDNEY'"),
        ({"KeepLargestComponents": {"labels": [0]}}, "0 is background"),
        ({"KeepLargestComponents": {"labels": []}}, "at least one label"),
        ({"KeepLargestComponents": {"min_fraction_of_largest": 1.2}}, "min_fraction_of_largest"),
        ({"KeepLargestComponents": {"lables": [1]}}, "'lables': unknown parameter"),
        ({"FilterComponentsByDiameter": {"label": 2, "min_diameter_mm": 3}}, "'measure': required"),
        ({"FilterComponentsByDiameter": {"label": 2, "measure": "max_extent"}}, "min_diameter_mm, max_diameter_mm"),
        ({"RemapLabels": {"mapping": {1: 2}, "segments": {3: "LUNG"}}}, "segment id of every"),
        ({"MajorityVote": {"folds": 1}}, "'folds'"),
        ({"CloseLabel": {"label": 1}}, "'radius': required"),
        ({"KeepCentermostComponent": {}}, "'min_fraction_of_largest': required"),
        ({"RestrictToRegion": {"labels": [1]}}, "'region_labels': required"),
    ],
)
def test_invalid_parameters_are_config_errors(tmp_path, step, message):
    with pytest.raises(ConfigError, match=message):
        chain(tmp_path, step)


def test_region_query_that_nothing_produces_is_a_config_error(tmp_path):
    step = {
        "module": "RestrictToRegion",
        "params": {"labels": [3], "region_labels": ["LUNG"]},
        "inputs": {"region": "nifti:mod=seg:model=totalsegmentator"},
    }
    with pytest.raises(
        ConfigError, match="input 'region' query 'nifti:mod=seg:model=totalsegmentator' matches nothing"
    ):
        chain(tmp_path, step)


def test_segmentation_query_on_a_missing_roi_is_a_config_error(tmp_path):
    step = {"module": "KeepLargestComponents", "inputs": {"segmentation": "nifti:mod=seg:roi=LIVER"}}
    with pytest.raises(ConfigError, match="matches nothing"):
        chain(tmp_path, step)


def test_consumer_of_a_missing_processor_step_is_a_config_error(tmp_path):
    """Selecting processed=<step> downstream makes a post-processing step left out of the chain
    (the public BAMF packaging's mistake) a config error instead of a silently skipped step."""
    consumer = {"module": "ZeroEdgeSlices", "params": {"count": 1},
                "inputs": {"segmentation": "nifti:mod=seg:processed=KeepLargestComponents"}}
    assert chain(tmp_path, {"KeepLargestComponents": {"k": 2}}, consumer).steps[-1].id == "ZeroEdgeSlices"
    with pytest.raises(ConfigError, match="processed=KeepLargestComponents' matches nothing"):
        chain(tmp_path, consumer)


def test_majority_vote_needs_fold_predictions(tmp_path):
    with pytest.raises(ConfigError, match="input 'folds' query 'nifti:mod=seg:fold=\\*' matches nothing"):
        chain(tmp_path, {"MajorityVote": {"folds": 5}})
