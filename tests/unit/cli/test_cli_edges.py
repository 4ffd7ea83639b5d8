"""Clear words at the edges: files left out are counted by reason on the console, and the settings that messages
suggest can be set from the command line as they are written (nested parameters included)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydicom import dcmread

from mhubio.cli import main
from mhubio.core.config import apply_overrides, parse_config
from mhubio.core.errors import ConfigError
from mhubio.core.exitcodes import ExitCode
from mhubio.core.module import ImportResult
from mhubio.synthetic import write_ct_series

SHORT = (5, 24, 24)
"""Fewer slices than the default qc.min_slices (10)."""


def _config():
    return parse_config({
        "general": {"model": "x"},
        "execute": ["DicomImporter", {"module": "Thresholder", "id": "own", "params": {"qc": {"a": 1}}}],
        "modules": {"DicomImporter": {"qc": {"min_slices": 20, "no_tilt": False}}},
    })


def test_a_nested_parameter_is_set_keeping_its_siblings():
    config = apply_overrides(_config(), ["DicomImporter.qc.min_slices=3", "DicomImporter.qc.extra.depth=2"])
    (importer,) = [s for s in config.steps if s.module == "DicomImporter"]
    # the step's mapping replaces the module section's: it must keep the section's other values
    assert importer.params["qc"] == {"min_slices": 3, "no_tilt": False, "extra": {"depth": 2}}
    stepped = apply_overrides(_config(), ["own.qc.b=2", "Thresholder.qc.a=5"])
    (own,) = [s for s in stepped.steps if s.id == "own"]
    assert own.params["qc"] == {"a": 5, "b": 2}  # the module-wide value is not hidden by the step's own mapping


def test_a_path_through_a_plain_value_is_refused():
    with pytest.raises(ConfigError, match="min_slices is 20, not a mapping"):
        apply_overrides(_config(), ["DicomImporter.qc.min_slices.x=3"])
    with pytest.raises(ConfigError, match="dotted path"):
        apply_overrides(_config(), ["DicomImporter.qc..x=3"])


def _run(input_dir: Path, output: Path, *extra: str) -> int:
    return main(["run", "--model", "thresholder", "-i", str(input_dir), "-o", str(output), "--quiet", *extra])


def test_the_setting_a_qc_message_suggests_works_with_set(tmp_path, capsys):
    write_ct_series(tmp_path / "in", shape=SHORT, seed=4)
    assert _run(tmp_path / "in", tmp_path / "out") == ExitCode.NO_INPUT
    console = capsys.readouterr().err
    (setting,) = set(re.findall(r"\b(DicomImporter\.qc\.\w+)", console))
    assert setting == "DicomImporter.qc.min_slices"
    assert _run(tmp_path / "in", tmp_path / "out2", "--set", f"{setting}=3") == ExitCode.SUCCESS
    assert "1 done" in capsys.readouterr().err


def _blank_uids(files: list[Path]) -> None:
    for path in files:
        ds = dcmread(path)
        ds.SOPInstanceUID = ""
        ds.save_as(path)


def test_rejected_files_are_named_by_reason_when_no_series_is_left(tmp_path, capsys):
    series = write_ct_series(tmp_path / "in", shape=SHORT, seed=5)
    _blank_uids(series.files)
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    assert _run(tmp_path / "in", tmp_path / "out") == ExitCode.NO_INPUT
    console = capsys.readouterr().err
    assert f"{SHORT[0]} files rejected: missing or empty UIDs" in console
    assert "1 file not DICOM" in console
    assert series.files[0].name not in console


def test_rejected_files_are_listed_in_the_summary_of_a_run(tmp_path, capsys):
    series = write_ct_series(tmp_path / "in" / "a", shape=(12, 24, 24), seed=6)
    _blank_uids(series.files[:2])
    (tmp_path / "in" / "empty.dcm").write_bytes(b"")
    assert _run(tmp_path / "in", tmp_path / "out", "--set", "DicomImporter.qc.min_slices=3") == ExitCode.SUCCESS
    console = capsys.readouterr().err
    assert "2 files rejected: missing or empty UIDs" in console
    assert "1 file unreadable: empty file (0 bytes)" in console


def test_mixed_reasons_are_counted_most_frequent_first():
    result = ImportResult(
        [],
        rejected_files=[(Path("a"), "duplicate SOPInstanceUID: 1.2, already indexed from b"),
                        (Path("c"), "missing or empty UIDs: SOPInstanceUID"),
                        (Path("d"), "missing or empty UIDs: StudyInstanceUID")],
    )
    assert result.file_summary() == ["3 files rejected: 2 missing or empty UIDs, 1 duplicate SOPInstanceUID"]
    assert ImportResult([]).file_summary() == []


def test_every_setting_a_qc_hint_names_exists():
    import mhubio.dicom.qc as qc
    from mhubio.modules.importers.dicom_importer import DicomImporter

    named = set(re.findall(r"\bqc\.([a-z_]+)\b", Path(qc.__file__).read_text()))
    assert {"min_slices", "localizer_policy", "no_tilt"} <= named
    for name in named:
        target = qc.settings_of_step(f"qc.{name}", "DicomImporter")
        params = DicomImporter.Params()
        for part in target.split(".")[1:]:
            assert hasattr(params, part), f"qc.{name} is not a parameter of DicomImporter ({target})"
            params = getattr(params, part)
