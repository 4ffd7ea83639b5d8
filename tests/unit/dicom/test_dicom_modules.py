"""DicomImporter and NiftiConverter modules."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from pydantic import ValidationError
from pydicom import dcmread

from mhubio.core import module as module_api
from mhubio.core.data import DataItem
from mhubio.core.errors import StepError
from mhubio.core.filetypes import FileType
from mhubio.core.module import ModelInfo, RunContext
from mhubio.dicom.scan import scan_folder as real_scan_folder
from mhubio.modules.converters.nifti_converter import NiftiConverter
from mhubio.modules.importers import dicom_importer
from mhubio.modules.importers.dicom_importer import DicomImporter
from mhubio.synthetic import SliceOrder, write_ct_series

SHAPE = (12, 32, 32)


def context(tmp_path: Path) -> RunContext:
    return RunContext(tmp_path / "in", tmp_path / "out", tmp_path / "work", ModelInfo("test", "1"))


def importer(tmp_path: Path, **params) -> DicomImporter:
    return DicomImporter("DicomImporter", DicomImporter.Params.model_validate(params), context(tmp_path))


def test_params_validation():
    params = DicomImporter.Params.model_validate({"modalities": ["CT"], "qc": {"min_slices": 101}})
    assert params.qc.min_slices == 101
    with pytest.raises(ValidationError, match="DicomImporter.modalities"):
        DicomImporter.Params.model_validate({"qc": {"modalities": ["CT"]}})
    with pytest.raises(ValidationError, match="at least one"):
        DicomImporter.Params(modalities=[])
    with pytest.raises(ValidationError, match="extra"):
        DicomImporter.Params.model_validate({"qc": {"tilt": False}})


def test_declared_outputs_follow_modalities(tmp_path: Path):
    outputs = importer(tmp_path, modalities=["CT", "MR"]).declare_outputs()
    assert {name: (o.type, dict(o.meta)) for name, o in outputs.items()} == {
        "ct": (FileType.DICOM, {"mod": "ct"}), "mr": (FileType.DICOM, {"mod": "mr"}),
    }
    assert dict(importer(tmp_path).declare_outputs()["dicom"].meta) == {"mod": "*"}


@pytest.fixture
def mixed_input(tmp_path: Path):
    root = tmp_path / "in"
    good = write_ct_series(root / "good", shape=SHAPE, seed=1, series_number=3, slice_order=SliceOrder.DESCENDING)
    scout = write_ct_series(root / "scout", shape=(13, 32, 32), seed=2, series_number=2, study_uid=good.study_uid)
    ds = dcmread(scout.files[0])
    ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
    ds.save_as(scout.files[0])
    gap = write_ct_series(root / "gap", shape=SHAPE, seed=3, series_number=4, study_uid=good.study_uid)
    gap.files[5].unlink()
    (root / "notes.txt").write_text("x")
    (root / "empty").write_bytes(b"")
    return root, good, scout, gap


def test_import_instances(tmp_path: Path, mixed_input):
    root, good, scout, gap = mixed_input
    result = importer(tmp_path, modalities=["CT"]).import_instances(root)
    assert [i.id for i in result.instances] == [scout.series_uid, good.series_uid]
    [skipped] = result.skipped
    assert (skipped.series_uid, skipped.check, skipped.series_number, skipped.modality) == (
        gap.series_uid, "regular_spacing", "4", "CT")
    assert gap.series_uid in skipped.reason
    assert result.files_scanned == 12 + 13 + 11 + 2
    assert result.non_dicom == [root / "notes.txt"]
    assert [(p.name, r) for p, r in result.unreadable] == [("empty", "empty file (0 bytes)")]

    by_id = {i.id: i for i in result.instances}
    [item] = by_id[good.series_uid].items
    assert item.type is FileType.DICOM and item.meta == {"mod": "ct"}
    assert item.files == tuple(reversed(good.files))  # descending instance numbers, sorted by position
    assert item.path == root / "good"
    assert by_id[good.series_uid].attributes["SeriesNumber"] == "3"
    assert by_id[good.series_uid].workdir == tmp_path / "work" / good.series_uid
    [scout_item] = by_id[scout.series_uid].items
    assert scout.files[0] not in scout_item.files and len(scout_item.files) == 12
    assert any("localizer" in w for w in by_id[scout.series_uid].warnings)


def test_modality_filter_skips_other_modalities(tmp_path: Path, mixed_input):
    root, *_ = mixed_input
    result = importer(tmp_path, modalities=["MR"]).import_instances(root)
    assert result.instances == []
    assert {s.check for s in result.skipped} == {"modality"}


def test_qc_settings_apply(tmp_path: Path, mixed_input):
    root, good, scout, gap = mixed_input
    result = importer(tmp_path, qc={"regular_spacing": False, "localizer_policy": "reject_series"}
                      ).import_instances(root)
    assert [i.id for i in result.instances] == [good.series_uid, gap.series_uid]
    assert [(s.series_uid, s.check) for s in result.skipped] == [(scout.series_uid, "no_localizer")]


def converter(tmp_path: Path) -> NiftiConverter:
    return NiftiConverter("NiftiConverter", NiftiConverter.Params(), context(tmp_path))


def convert(tmp_path: Path, root: Path):
    [instance] = importer(tmp_path).import_instances(root).instances
    output = DataItem(FileType.NIFTI, tmp_path / "ct.nii.gz", {"mod": "ct"})
    converter(tmp_path).process(instance, {"dicom": instance.items[0]}, {"nifti": output})
    return instance, output


def test_converter_writes_the_volume(tmp_path: Path):
    written = write_ct_series(tmp_path / "in", shape=SHAPE, seed=4)
    _, output = convert(tmp_path, tmp_path / "in")
    image = output.read_image()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), written.phantom.image)
    np.testing.assert_allclose(image.GetOrigin(), written.origin, atol=1e-4)
    np.testing.assert_allclose(image.GetSpacing(), written.spacing, atol=1e-4)


def test_converter_fails_on_changed_input(tmp_path: Path):
    written = write_ct_series(tmp_path / "in", shape=SHAPE, seed=5)
    [instance] = importer(tmp_path).import_instances(tmp_path / "in").instances
    written.files[3].write_bytes(b"")
    output = DataItem(FileType.NIFTI, tmp_path / "ct.nii.gz", {"mod": "ct"})
    with pytest.raises(StepError, match="changed since it was imported"):
        converter(tmp_path).process(instance, {"dicom": instance.items[0]}, {"nifti": output})
    assert not output.path.exists()


def test_converter_fails_on_undecodable_pixels(tmp_path: Path):
    written = write_ct_series(tmp_path / "in", shape=SHAPE, seed=6, transfer_syntax="1.2.840.10008.1.2.5")
    ds = dcmread(written.files[2])
    ds.PixelData = ds.PixelData[:40] + bytes(24)
    ds.save_as(written.files[2])
    with pytest.raises(StepError, match="cannot decode"):
        convert(tmp_path, tmp_path / "in")
    assert list(tmp_path.glob("*.nii.gz")) == []


@pytest.mark.parametrize(("cores", "expected"), [(1, [3, 1]), (2, [3, 2]), (4, [4, 4])])
def test_importer_scans_on_the_run_workers_or_the_usable_cores(tmp_path: Path, monkeypatch, cores, expected):
    write_ct_series(tmp_path / "in", shape=SHAPE, seed=5)
    seen = []

    def scan_folder(root, limits, processes=1, progress=None):
        seen.append(processes)
        return real_scan_folder(root, limits, processes, progress)

    monkeypatch.setattr(dicom_importer, "scan_folder", scan_folder)
    monkeypatch.setattr(module_api, "usable_cores", lambda: cores)
    module = DicomImporter("DicomImporter", DicomImporter.Params(), replace(context(tmp_path), workers=3))
    assert len(module.import_instances(tmp_path / "in").instances) == 1
    assert len(importer(tmp_path).import_instances(tmp_path / "in").instances) == 1
    assert seen == expected
