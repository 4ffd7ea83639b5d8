"""A step that declares an output and produces none fails the series: a run never ends done with no outputs.

Runs go through :func:`mhubio.core.runner.run_workflow` (what ``mhub run`` calls) with the fake modules, whose
behaviour each line of ``series.txt`` sets, and through ``mhub run`` of the thresholder.
"""

from __future__ import annotations

import json
from pathlib import Path

from mhubio.core.exitcodes import ExitCode
from mhubio.core.logs import ProgressPrinter
from mhubio.core.runner import RunOptions, run_workflow
from tests.fake_modules import fake_registry, write_workflow

OPTIONAL_WORKFLOW = """
general: {model: fake, version: "1.0"}
execute:
  - ListImporter
  - MaybeExtra
  - module: DataOrganizer
    params: {targets: {"json:mod=extra": "{SeriesInstanceUID}/extra.json"}}
"""

NO_ORGANIZER_WORKFLOW = """
general: {model: fake, version: "1.0"}
execute: [ListImporter, Work, Finish]
"""


def run_fake(tmp_path: Path, lines: list[str], workflow: str | None = None) -> tuple[ExitCode, dict]:
    config = write_workflow(tmp_path / "workflow", *([workflow] if workflow else []))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "series.txt").write_text("\n".join(lines))
    options = RunOptions(tmp_path / "in", tmp_path / "out", work_dir=tmp_path / "work")
    report = run_workflow(config, options, ProgressPrinter(quiet=True), fake_registry())
    return report.exit_code, json.loads((tmp_path / "out" / "mhub_report.json").read_text())


def by_uid(report: dict) -> dict[str, dict]:
    return {s["series_uid"]: s for s in report["series"]}


def test_an_empty_output_file_fails_its_series(tmp_path: Path):
    code, report = run_fake(tmp_path, ["1.1 ok", "1.2 empty"])
    assert code == ExitCode.PARTIAL_FAILURE
    series = by_uid(report)
    assert series["1.1"]["status"] == "done" and series["1.1"]["outputs"]
    assert series["1.2"]["status"] == "failed" and series["1.2"]["failed_step"] == "Work"
    assert "wrote its declared output 'result' (Work.result.json) empty" in series["1.2"]["error"]
    assert not (tmp_path / "out" / "1.2").exists()


def test_an_optional_output_left_out_needs_a_reason(tmp_path: Path):
    code, report = run_fake(tmp_path, ["1.1 ok", "1.2 explain", "1.3 silent", "1.4 qcwarn"], OPTIONAL_WORKFLOW)
    assert code == ExitCode.PARTIAL_FAILURE
    series = by_uid(report)
    assert [o["path"] for o in series["1.1"]["outputs"]] == ["1.1/extra.json"]
    # explained: done without outputs, the reason in the warnings and the notes
    explained = series["1.2"]
    assert explained["status"] == "done" and explained["outputs"] == []
    assert explained["notes"]["unwritten_outputs"] == [
        {"step": "MaybeExtra", "output": "extra", "warnings": ["nothing to add: every segment is empty"]}]
    assert explained["warnings"][-1] == ("no output item matched the DataOrganizer targets: MaybeExtra wrote no "
                                         "extra: nothing to add: every segment is empty")
    # silent, or with only a warning from another step (QC): the series fails in the organizer
    for uid in ("1.3", "1.4"):
        assert series[uid]["status"] == "failed" and series[uid]["failed_step"] == "DataOrganizer"
        assert "no step said why it wrote nothing" in series[uid]["error"]
    assert series["1.4"]["warnings"] == ["slice spacing varies"]
    assert series["1.4"]["notes"]["unwritten_outputs"] == [{"step": "MaybeExtra", "output": "extra", "warnings": []}]


def test_a_chain_without_an_organizer_fails_instead_of_ending_done(tmp_path: Path):
    code, report = run_fake(tmp_path, ["1.1 ok", "1.2 ok"], NO_ORGANIZER_WORKFLOW)
    assert code == ExitCode.ALL_FAILED
    for series in report["series"]:
        assert series["status"] == "failed" and series["failed_step"] == "Finish"
        assert "ended without writing any output" in series["error"]
    assert [p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith("mhub_")] == []
