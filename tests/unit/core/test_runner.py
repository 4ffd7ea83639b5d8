"""Chain runner: failure isolation, fail-fast, declared outputs, report and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mhubio.core.exitcodes import ExitCode
from mhubio.core.logs import ProgressPrinter
from mhubio.core.runner import RunOptions, run_workflow
from tests.fake_modules import WORKFLOW, fake_registry, write_workflow


@pytest.fixture()
def config_path(tmp_path):
    return write_workflow(tmp_path / "workflow")


def _run(config_path: Path, tmp_path: Path, lines: list[str], fail_fast: bool = False):
    input_dir, output_dir = tmp_path / "in", tmp_path / "out"
    input_dir.mkdir(exist_ok=True)
    (input_dir / "series.txt").write_text("\n".join(lines))
    options = RunOptions(input_dir, output_dir, fail_fast=fail_fast, work_dir=tmp_path / "work")
    report = run_workflow(config_path, options, ProgressPrinter(quiet=True), fake_registry())
    return report, json.loads((output_dir / "mhub_report.json").read_text()), output_dir


def test_all_ok(config_path, tmp_path):
    report, data, out = _run(config_path, tmp_path, ["1.1 ok", "1.2 ok", "1.3 skip"])
    assert report.exit_code == ExitCode.SUCCESS and data["exit_code"] == 0
    assert [s["status"] for s in data["series"]] == ["done", "done"]
    assert data["skipped_series"] == [
        {"series_uid": "1.3", "modality": "CT", "series_number": "1", "check": "MIN_SLICES", "reason": "2 slices < 10"}
    ]
    # the model is set up once for the whole batch
    assert json.loads((out / "1.2" / "result.json").read_text()) == {"loads": 1}
    output = data["series"][0]["outputs"][0]
    assert output["path"] == "1.1/result.json" and len(output["sha256"]) == 64
    assert [s["step"] for s in data["series"][0]["steps"]] == ["Work", "Finish", "DataOrganizer"]
    assert (out / "mhub_logs" / "1.1.log").read_text().count("finished 1.1") == 1


@pytest.mark.parametrize(
    "behaviour, message",
    [("crash", "RuntimeError: boom in 1.2"), ("tool", "command 'false' exited with status 1"),
     ("nooutput", "did not write its declared output 'result'")],
)
def test_one_failure_does_not_stop_the_others(config_path, tmp_path, behaviour, message):
    report, data, out = _run(config_path, tmp_path, ["1.1 ok", f"1.2 {behaviour}", "1.3 ok"])
    assert report.exit_code == ExitCode.PARTIAL_FAILURE
    failed = data["series"][1]
    assert failed["status"] == "failed" and failed["failed_step"] == "Work"
    assert message in failed["error"]
    assert [s["status"] for s in failed["steps"]] == ["failed", "skipped", "skipped"]
    assert not (out / "1.2").exists()
    assert (out / "1.3" / "result.json").is_file()
    assert "Traceback" in (out / "mhub_logs" / "1.2.log").read_text()


def test_all_failed(config_path, tmp_path):
    report, data, _ = _run(config_path, tmp_path, ["1.1 crash", "1.2 crash"])
    assert report.exit_code == ExitCode.ALL_FAILED


def test_fail_fast(config_path, tmp_path):
    report, data, out = _run(config_path, tmp_path, ["1.1 ok", "1.2 crash", "1.3 ok"], fail_fast=True)
    assert [s["status"] for s in data["series"]] == ["done", "failed", "pending"]
    assert report.exit_code == ExitCode.PARTIAL_FAILURE
    assert not (out / "1.3").exists()


def test_no_eligible_series(config_path, tmp_path):
    report, data, _ = _run(config_path, tmp_path, ["1.1 skip"])
    assert report.exit_code == ExitCode.NO_INPUT
    assert "none of the series" in data["error"]


def test_no_phi_in_logs_or_report(config_path, tmp_path):
    _, data, out = _run(config_path, tmp_path, ["1.1 crash", "1.2 ok"])
    text = json.dumps(data) + "".join(p.read_text() for p in (out / "mhub_logs").iterdir())
    assert "SECRET" not in text


def test_config_error_exit_code_and_no_report(config_path, tmp_path):
    config_path.write_text(WORKFLOW.replace("- Finish", "- Finnish"))
    input_dir = tmp_path / "in"
    input_dir.mkdir()
    options = RunOptions(input_dir, tmp_path / "out")
    report = run_workflow(config_path, options, ProgressPrinter(quiet=True), fake_registry())
    assert report.exit_code == ExitCode.CONFIG_ERROR
    assert "unknown module 'Finnish'" in report.error
    assert not (tmp_path / "out" / "mhub_report.json").exists()


def test_missing_input_folder(config_path, tmp_path):
    options = RunOptions(tmp_path / "nope", tmp_path / "out")
    report = run_workflow(config_path, options, ProgressPrinter(quiet=True), fake_registry())
    assert report.exit_code == ExitCode.CONFIG_ERROR
    assert "does not exist" in report.error


def test_ambiguous_input_is_an_error(tmp_path):
    from mhubio.core.config import Step
    from mhubio.core.data import DataItem, Instance
    from mhubio.core.errors import StepError
    from mhubio.core.filetypes import FileType
    from mhubio.core.module import Input, ModelInfo, Module, RunContext
    from mhubio.core.query import Query
    from mhubio.core.steps import run_step

    class Reader(Module):
        inputs = {"image": Input("dicom")}

        def process(self, instance, inputs, outputs):
            instance.attributes["picked"] = inputs["image"].meta["mod"]

    context = RunContext(tmp_path, tmp_path, tmp_path, ModelInfo("m", "1"))
    step = Step("Reader", Reader("Reader", Reader.Params(), context), {"image": Query.parse("dicom")}, {})
    instance = Instance("1.2", {}, tmp_path)
    instance.add(DataItem(FileType.DICOM, tmp_path, {"mod": "pt"}, producer="Importer"))
    instance.add(DataItem(FileType.DICOM, tmp_path, {"mod": "ct"}, producer="Importer"))
    with pytest.raises(StepError, match="2 items from step Importer match 'dicom'"):
        run_step(step, instance)
    step.inputs["image"] = Query.parse("dicom:mod=ct")
    run_step(step, instance)
    assert instance.attributes["picked"] == "ct"
