"""Translation registration (Mattes MI, fixed seed), resampling onto a reference grid, ResampleToReference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from mhubio.core.data import DataItem, Instance
from mhubio.core.errors import StepError
from mhubio.core.filetypes import FileType
from mhubio.core.module import ModelInfo, RunContext
from mhubio.modules.converters.resample_to_reference import ResampleToReference
from mhubio.registration import (
    Interpolation,
    TranslationSettings,
    register_translation,
    resample_image,
    resample_labels,
)

SPACING = 4.0
BLOBS = (((20, 32, 32), 8.0, 100.0), ((12, 20, 40), 4.0, 300.0), ((28, 44, 22), 5.0, 200.0), ((18, 40, 44), 3.0, 400.0))


def _blobs(shape=(40, 64, 64)) -> np.ndarray:
    z, y, x = np.mgrid[: shape[0], : shape[1], : shape[2]].astype(np.float32)
    image = np.zeros(shape, np.float32)
    for (cz, cy, cx), sigma, value in BLOBS:
        image += value * np.exp(-((z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2) / (2 * sigma**2))
    return image


def _pet_and_shifted_ct(shift_mm: tuple[float, float, float]) -> tuple[sitk.Image, sitk.Image]:
    """A 'PET' and a 'CT' of other contrast whose content sits ``shift_mm`` further along x, y, z."""
    pet = sitk.GetImageFromArray(_blobs())
    pet.SetSpacing((SPACING,) * 3)
    ct = sitk.GetImageFromArray((1000.0 - 3.0 * _blobs()).astype(np.int16))
    ct.SetSpacing((SPACING,) * 3)
    ct.SetOrigin(shift_mm)
    return pet, ct


def test_known_translation_is_recovered_within_a_voxel() -> None:
    shift = (5.0, -7.0, 3.0)
    pet, ct = _pet_and_shifted_ct(shift)
    result = register_translation(pet, ct)
    assert np.allclose(result.translation_mm, shift, atol=SPACING / 2)
    assert result.iterations <= TranslationSettings().iterations
    aligned = sitk.GetArrayFromImage(resample_image(ct, pet, result.transform))
    unaligned = sitk.GetArrayFromImage(resample_image(ct, pet))
    expected = 1000.0 - 3.0 * _blobs()
    inner = (slice(4, -4),) * 3
    assert np.abs(aligned - expected)[inner].mean() < 0.25 * np.abs(unaligned - expected)[inner].mean()


def test_same_seed_gives_identical_results_and_seed_matters() -> None:
    pet, ct = _pet_and_shifted_ct((5.0, -7.0, 3.0))
    first = register_translation(pet, ct, TranslationSettings(seed=3))
    second = register_translation(pet, ct, TranslationSettings(seed=3))
    other = register_translation(pet, ct, TranslationSettings(seed=4))
    assert first.translation_mm == second.translation_mm
    assert first.metric_value == second.metric_value
    assert other.translation_mm != first.translation_mm


def test_global_thread_setting_is_restored() -> None:
    before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    pet, ct = _pet_and_shifted_ct((1.0, 0.0, 0.0))
    register_translation(pet, ct, TranslationSettings(iterations=2))
    assert sitk.ProcessObject.GetGlobalDefaultNumberOfThreads() == before


@pytest.mark.parametrize("kwargs", [{"histogram_bins": 1}, {"sampling_percentage": 0.0}, {"seed": -1},
                                    {"minimum_step": 2.0}, {"iterations": 0}])
def test_invalid_settings(kwargs) -> None:
    with pytest.raises(ValueError):
        TranslationSettings(**kwargs)


def test_resample_image_outside_value_is_image_minimum() -> None:
    ct = sitk.GetImageFromArray(np.full((4, 4, 4), 10, np.int16))
    ct[0, 0, 0] = -1024
    reference = sitk.Image([8, 8, 8], sitk.sitkFloat32)
    reference.SetOrigin((-4.0, -4.0, -4.0))
    out = sitk.GetArrayFromImage(resample_image(ct, reference))
    assert out.dtype == np.int16
    assert out[0, 0, 0] == -1024 and out[5, 5, 5] == 10


def test_labels_use_nearest_neighbour_only() -> None:
    labels = sitk.GetImageFromArray(np.repeat(np.arange(4, dtype=np.uint8), 4).reshape(1, 4, 4).repeat(4, 0))
    reference = sitk.Image([8, 8, 8], sitk.sitkUInt8)
    reference.SetSpacing((0.5, 0.5, 0.5))
    out = sitk.GetArrayFromImage(resample_labels(labels, reference))
    assert set(np.unique(out)) <= {0, 1, 2, 3}
    with pytest.raises(ValueError, match="integer"):
        resample_labels(sitk.Cast(labels, sitk.sitkFloat32), reference)


def _module(tmp_path: Path, **params) -> ResampleToReference:
    context = RunContext(tmp_path, tmp_path, tmp_path, ModelInfo("test", "1.0"))
    return ResampleToReference("resample", ResampleToReference.Params(**params), context)


def _items(tmp_path: Path, pet: sitk.Image, moving: sitk.Image, labels: dict[int, str] | None = None):
    sitk.WriteImage(pet, str(tmp_path / "pt.nii.gz"))
    sitk.WriteImage(moving, str(tmp_path / "ct.nii.gz"))
    instance = Instance("1.2.3", {}, tmp_path)
    reference = DataItem(FileType.NIFTI, tmp_path / "pt.nii.gz", {"mod": "pt"})
    moving_item = DataItem(FileType.NIFTI, tmp_path / "ct.nii.gz", {"mod": "ct" if labels is None else "seg"},
                           labels=labels)
    out = DataItem(FileType.NIFTI, tmp_path / "out.nii.gz", {"mod": moving_item.meta["mod"]}, labels=labels)
    return instance, {"moving": moving_item, "reference": reference}, {"resampled": out}


def test_module_registers_and_writes_on_reference_grid(tmp_path: Path) -> None:
    pet, ct = _pet_and_shifted_ct((4.0, 0.0, 0.0))
    module = _module(tmp_path, registration=True)
    assert module.declare_outputs()["resampled"].meta == {"resampled": "true", "registered": "true"}
    instance, inputs, outputs = _items(tmp_path, pet, ct)
    module.process(instance, inputs, outputs)
    out = outputs["resampled"].read_image()
    assert out.GetSize() == pet.GetSize() and out.GetSpacing() == pet.GetSpacing()
    assert out.GetPixelID() == ct.GetPixelID()


def test_module_refuses_to_register_a_label_map(tmp_path: Path) -> None:
    pet, _ = _pet_and_shifted_ct((0.0, 0.0, 0.0))
    labels = sitk.GetImageFromArray(np.ones((4, 4, 4), np.uint8))
    instance, inputs, outputs = _items(tmp_path, pet, labels, {1: "LUNG"})
    with pytest.raises(StepError, match="label map"):
        _module(tmp_path, registration=True).process(instance, inputs, outputs)
    _module(tmp_path, interpolation=Interpolation.LINEAR).process(instance, inputs, outputs)
    out = sitk.GetArrayFromImage(outputs["resampled"].read_image())
    assert set(np.unique(out)) == {0, 1}
    assert outputs["resampled"].labels == {1: "LUNG"}
