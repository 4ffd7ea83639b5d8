"""``--workers N``: the process pool gives the same report as the sequential path, models load once per worker."""

from __future__ import annotations

import ctypes
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import time
import types
from multiprocessing import active_children
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mhubio.core.data import AlgorithmInfo, DataItem, Failure, Instance, InstanceStatus, StepTiming
from mhubio.core.errors import ConfigError
from mhubio.core.exitcodes import ExitCode
from mhubio.core.filetypes import FileType
from mhubio.core.forking import can_fork
from mhubio.core.logs import ProgressPrinter
from mhubio.core.parallel import ProcessPoolSeriesExecutor, start_method
from mhubio.core.runner import RunOptions, run_workflow
from mhubio.core.workflow import ChainSpec
from mhubio.tables import rows as table_rows
from tests import fake_modules
from tests.fake_modules import PROBE_MODULE, fake_registry, write_workflow
from tests.helpers import REPO


@pytest.fixture()
def config_path(tmp_path):
    return write_workflow(tmp_path / "workflow")


def _run(config_path: Path, base: Path, lines: list[str], workers: int, fail_fast: bool = False,
         progress: ProgressPrinter | None = None):
    input_dir, output_dir = base / "in", base / "out"
    input_dir.mkdir(parents=True, exist_ok=True)
    (input_dir / "series.txt").write_text("\n".join(lines))
    options = RunOptions(input_dir, output_dir, fail_fast=fail_fast, work_dir=base / "work", workers=workers)
    report = run_workflow(config_path, options, progress or ProgressPrinter(quiet=True), fake_registry())
    return report, json.loads((output_dir / "mhub_report.json").read_text()), output_dir


def _comparable(data: dict) -> dict:
    """The report without wall-clock values."""
    data = {k: v for k, v in data.items() if k not in ("started", "finished", "duration_s")}
    data["series"] = [
        {**s, "steps": [{"step": t["step"], "status": t["status"]} for t in s["steps"]]} for s in data["series"]
    ]
    return data


def _markers(base: Path, prefix: str) -> list[str]:
    folder = base / "markers"
    return sorted(p.name for p in folder.glob(f"{prefix}-*")) if folder.is_dir() else []


def test_instance_pickles_without_its_logger(tmp_path):
    instance = Instance("1.2.3", {"Modality": "CT"}, tmp_path)
    item = DataItem(FileType.NIFTI, tmp_path / "seg.nii.gz", {"mod": "seg"}, labels={1: "HEART"}, producer="Run")
    item.algorithm = AlgorithmInfo("net", "1.0", weights={"w.pth": "ab" * 32})
    instance.add(item)
    instance.status = InstanceStatus.FAILED
    instance.failure = Failure("Run", "boom", "Traceback ...")
    instance.timings.append(StepTiming("Run", "failed", 0.5))
    instance.warnings.append("careful")
    state = instance.__getstate__()
    assert "log" not in state
    copy = pickle.loads(pickle.dumps(instance))
    assert copy == instance
    assert copy.log.logger.name == "mhub.series" and copy.log.extra == {"series": "1.2.3"}
    assert copy.items[0].meta["roi"] == "HEART"


def test_config_error_keeps_its_problems_across_processes():
    error = pickle.loads(pickle.dumps(ConfigError(["first problem", "second problem"])))
    assert error.problems == ["first problem", "second problem"]
    assert str(error) == "- first problem\n- second problem"


@pytest.mark.parametrize("workers, scheduler", [(0, None), (2, "tcp://127.0.0.1:8786")])
def test_invalid_worker_options(tmp_path, workers, scheduler):
    with pytest.raises(ConfigError):
        RunOptions(tmp_path, tmp_path, workers=workers, scheduler=scheduler)


