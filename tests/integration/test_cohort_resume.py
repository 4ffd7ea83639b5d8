"""``mhub run --resume``: interrupted runs finish only what is missing; changed inputs or models are redone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pydicom
import pytest

from mhubio.cohort.layout import STATE_DIR_NAME
from mhubio.core.config import workflow_path
from mhubio.core.logs import ProgressPrinter
from mhubio.core.runner import RunOptions, run_workflow
from mhubio.synthetic import write_ct_series
from mhubio.tables.query import query
from tests.helpers import REPO, read_report, run_mhub

pytestmark = pytest.mark.slow

SHAPE = (12, 40, 40)


@pytest.fixture
def cohort(tmp_path) -> Path:
    """Four small CT series in one input folder."""
    for index in range(4):
        write_ct_series(tmp_path / "in" / f"s{index}", shape=SHAPE, seed=index, series_number=index + 1)
    return tmp_path / "in"


def _outputs(out: Path) -> dict[str, int]:
    """SEG path -> modification time (ns) of every output of the run."""
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.glob("*/thresholder.seg.dcm")}


def _run(cohort: Path, out: Path, *extra: str):
    done = run_mhub("run", "--model", "thresholder", "--input", cohort, "--output", out, "-q", *extra)
    assert done.returncode == 0, done.stdout
    return read_report(out)


class _StopAfter(ProgressPrinter):
    """Simulates Ctrl-C after ``count`` series have finished."""

    def __init__(self, count: int) -> None:
        super().__init__(quiet=True)
        self.count = count

    def series_finished(self, instance) -> None:
        super().series_finished(instance)
        self.count -= 1
        if self.count == 0:
            raise KeyboardInterrupt


def test_interrupted_run_then_resume_processes_exactly_the_rest(cohort, tmp_path):
    out = tmp_path / "out"
    options = RunOptions(input_dir=cohort, output_dir=out)
    first = run_workflow(workflow_path("thresholder"), options, _StopAfter(2))
    assert int(first.exit_code) == 130
    done_first = {i.id for i in first.instances if i.status.value == "done"}
    assert len(done_first) == 2
    written = _outputs(out)

    report = _run(cohort, out, "--resume")
    resumed = {s["series_uid"] for s in report["series"] if s["resumed"]}
    processed = {s["series_uid"] for s in report["series"] if not s["resumed"]}
    assert resumed == done_first
    assert resumed | processed == {s["series_uid"] for s in report["series"]} and len(report["series"]) == 4
    assert not resumed & processed
    assert all(s["status"] == "done" and s["outputs"] for s in report["series"])
    after = _outputs(out)
    assert {k: v for k, v in after.items() if k in written} == written  # nothing done twice
    assert len(after) == 4
    rows = query(out, "SELECT SeriesInstanceUID, count(*) AS n FROM series GROUP BY 1").to_pylist()
    assert sorted(r["SeriesInstanceUID"] for r in rows) == sorted(resumed | processed)
    assert {r["n"] for r in rows} == {1}


def test_resume_redoes_a_changed_input_and_a_changed_model_only(cohort, tmp_path):
    out = tmp_path / "out"
    _run(cohort, out)
    before = _outputs(out)

    report = _run(cohort, out, "--resume")
    assert all(s["resumed"] for s in report["series"])
    assert _outputs(out) == before

    changed = sorted((cohort / "s1").iterdir())[3]
    dataset = pydicom.dcmread(changed)
    pixels = dataset.pixel_array
    pixels[0, 0] += 7
    dataset.PixelData = pixels.tobytes()
    dataset.save_as(changed)
    changed_uid = str(dataset.SeriesInstanceUID)
    report = _run(cohort, out, "--resume")
    assert {s["series_uid"] for s in report["series"] if not s["resumed"]} == {changed_uid}
    assert {s["series_uid"] for s in report["series"] if s["replaced"]} == {changed_uid}
    after = _outputs(out)
    assert [k for k in after if after[k] != before[k]] == [f"{changed_uid}/thresholder.seg.dcm"]

    report = _run(cohort, out, "--resume", "--set", "general.version=1.0.1")
    assert not any(s["resumed"] for s in report["series"])
    report = _run(cohort, out, "--resume", "--set", "general.version=1.0.1")
    assert all(s["resumed"] for s in report["series"])
    report = _run(cohort, out, "--resume", "--set", "general.version=1.0.1", "--set", "Thresholder.bone_hu=350")
    assert not any(s["resumed"] for s in report["series"])


def test_resume_with_workers_after_a_killed_run(cohort, tmp_path):
    """A run with --workers killed (SIGKILL) mid-way; --resume --workers finishes only the missing series."""
    out = tmp_path / "out"
    states = out / STATE_DIR_NAME / "thresholder"
    process = subprocess.Popen(
        [sys.executable, "-m", "mhubio", "run", "--model", "thresholder", "--input", str(cohort), "--output",
         str(out), "--workers", "2", "-q"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None and not _state_files(states):
        time.sleep(0.05)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = _state_files(states)
    assert finished, "the first run finished no series before it was killed"

    report = _run(cohort, out, "--resume", "--workers", "2")
    resumed = {s["series_uid"] for s in report["series"] if s["resumed"]}
    assert resumed == finished
    assert len(report["series"]) == 4 and all(s["status"] == "done" for s in report["series"])
    assert len(_outputs(out)) == 4
    assert not [p.name for p in out.rglob(".tmp-*")], "the killed run's unfinished files are still there"


def _state_files(states: Path) -> set[str]:
    """Series UIDs of the finished state files (not the hidden temporaries of a state file being written)."""
    return {p.stem for p in states.glob("*.json") if not p.name.startswith(".")}


def test_resume_on_a_dask_cluster(cohort, tmp_path):
    """The same with --scheduler: series without a state file (not finished) are run, the others restored."""
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "out"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        first = _run(cohort, out, "--scheduler", cluster.scheduler_address)
        unfinished = sorted(s["series_uid"] for s in first["series"])[:2]
        for uid in unfinished:
            (out / STATE_DIR_NAME / "thresholder" / f"{uid}.json").unlink()
        report = _run(cohort, out, "--resume", "--scheduler", cluster.scheduler_address)
    assert sorted(s["series_uid"] for s in report["series"] if not s["resumed"]) == unfinished
    assert all(s["status"] == "done" for s in report["series"])
