"""Images handed between steps in memory: written to their file only for a step that reads files, or for every
step with ``--keep-work``; never changed by a step that changes what it read."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import SimpleITK as sitk

from mhubio.core.config import Step
from mhubio.core.data import DataItem, Instance
from mhubio.core.filetypes import FileType
from mhubio.core.module import Input, ModelInfo, Module, Output, RunContext
from mhubio.core.query import Query
from mhubio.core.steps import run_step


def _image(value: int = 1) -> sitk.Image:
    image = sitk.GetImageFromArray(np.full((3, 4, 5), value, np.int16))
    image.SetSpacing((0.5, 0.5, 2.0))
    return image


def _item(tmp_path: Path, name: str = "ct") -> DataItem:
    return DataItem(FileType.NIFTI, tmp_path / f"{name}.nii", {"mod": "ct"}, producer="converter")


class Doubler(Module):
    """Reads ``ct`` in memory, changes the image it read, hands over twice its values."""

    inputs = {"ct": Input("nifti:mod=ct", needs_file=False)}
    outputs = {"doubled": Output(FileType.NIFTI, {"mod": "ct", "doubled": "yes"})}

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        image = inputs["ct"].read_image()
        image.SetOrigin((7.0, 7.0, 7.0))
        image[0, 0, 0] = 100
        outputs["doubled"].write_image(sitk.Cast(image, sitk.sitkInt16) * 2)


class FileReader(Module):
    """Reads ``ct`` from its file, as an external tool would."""

    inputs = {"ct": Input("nifti:mod=ct")}
    outputs = {"copy": Output(FileType.NIFTI, {"mod": "copy"})}
    seen: list[bool] = []

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        FileReader.seen.append(inputs["ct"].path.is_file())
        outputs["copy"].write_image(sitk.ReadImage(str(inputs["ct"].path)))


def _step(module_cls: type[Module], tmp_path: Path, keep_work: bool = False) -> Step:
    context = RunContext(tmp_path, tmp_path, tmp_path, ModelInfo("test", "1"), keep_work=keep_work)
    module = module_cls(module_cls.__name__, module_cls.Params(), context)
    return Step(module_cls.__name__, module, {"ct": Query.parse("nifti:mod=ct")}, dict(module_cls.outputs))


def test_an_image_handed_over_is_not_written_and_reads_back_equal(tmp_path):
    item = _item(tmp_path)
    item.write_image(_image(3))
    assert not item.path.exists()
    assert sitk.GetArrayFromImage(item.read_image()).tolist() == sitk.GetArrayFromImage(_image(3)).tolist()
    assert item.materialize() == item.path and item.path.is_file() and item.image is not None
    written = sitk.ReadImage(str(item.path))
    assert sitk.GetArrayFromImage(written).tolist() == sitk.GetArrayFromImage(_image(3)).tolist()
    assert written.GetSpacing() == (0.5, 0.5, 2.0)
    assert [p.name for p in tmp_path.iterdir()] == ["ct.nii"]  # no temporary left


def test_only_nifti_items_hold_images(tmp_path):
    with pytest.raises(TypeError, match="only NIfTI"):
        DataItem(FileType.JSON, tmp_path / "x.json").write_image(_image())


def test_a_step_that_changes_what_it_read_does_not_change_the_handed_over_image(tmp_path):
    instance = Instance("1.2.3", {}, tmp_path / "work")
    source = instance.add(_item(tmp_path))
    source.write_image(_image(1))
    (doubled,) = run_step(_step(Doubler, tmp_path), instance)
    assert not source.path.exists() and not doubled.path.exists()
    kept = source.read_image()
    assert kept.GetOrigin() == (0.0, 0.0, 0.0) and sitk.GetArrayFromImage(kept).max() == 1
    assert sitk.GetArrayFromImage(doubled.read_image())[0, 0, 0] == 200


def test_a_step_that_reads_files_gets_the_file_written_first(tmp_path):
    FileReader.seen.clear()
    instance = Instance("1.2.3", {}, tmp_path / "work")
    source = instance.add(_item(tmp_path))
    source.write_image(_image(5))
    (copy,) = run_step(_step(FileReader, tmp_path), instance)
    assert FileReader.seen == [True]
    assert sitk.GetArrayFromImage(copy.read_image()).max() == 5


def test_keep_work_writes_every_output_and_later_steps_read_the_file(tmp_path):
    instance = Instance("1.2.3", {}, tmp_path / "work")
    source = instance.add(_item(tmp_path))
    source.write_image(_image(2))
    (doubled,) = run_step(_step(Doubler, tmp_path, keep_work=True), instance)
    assert doubled.path.is_file() and doubled.image is None
    assert sitk.GetArrayFromImage(doubled.read_image())[1, 1, 1] == 4


def test_finished_series_forget_their_images(tmp_path):
    instance = Instance("1.2.3", {}, tmp_path / "work")
    item = instance.add(_item(tmp_path))
    item.write_image(_image())
    instance.release_memory()
    assert item.image is None