def test_scheduler_makes_folders_absolute(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.chdir(tmp_path)
    options = RunOptions(Path("in"), Path("out"), work_dir=Path("work"), scheduler="tcp://127.0.0.1:8786")
    assert (options.input_dir, options.output_dir, options.work_dir) == (tmp_path / "in", tmp_path / "out",
                                                                         tmp_path / "work")
    assert options.weights_dir is None and RunOptions(Path("in"), Path("out")).input_dir == Path("in")


@pytest.mark.slow
def test_pool_report_and_outputs_match_sequential(config_path, tmp_path):
    lines = ["1.1 ok", "1.2 ok", "1.3 skip", "1.4 crash", "1.5 ok"]
    seq_report, seq, seq_out = _run(config_path, tmp_path / "seq", lines, workers=1)
    par_report, par, par_out = _run(config_path, tmp_path / "par", lines, workers=2)
    assert par_report.exit_code == seq_report.exit_code == ExitCode.PARTIAL_FAILURE
    seq_cmp, par_cmp = _comparable(seq), _comparable(par)
    assert par_cmp["series"][2]["error"] == seq_cmp["series"][2]["error"] == "RuntimeError: boom in 1.4"
    assert par_cmp == seq_cmp
    assert par["algorithms"] == {"Work": {"name": "work", "version": "2.0", "type": "AUTOMATIC", "family": None,
                                          "parameters": {"mode": "test"}, "weights": {}}}
    for uid in ("1.1", "1.2", "1.5"):
        assert (par_out / uid / "result.json").read_bytes() == (seq_out / uid / "result.json").read_bytes()
    seq_logs = sorted(p.name for p in (seq_out / "mhub_logs").iterdir())
    assert sorted(p.name for p in (par_out / "mhub_logs").iterdir()) == seq_logs
    assert "Traceback" in (par_out / "mhub_logs" / "1.4.log").read_text()
    assert (par_out / "mhub_logs" / "1.5.log").read_text().count("finished 1.5") == 1
    text = json.dumps(par) + "".join(p.read_text() for p in (par_out / "mhub_logs").iterdir())
    assert "SECRET" not in text


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_lines_are_the_same_with_and_without_workers(config_path, tmp_path, workers):
    stream = io.StringIO()
    _run(config_path, tmp_path, ["1.1 ok", "1.2 crash", "1.3 skip", "1.4 ok"], workers,
         progress=ProgressPrinter(stream, live=False, every_series=3))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "failed CT series 1 (1.2) at step Work: RuntimeError: boom in 1.2"
    assert [line.split(";")[0] for line in lines[1:]] == ["3/3 series: 2 done, 1 failed, 1 skipped"]


@pytest.mark.slow
def test_models_load_once_per_worker_and_are_torn_down(config_path, tmp_path):
    report, data, out = _run(config_path, tmp_path, [f"1.{i} ok" for i in range(1, 6)], workers=2)
    assert report.exit_code == ExitCode.SUCCESS
    series_pids = {name.rsplit("-", 1)[1] for name in _markers(tmp_path, "series")}
    assert len(_markers(tmp_path, "series")) == 5
    assert 1 <= len(series_pids) <= 2 and str(os.getpid()) not in series_pids
    # one setup per worker process that ran a series, and each torn down at shutdown
    assert _markers(tmp_path, "setup") == sorted(f"setup-{pid}-1" for pid in series_pids)
    assert _markers(tmp_path, "teardown") == sorted(f"teardown-{pid}" for pid in series_pids)


@pytest.mark.slow
@pytest.mark.slow
@pytest.mark.skipif(not can_fork(), reason="workers are spawned on this platform")
def test_workers_are_forked_with_the_callers_objects_out_of_the_collectors_reach(config_path, tmp_path,
                                                                                 monkeypatch):
    """Workers start from the caller's imported modules; what they inherit is frozen, so that their collections
    neither traverse it nor copy its memory pages."""
    probe = types.ModuleType(PROBE_MODULE)
    probe.held = [object()]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, PROBE_MODULE, probe)
    report, _, _ = _run(config_path, tmp_path, ["1.1 probe", "1.2 probe"], workers=2)
    assert report.exit_code == ExitCode.SUCCESS
    markers = _markers(tmp_path, "probe")
    assert len(markers) == 2
    assert {name.rsplit("-", 2)[0] for name in markers} == {"probe-inherited-frozen"}


@pytest.mark.slow
@pytest.mark.skipif(not can_fork(), reason="workers are spawned on this platform")
@pytest.mark.parametrize("workers", [1, 2])
def test_steps_preload_once_in_the_caller_before_the_workers_are_forked(config_path, tmp_path, monkeypatch,
                                                                         workers):
    """A step's tables are loaded once, in the caller, and inherited by forked workers; never with one worker."""
    monkeypatch.setattr(fake_modules, "_PRELOADED_IN", None)
    report, _, _ = _run(config_path, tmp_path, ["1.1 preloaded", "1.2 preloaded"], workers=workers)
    assert report.exit_code == ExitCode.SUCCESS
    series = _markers(tmp_path, "preloaded")
    if workers == 1:
        assert _markers(tmp_path, "preload-in") == []
        assert [name.rsplit("-", 2)[0] for name in series] == ["preloaded-none", "preloaded-none"]
    else:
        assert _markers(tmp_path, "preload-in") == [f"preload-in-{os.getpid()}"]
        assert [name.rsplit("-", 2)[0] for name in series] == ["preloaded-inherited", "preloaded-inherited"]


