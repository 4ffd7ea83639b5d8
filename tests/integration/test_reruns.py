"""Reruns into a folder with earlier results: the rule of README "Reruns", through ``run_workflow`` (``mhub run``).

A rerun (with or without ``--resume``) removes, before it runs a series again, the results that an earlier run of
the same model and workflow wrote for that series (its state file and its unchanged output files), then writes
the new ones; every other file stays: other series, other models, files edited since.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from mhubio.core.exitcodes import ExitCode
from mhubio.core.logs import ProgressPrinter
from mhubio.core.runner import RunOptions, run_workflow
from tests.fake_modules import fake_registry, write_workflow


def run(tmp_path: Path, name: str, lines: list[str], resume: bool = False) -> tuple[ExitCode, dict, str]:
    """Run the fake workflow on a new input folder ``name`` into ``tmp_path/out``."""
    config = write_workflow(tmp_path / "workflow")
    input_dir = tmp_path / name
    input_dir.mkdir()
    (input_dir / "series.txt").write_text("\n".join(lines))
    console = io.StringIO()
    options = RunOptions(input_dir, tmp_path / "out", work_dir=tmp_path / f"work-{name}", resume=resume)
    report = run_workflow(config, options, ProgressPrinter(stream=console, live=False), fake_registry())
    return report.exit_code, json.loads((tmp_path / "out" / "mhub_report.json").read_text()), console.getvalue()


def states(out: Path) -> list[str]:
    return sorted(p.stem for p in (out / "mhub_state" / "fake").iterdir())


def test_a_rerun_replaces_the_results_of_the_series_it_runs_and_keeps_the_others(tmp_path: Path):
    out = tmp_path / "out"
    code, first, _ = run(tmp_path, "in1", ["1.1 ok", "1.2 ok", "1.3 ok", "1.4 ok"])
    assert code == ExitCode.SUCCESS and not any(s["replaced"] for s in first["series"])
    (out / "1.2" / "other_model.seg.dcm").write_bytes(b"another model's output")
    (out / "1.4" / "result.json").write_text('{"edited": true}')
    code, second, console = run(tmp_path, "in2", ["1.1 ok", "1.2 crash", "1.4 crash"])
    assert code == ExitCode.PARTIAL_FAILURE
    series = {s["series_uid"]: s for s in second["series"]}
    assert {uid for uid, s in series.items() if s["replaced"]} == {"1.1", "1.2", "1.4"}
    assert "3 series had results of an earlier run of this model and workflow" in console
    assert "--resume keeps those that are up to date" in console
    # 1.1 ran again: new file, listed; 1.2 now fails: its old result is gone, another model's file stays
    assert [o["path"] for o in series["1.1"]["outputs"]] == ["1.1/result.json"]
    assert sorted(p.name for p in (out / "1.2").iterdir()) == ["other_model.seg.dcm"]
    # 1.4: the file edited since the first run is not removed; 1.3 was not in this run: untouched
    assert json.loads((out / "1.4" / "result.json").read_text()) == {"edited": True}
    assert (out / "1.3" / "result.json").is_file()
    assert states(out) == ["1.1", "1.3"]


def test_a_series_that_writes_nothing_on_rerun_keeps_no_folder_of_the_earlier_run(tmp_path: Path):
    out = tmp_path / "out"
    run(tmp_path, "in1", ["1.1 ok", "1.2 ok"])
    code, report, _ = run(tmp_path, "in2", ["1.1 ok", "1.2 nooutput"])
    series = {s["series_uid"]: s for s in report["series"]}
    assert code == ExitCode.PARTIAL_FAILURE and series["1.2"]["replaced"]
    assert series["1.2"]["status"] == "failed" and not (out / "1.2").exists()
    assert states(out) == ["1.1"]
    per_model = json.loads((out / "mhub_reports" / "fake.default.json").read_text())
    assert [o["path"] for s in per_model["series"] for o in s["outputs"]] == ["1.1/result.json"]
