"""PetCtPairImporter: PET/CT pairing by study and frame of reference or acquisition time, skip reasons, exit codes."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pydicom
import pytest

from mhubio.core.errors import InputLimitError
from mhubio.core.exitcodes import ExitCode
from mhubio.core.filetypes import FileType
from mhubio.core.logs import ProgressPrinter
from mhubio.core.module import ModelInfo, RunContext
from mhubio.core.runner import RunOptions, run_workflow
from mhubio.modules.importers.petct_pair import PetCtPairImporter, acquisition_seconds
from mhubio.synthetic import write_ct_series, write_mr_series, write_pet_ct_pair

SMALL = {"ct_shape": (12, 32, 32), "ct_spacing": (6.0, 6.0, 6.0), "pet_shape": (10, 24, 24),
         "pet_spacing": (8.0, 8.0, 8.0)}


def _importer(tmp_path: Path, **params) -> PetCtPairImporter:
    context = RunContext(tmp_path / "in", tmp_path / "out", tmp_path / "work", ModelInfo("test", "1.0"))
    return PetCtPairImporter("PetCtPairImporter", PetCtPairImporter.Params(**params), context)


def _second_ct(root: Path, ct, frame_of_reference_uid: str | None = None):
    return write_ct_series(root / "CT2", shape=(12, 32, 32), spacing=(6.0, 6.0, 6.0), seed=7, study_uid=ct.study_uid,
                           frame_of_reference_uid=frame_of_reference_uid or ct.frame_of_reference_uid,
                           series_number=5)


@pytest.fixture()
def pair(tmp_path: Path):
    root = tmp_path / "in"
    return root, *write_pet_ct_pair(root, **SMALL)


def test_pairs_pet_with_ct_of_same_frame_of_reference(tmp_path: Path, pair) -> None:
    root, ct, pet = pair
    result = _importer(tmp_path).import_instances(root)
    assert [i.id for i in result.instances] == [pet.series_uid]
    instance = result.instances[0]
    pt_items, ct_items = instance.find("dicom:mod=pt"), instance.find("dicom:mod=ct")
    assert len(pt_items) == len(ct_items) == 1
    assert pt_items[0].type is FileType.DICOM
    assert set(pt_items[0].files) == set(pet.files) and set(ct_items[0].files) == set(ct.files)
    assert instance.attributes["Modality"] == "PT"
    assert instance.attributes["SeriesInstanceUID"] == pet.series_uid
    assert instance.attributes["CTSeriesInstanceUID"] == ct.series_uid
    assert result.skipped == []


def test_two_cts_for_one_pet_is_ambiguous(tmp_path: Path, pair) -> None:
    root, ct, pet = pair
    other = _second_ct(root, ct)
    result = _importer(tmp_path).import_instances(root)
    assert result.instances == []
    reasons = {s.series_uid: s for s in result.skipped}
    assert reasons[pet.series_uid].check == "pairing"
    assert "ambiguous" in reasons[pet.series_uid].reason
    assert ct.series_uid in reasons[pet.series_uid].reason and other.series_uid in reasons[pet.series_uid].reason
    assert {ct.series_uid, other.series_uid} <= set(reasons)


def test_frame_of_reference_wins_over_time(tmp_path: Path, pair) -> None:
    root, ct, pet = pair
    other = _second_ct(root, ct, frame_of_reference_uid="1.2.826.0.1.3680043.8.498.1")
    result = _importer(tmp_path).import_instances(root)
    assert [i.id for i in result.instances] == [pet.series_uid]
    assert result.instances[0].attributes["CTSeriesInstanceUID"] == ct.series_uid
    assert [(s.series_uid, s.check) for s in result.skipped] == [(other.series_uid, "pairing")]


def test_pairs_by_acquisition_time_when_frames_differ(tmp_path: Path) -> None:
    root = tmp_path / "in"
    ct, pet = write_pet_ct_pair(root, **SMALL)
    for path in ct.files:
        ds = pydicom.dcmread(path)
        ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.2"
        ds.save_as(path)
    assert acquisition_seconds("120500") - acquisition_seconds("120000") == 300
    result = _importer(tmp_path).import_instances(root)
    assert [i.id for i in result.instances] == [pet.series_uid]
    too_far = _importer(tmp_path, max_time_difference_s=60).import_instances(root)
    assert too_far.instances == []
    reason = next(s.reason for s in too_far.skipped if s.series_uid == pet.series_uid)
    assert "within 60 s" in reason


def test_pet_without_ct_and_other_modalities_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "in"
    ct, pet = write_pet_ct_pair(root, **SMALL)
    for path in ct.files:
        path.unlink()
    mr = write_mr_series(root / "MR", shape=(12, 32, 32), spacing=(6.0, 6.0, 6.0))
    result = _importer(tmp_path).import_instances(root)
    assert result.instances == []
    checks = {s.series_uid: s.check for s in result.skipped}
    assert checks == {pet.series_uid: "pairing", mr.series_uid: "modality"}


def test_non_attenuation_corrected_pet_is_skipped(tmp_path: Path, pair) -> None:
    root, ct, pet = pair
    for path in pet.files:
        ds = pydicom.dcmread(path)
        ds.CorrectedImage = ["DECY"]
        ds.save_as(path)
    result = _importer(tmp_path).import_instances(root)
    checks = {s.series_uid: s.check for s in result.skipped}
    assert checks[pet.series_uid] == "attenuation_correction"
    assert result.instances == []
    allowed = _importer(tmp_path, require_attenuation_correction=False).import_instances(root)
    assert [i.id for i in allowed.instances] == [pet.series_uid]


def test_qc_failure_of_ct_leaves_pet_unpaired(tmp_path: Path, pair) -> None:
    root, ct, pet = pair
    result = _importer(tmp_path, qc={"min_slices": 11}).import_instances(root)
    checks = {s.series_uid: s.check for s in result.skipped}
    assert checks == {pet.series_uid: "min_slices", ct.series_uid: "pairing"}


@pytest.mark.parametrize("text, seconds", [("120000", 43200.0), ("0930", 34200.0), ("12", 43200.0),
                                           ("101010.5", 36610.5), ("", None), ("25", None), ("12:00", None)])
def test_acquisition_seconds(text: str, seconds: float | None) -> None:
    assert acquisition_seconds(text) == seconds


WORKFLOW = textwrap.dedent(
    """
    general: {model: pairing_test, version: "1.0"}
    execute:
      - PetCtPairImporter
      - DataOrganizer
    """
)


def test_ambiguous_pair_ends_run_with_no_input(tmp_path: Path, pair) -> None:
    root, ct, pet = pair
    _second_ct(root, ct)
    config = tmp_path / "workflow.yml"
    config.write_text(WORKFLOW)
    report = run_workflow(config, RunOptions(root, tmp_path / "out"))
    assert report.exit_code is ExitCode.NO_INPUT
    assert "none of the series" in (report.error or "")
    assert any("ambiguous" in s.reason for s in report.imported.skipped)


def test_scan_limits_and_progress_apply_to_the_pair_importer(tmp_path: Path, pair) -> None:
    root, ct, pet = pair
    calls: list[tuple[int, int]] = []
    importer = _importer(tmp_path)
    importer.files_read = lambda parsed, total: calls.append((parsed, total))
    result = importer.import_instances(root)
    files = len(ct.files) + len(pet.files)
    assert [i.id for i in result.instances] == [pet.series_uid]
    assert calls[0] == (0, files) and calls[-1] == (files, files)
    with pytest.raises(InputLimitError, match="more than 5 files"):
        _importer(tmp_path, scan_limits={"max_files": 5}).import_instances(root)


def test_run_prints_the_scan_progress(tmp_path: Path, pair) -> None:
    root, ct, pet = pair
    config = tmp_path / "workflow.yml"
    config.write_text(WORKFLOW)
    stream = io.StringIO()
    report = run_workflow(config, RunOptions(root, tmp_path / "out"),
                          ProgressPrinter(stream, live=False, phase_every_seconds=0))
    assert [i.id for i in report.imported.instances] == [pet.series_uid]
    files = len(ct.files) + len(pet.files)
    assert f"scanning the input: {files}/{files} files read" in stream.getvalue()