@pytest.mark.skipif(not can_fork(), reason="workers are spawned on this platform")
@pytest.mark.parametrize("initialized", [False, True])
def test_workers_are_spawned_once_this_process_has_initialised_cuda(monkeypatch, initialized):
    torch = types.SimpleNamespace(cuda=types.SimpleNamespace(is_initialized=lambda: initialized))
    monkeypatch.setitem(sys.modules, "torch", torch)
    assert start_method() == ("spawn" if initialized else "fork")


_MARKERS: Path | None = None
_OUTPUT_ROWS = table_rows.output_rows


def _output_rows_noting_process(path, output_dir, series_uid=None, model=None, version=""):
    assert _MARKERS is not None
    (_MARKERS / f"rows-{series_uid}-{os.getpid()}").touch()
    return _OUTPUT_ROWS(path, output_dir, series_uid, model, version)


@pytest.mark.slow
@pytest.mark.skipif(not can_fork(), reason="workers are spawned on this platform")
def test_table_rows_are_computed_by_the_workers_not_the_caller(config_path, tmp_path, monkeypatch):
    """The worker that ran a series reads its outputs for the cohort tables; the caller only records them."""
    global _MARKERS
    _MARKERS = tmp_path / "markers"
    _MARKERS.mkdir()
    monkeypatch.setattr(table_rows, "output_rows", _output_rows_noting_process)
    try:
        report, _, out = _run(config_path, tmp_path, ["1.1 ok", "1.2 ok", "1.3 crash"], workers=2)
    finally:
        _MARKERS = None
    assert report.exit_code == ExitCode.PARTIAL_FAILURE
    marked = _markers(tmp_path, "rows")
    assert sorted(name.rsplit("-", 1)[0] for name in marked) == ["rows-1.1", "rows-1.2"]
    assert str(os.getpid()) not in {name.rsplit("-", 1)[1] for name in marked}
    assert all(i.table_rows is None for i in report.instances)
    series = pq.read_table(out / "mhub_tables" / "series").to_pylist()
    assert sorted((row["SeriesInstanceUID"], row["status"]) for row in series) == [
        ("1.1", "done"), ("1.2", "done"), ("1.3", "failed")]


def test_all_failed_exit_code(config_path, tmp_path):
    report, data, _ = _run(config_path, tmp_path, ["1.1 crash", "1.2 crash", "1.3 crash"], workers=2)
    assert report.exit_code == ExitCode.ALL_FAILED and data["exit_code"] == 5
    assert [s["steps"][0]["status"] for s in data["series"]] == ["failed"] * 3


@pytest.mark.slow
def test_fail_fast_starts_no_new_series(config_path, tmp_path):
    lines = ["1.1 crash", "1.2 sleep1.5", "1.3 ok", "1.4 ok", "1.5 ok"]
    report, data, out = _run(config_path, tmp_path, lines, workers=2, fail_fast=True)
    # 1.2 was already running when 1.1 failed: it finishes and is reported; nothing else starts
    assert [s["status"] for s in data["series"]] == ["failed", "done", "pending", "pending", "pending"]
    assert report.exit_code == ExitCode.PARTIAL_FAILURE
    assert (out / "1.2" / "result.json").is_file() and not (out / "1.3").exists()
    assert _markers(tmp_path, "series") and not any(m.startswith(("series-1.3", "series-1.4", "series-1.5"))
                                                    for m in _markers(tmp_path, "series"))


