"""The output folder under concurrent runs, kills, SIGTERM and a full disk (through ``mhub run``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mhubio.core.exitcodes import ExitCode
from mhubio.core.integrity import locked_output
from mhubio.synthetic.ct import write_ct_series
from tests.helpers import REPO, read_report, run_mhub

N_SERIES = 6


@pytest.fixture(scope="module")
def input_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("integrity_input")
    for k in range(N_SERIES):
        write_ct_series(folder / f"s{k}", shape=(12, 48, 48), spacing=(0.8, 0.8, 2.5), seed=k, series_number=k + 1)
    return folder


def start_run(input_dir: Path, out: Path, work: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mhubio", "run", "--model", "thresholder", "--input", str(input_dir),
         "--output", str(out), "--work-dir", str(work)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def wait_for_state(out: Path, state: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if json.loads((out / "mhub_report.json").read_text()).get("state") == state:
                return
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        assert process.poll() is None, process.stdout.read()
        time.sleep(0.01)
    raise AssertionError(f"the report never reached state {state!r}")


def hidden_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*")]


def test_a_second_run_on_a_locked_folder_exits_2_at_once(input_dir: Path, tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    with locked_output(out):
        started = time.monotonic()
        done = run_mhub("run", "--model", "thresholder", "--input", input_dir, "--output", out)
        elapsed = time.monotonic() - started
    assert done.returncode == ExitCode.CONFIG_ERROR, done.stdout
    assert "in use by another mhub run" in done.stdout
    assert not (out / "mhub_report.json").exists()
    assert elapsed < 60  # it did not wait for the lock


@pytest.mark.slow
def test_two_concurrent_runs_one_exits_2(input_dir: Path, tmp_path: Path):
    out = tmp_path / "out"
    first = start_run(input_dir, out, tmp_path / "w1")
    wait_for_state(out, "running", first)
    second = run_mhub("run", "--model", "thresholder", "--input", input_dir, "--output", out,
                      "--work-dir", tmp_path / "w2")
    assert second.returncode == ExitCode.CONFIG_ERROR, second.stdout
    assert first.wait(timeout=300) == ExitCode.SUCCESS
    assert read_report(out)["state"] == "finished"


@pytest.mark.slow
def test_a_run_killed_during_a_rerun_leaves_a_report_vouching_for_nothing(input_dir: Path, tmp_path: Path):
    out = tmp_path / "out"
    assert run_mhub("run", "--model", "thresholder", "--input", input_dir, "--output", out).returncode == 0
    assert len([o for s in read_report(out)["series"] for o in s["outputs"]]) == N_SERIES
    rerun = start_run(input_dir, out, tmp_path / "work")
    wait_for_state(out, "running", rerun)
    rerun.send_signal(signal.SIGKILL)
    rerun.wait(timeout=60)
    report = read_report(out)
    assert report["state"] == "running" and report["series"] == []
    # what a writer killed mid-file leaves (the kill above may come between files)
    unfinished = next(p for p in out.rglob("*.dcm")).parent / ".tmp-0123456789abcdef-seg.dcm"
    unfinished.write_bytes(b"half a file")
    # the lock died with the process: a new run may start, removes the unfinished file and finishes the job
    again = run_mhub("run", "--model", "thresholder", "--input", input_dir, "--output", out)
    assert again.returncode == ExitCode.SUCCESS, again.stdout
    assert "unfinished file(s) that an interrupted run had left" in " ".join(again.stdout.split())
    assert read_report(out)["state"] == "finished"
    assert hidden_files(out) == []


@pytest.mark.slow
def test_sigterm_is_handled_like_ctrl_c(input_dir: Path, tmp_path: Path):
    out, work = tmp_path / "out", tmp_path / "work"
    run = start_run(input_dir, out, work)
    wait_for_state(out, "running", run)
    run.send_signal(signal.SIGTERM)
    assert run.wait(timeout=120) == ExitCode.INTERRUPTED
    report = read_report(out)
    assert report["state"] == "finished" and report["exit_code"] == ExitCode.INTERRUPTED
    assert not work.exists()
    assert hidden_files(out) == []


@pytest.mark.slow
def test_two_models_into_one_folder_keep_both_reports(input_dir: Path, tmp_path: Path):
    """As for the paper's four objects: two models, one output folder, both reports kept."""
    shutil.copytree(REPO / "models" / "thresholder", tmp_path / "second_model",
                    ignore=shutil.ignore_patterns("__pycache__"))
    config = tmp_path / "second_model" / "config" / "default.yml"
    manifest = tmp_path / "second_model" / "mhub.toml"
    manifest.write_text(manifest.read_text().replace('name = "thresholder"', 'name = "second_model"', 1))
    out = tmp_path / "out"
    first = run_mhub("run", "--model", "thresholder", "--input", input_dir / "s0", "--output", out)
    second = run_mhub("run", "--config", config, "--input", input_dir / "s0", "--output", out)
    assert (first.returncode, second.returncode) == (0, 0), first.stdout + second.stdout
    reports = {p.name: json.loads(p.read_text()) for p in (out / "mhub_reports").iterdir()}
    assert sorted(reports) == ["second_model.default.json", "thresholder.default.json"]
    assert {r["model"]["name"] for r in reports.values()} == {"thresholder", "second_model"}
    assert all(r["state"] == "finished" and r["series"][0]["outputs"] for r in reports.values())
    assert read_report(out)["model"]["name"] == "second_model"
    # a rerun of the first model replaces its own results of the series and keeps the other model's
    rerun = run_mhub("run", "--model", "thresholder", "--input", input_dir / "s0", "--output", out)
    assert rerun.returncode == 0 and "1 series had results of an earlier run" in rerun.stdout, rerun.stdout
    reports = {p.name: json.loads(p.read_text()) for p in (out / "mhub_reports").iterdir()}
    assert sorted(reports) == ["second_model.default.json", "thresholder.default.json"]
    assert reports["thresholder.default.json"]["series"][0]["replaced"]
    assert all((out / o["path"]).is_file() for r in reports.values() for o in r["series"][0]["outputs"])


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mount") is None,
                    reason="mounting a small tmpfs needs root (CAP_SYS_ADMIN) and mount(8)")
def test_a_full_disk_exits_8_without_half_written_files(input_dir: Path, tmp_path: Path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True,
                             text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        out, work = disk / "out", disk / "work"
        out.mkdir()
        # leave about 100 KB: enough for the running report, not for the NIfTI scratch files
        free = shutil.disk_usage(disk).free
        (disk / "filler").write_bytes(bytes(max(free - 100_000, 0)))
        done = run_mhub("run", "--model", "thresholder", "--input", input_dir, "--output", out,
                        "--work-dir", work)
        assert done.returncode == ExitCode.DISK_FULL, done.stdout
        assert "no space left" in done.stdout.lower()
        assert hidden_files(out) == []
        report = read_report(out)
        listed = [o for s in report["series"] for o in s["outputs"]]
        assert all((out / o["path"]).is_file() for o in listed)
    finally:
        subprocess.run(["umount", str(disk)], check=False)
