"""Known-answer tests of the BAMF glue: CombineLabelMaps and the breast PET/CT region filter (no networks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from mhubio.core.data import DataItem, Instance
from mhubio.core.errors import ConfigError, StepError
from mhubio.core.filetypes import FileType
from mhubio.core.module import ModelInfo, RunContext
from mhubio.core.registry import ModuleRegistry
from mhubio.modules.processors.combine_label_maps import CombineLabelMaps

REPO = Path(__file__).resolve().parents[2]
TS_TABLE = {1: "SPLEEN", 2: "RIGHT_KIDNEY", 3: "LEFT_KIDNEY", 4: "GALLBLADDER", 5: "LIVER"}
"""The first TotalSegmentator classes (value -> segment id)."""


def _item(tmp_path: Path, name: str, array: np.ndarray, labels: dict[int, str], spacing=(2.0, 2.0, 2.0)) -> DataItem:
    image = sitk.GetImageFromArray(array.astype(np.uint8))
    image.SetSpacing(spacing)
    path = tmp_path / f"{name}.nii.gz"
    sitk.WriteImage(image, str(path))
    return DataItem(FileType.NIFTI, path, {"mod": "seg"}, labels=labels)


def _context(tmp_path: Path) -> RunContext:
    return RunContext(tmp_path, tmp_path, tmp_path, ModelInfo("test", "1.0"))


def _run(module, tmp_path: Path, inputs: dict[str, DataItem]) -> np.ndarray:
    out = DataItem(FileType.NIFTI, tmp_path / "out.nii.gz", {"mod": "seg"})
    module.process(Instance("1.2.3", {}, tmp_path), inputs, {"segmentation": out})
    return sitk.GetArrayFromImage(out.read_image()), out


def _combine(tmp_path: Path, **params) -> CombineLabelMaps:
    return CombineLabelMaps("combine", CombineLabelMaps.Params(**params), _context(tmp_path))


def test_combine_paints_overlay_over_base_and_drops_unlisted_labels(tmp_path: Path) -> None:
    base = np.zeros((4, 6, 6), np.uint8)
    base[:, :3] = 1
    overlay = np.zeros_like(base)
    overlay[1:3, 1:3, 1:3] = 1
    overlay[:, 5, 5] = 2
    module = _combine(tmp_path, table={1: "LUNG", 2: "FDG_AVID_LUNG_TUMOR"})
    assert module.declare_outputs()["segmentation"].meta["roi"] == "LUNG,FDG_AVID_LUNG_TUMOR"
    result, out = _run(module, tmp_path, {
        "base": _item(tmp_path, "base", base, {1: "LUNG"}),
        "overlay": _item(tmp_path, "overlay", overlay, {1: "FDG_AVID_LUNG_TUMOR", 2: "LIVER"}),
    })
    expected = np.where(overlay == 1, 2, base)
    assert np.array_equal(result, expected)
    assert out.labels == {1: "LUNG", 2: "FDG_AVID_LUNG_TUMOR"}


@pytest.mark.parametrize("table, message", [({1: "LUNG", 2: "KIDNEY"}, "neither"), ({1: "LUNG"}, "both")])
def test_combine_refuses_missing_or_doubled_segments(tmp_path: Path, table, message) -> None:
    array = np.ones((2, 2, 2), np.uint8)
    inputs = {"base": _item(tmp_path, "base", array, {1: "LUNG"}),
              "overlay": _item(tmp_path, "overlay", array, {1: "LUNG"})}
    if message == "neither":
        inputs["overlay"] = _item(tmp_path, "overlay", array, {1: "LIVER"})
    with pytest.raises(StepError, match=message):
        _run(_combine(tmp_path, table=table), tmp_path, inputs)


def test_combine_refuses_other_grids(tmp_path: Path) -> None:
    array = np.ones((2, 2, 2), np.uint8)
    inputs = {"base": _item(tmp_path, "base", array, {1: "LUNG"}),
              "overlay": _item(tmp_path, "overlay", array, {1: "LIVER"}, spacing=(3.0, 3.0, 3.0))}
    with pytest.raises(StepError, match="not on the grid"):
        _run(_combine(tmp_path, table={1: "LUNG", 2: "LIVER"}), tmp_path, inputs)


def test_combine_parameters_are_validated() -> None:
    with pytest.raises(ValueError, match="more than once"):
        CombineLabelMaps.Params(table={1: "LUNG", 2: "LUNG"})
    with pytest.raises(ValueError, match="unknown segment id"):
        CombineLabelMaps.Params(table={1: "LUNGS"})


def _breast_module():
    """The glue module as the workflow loads it (model folder discovery)."""
    return ModuleRegistry.discover(REPO / "models" / "bamf_pet_ct_breast_tumor").get("BreastTumorRegionFilter")


def test_breast_filter_removes_tumor_in_closed_organs_abdominal_box_and_first_slices(tmp_path: Path) -> None:
    shape = (20, 30, 30)
    organs = np.zeros(shape, np.uint8)
    organs[8:12, 4:8, 4:8] = 5  # liver (not abdominal for the box)
    organs[8:12, 4:8, 10:14] = 5  # a second part: the gap 8..10 in x is closed
    organs[14:17, 12:15, 20:24] = 1  # spleen: box spans slices 14-16 from row 12 backwards
    tumor = np.zeros(shape, np.uint8)
    tumor[9:11, 5:7, 8:10] = 1  # in the closed gap between organ parts -> removed
    tumor[15, 20:23, 2:5] = 1  # inside the abdominal box (posterior, other columns) -> removed
    tumor[15, 2:5, 2:5] = 1  # same slices but anterior to the box -> kept
    tumor[1, 20:23, 20:23] = 1  # first slices -> removed
    tumor[5, 20:23, 20:23] = 1  # free -> kept
    filter_cls = _breast_module()
    module = filter_cls("outside_organs", filter_cls.Params(labels=["FDG_AVID_BREAST_TUMOR"], closing_radius=2),
                        _context(tmp_path))
    result, _ = _run(module, tmp_path, {
        "segmentation": _item(tmp_path, "tumor", tumor, {1: "FDG_AVID_BREAST_TUMOR"}),
        "region": _item(tmp_path, "ts", organs, TS_TABLE),
    })
    expected = np.zeros(shape, np.uint8)
    expected[15, 2:5, 2:5] = 1
    expected[5, 20:23, 20:23] = 1
    assert np.array_equal(result, expected)


def test_breast_filter_without_abdominal_organs_skips_the_box(tmp_path: Path) -> None:
    shape = (10, 12, 12)
    tumor = np.zeros(shape, np.uint8)
    tumor[5:8, 5:8, 5:8] = 1
    filter_cls = _breast_module()
    module = filter_cls("f", filter_cls.Params(labels=["FDG_AVID_BREAST_TUMOR"]), _context(tmp_path))
    result, _ = _run(module, tmp_path, {
        "segmentation": _item(tmp_path, "tumor", tumor, {1: "FDG_AVID_BREAST_TUMOR"}),
        "region": _item(tmp_path, "ts", np.zeros(shape), TS_TABLE),
    })
    assert np.array_equal(result, tumor)


def _multichannel(tmp_path: Path, modalities: tuple[str, ...]):
    from mhubio.modules.runners.nnunet_v1_multichannel import NnunetV1MultiChannelRunner
    from tests.support.nnunet import write_nnunet_v1_model

    write_nnunet_v1_model(tmp_path / "results", 1, task="Task901_Tiny", modalities=modalities)
    params = NnunetV1MultiChannelRunner.Params(results_folder=str(tmp_path / "results"), task="Task901_Tiny",
                                               label_map={1: "FDG_AVID_TUMOR"})
    return NnunetV1MultiChannelRunner("nnunet", params, _context(tmp_path))


@pytest.mark.torch
def test_multichannel_runner_needs_a_two_channel_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="takes 1 channel"):
        _multichannel(tmp_path, ("CT",)).preflight()


@pytest.mark.torch
def test_multichannel_runner_refuses_channels_on_different_grids(tmp_path: Path) -> None:
    runner = _multichannel(tmp_path, ("CT", "PT"))
    runner.preflight()
    ct = _item(tmp_path, "ct", np.zeros((4, 8, 8)), {1: "LUNG"})
    pt = _item(tmp_path, "pt", np.zeros((4, 8, 8)), {1: "LUNG"}, spacing=(4.0, 4.0, 4.0))
    with pytest.raises(StepError, match="not on the grid"):
        runner.input_files({"image": ct, "channel_1": pt})
    assert runner.input_files({"image": ct, "channel_1": ct}) == [str(ct.path), str(ct.path)]