@pytest.mark.slow
def test_run_error_in_a_worker_ends_the_run_with_its_exit_code(config_path, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_WEIGHTS_ONLY_IN_PID", str(os.getpid()))
    report, data, _ = _run(config_path, tmp_path, ["1.1 ok", "1.2 ok", "1.3 ok"], workers=2)
    assert report.exit_code == ExitCode.WEIGHTS_ERROR and data["exit_code"] == 6
    assert "Work: weights missing in process" in data["error"]
    assert [s["status"] for s in data["series"]] == ["pending"] * 3


@pytest.mark.slow
def test_series_of_a_dead_worker_is_failed(config_path, tmp_path):
    report, data, _ = _run(config_path, tmp_path, ["1.1 die"], workers=2)
    (series,) = data["series"]
    assert series["status"] == "failed" and series["failed_step"] == "worker"
    assert "worker process died" in series["error"]
    assert report.exit_code == ExitCode.ALL_FAILED


def _interrupt_process_group(pid: int) -> None:
    """Ctrl-C in a terminal: SIGINT to the whole process group."""
    os.killpg(pid, signal.SIGINT)


def _interrupt_a_pool_thread(pid: int) -> None:
    """SIGINT delivered to each thread of the caller but its main thread, as the kernel may deliver Ctrl-C."""
    tgkill = ctypes.CDLL(None, use_errno=True).tgkill
    for task in Path(f"/proc/{pid}/task").iterdir():
        if int(task.name) != pid:
            tgkill(pid, int(task.name), signal.SIGINT)


@pytest.mark.slow
@pytest.mark.parametrize("interrupt", [_interrupt_process_group, _interrupt_a_pool_thread],
                         ids=["process-group", "pool-thread"])
def test_ctrl_c_exits_130_and_stops_the_workers(config_path, tmp_path, interrupt):
    input_dir, output_dir = tmp_path / "in", tmp_path / "out"
    input_dir.mkdir()
    (input_dir / "series.txt").write_text("1.1 sleep60\n1.2 sleep60\n1.3 ok\n")
    # the fakes run through run_workflow with their registry, as `mhub run --workers 2` runs a model
    command = [sys.executable, "-m", "tests.fake_modules", str(config_path), str(input_dir), str(output_dir), "2"]
    # a new session: the signal goes to the whole process group, like Ctrl-C in a terminal
    process = subprocess.Popen(command, cwd=REPO, start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while len(_markers(tmp_path, "series")) < 2 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
        assert len(_markers(tmp_path, "series")) == 2, process.communicate()[0] if process.poll() else "timeout"
        interrupt(process.pid)
        try:
            output, _ = process.communicate(timeout=40)  # the series sleep 60 s: an interrupt that waits fails
        except subprocess.TimeoutExpired:
            state = _signal_state(process.pid)
            os.kill(process.pid, signal.SIGUSR1)  # the run prints its threads' stacks
            time.sleep(2)
            process.kill()
            pytest.fail(f"the run did not stop within 40 s of SIGINT ({state}):\n{process.communicate()[0]}")
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, output
    data = json.loads((output_dir / "mhub_report.json").read_text())
    assert data["exit_code"] == 130 and data["error"] == "interrupted"
    assert [s["status"] for s in data["series"]] == ["pending"] * 3
    pids = [int(name.rsplit("-", 1)[1]) for name in _markers(tmp_path, "series")]
    deadline = time.monotonic() + 10
    while any(map(_running, pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_running, pids)), "worker processes outlived the interrupted run"


def _signal_state(pid: int) -> str:
    """Ignored, blocked and caught signal masks of ``pid`` (``/proc``), as far as it still runs."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except FileNotFoundError:
        return "gone"
    return ", ".join(line for line in lines if line.startswith(("SigIgn", "SigBlk", "SigCgt")))


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not exited, not a zombie awaiting its reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_interrupt_stops_workers_that_are_still_starting(config_path, tmp_path):
    """Workers interrupted before their initializer ran (no pid reported yet) are stopped too."""
    options = RunOptions(tmp_path, tmp_path, workers=2)
    spec = ChainSpec(config_path, options, tmp_path, tuple(fake_registry().class_paths().items()))
    before = {p.pid for p in active_children()}
    with pytest.raises(KeyboardInterrupt), ProcessPoolSeriesExecutor(spec, tmp_path, 2) as executor:
        for uid in ("1.1", "1.2"):
            executor.submit(Instance(uid, {}, tmp_path / uid))
        raise KeyboardInterrupt
    left = [p for p in active_children() if p.pid not in before]
    assert [(p.pid, p.name, _command_line(p.pid)) for p in left] == []


def _command_line(pid: int) -> str:
    """The command line of process ``pid`` (to tell a left worker from a child of another test's thread)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:300]
    except OSError:
        return "?"
