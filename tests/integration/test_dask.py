"""``mhub run --scheduler``: the per-series task on a Dask LocalCluster (2 worker processes on 127.0.0.1)."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest

from mhubio.core.exitcodes import ExitCode
from mhubio.core.logs import ProgressPrinter
from mhubio.core.runner import RunOptions, run_workflow
from mhubio.core.threads import thread_share
from mhubio.core.workflow import ChainSpec
from tests.fake_modules import fake_registry
from tests.helpers import read_report, run_mhub
from tests.unit.core.test_parallel import _markers, _run, config_path  # noqa: F401 (fixture)
from tests.unit.core.test_parallel_thresholder import assert_same_segs, comparable_report, write_ct_inputs

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scheduler():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def test_thresholder_on_dask_matches_sequential(scheduler, tmp_path):
    uids = write_ct_inputs(tmp_path / "in", 2)
    sequential = run_mhub("run", "--model", "thresholder", "--input", tmp_path / "in", "--output", tmp_path / "seq")
    assert sequential.returncode == 0, sequential.stdout
    on_dask = run_mhub("run", "--model", "thresholder", "--input", tmp_path / "in", "--output", tmp_path / "dask",
                       "--scheduler", scheduler)
    assert on_dask.returncode == 0, on_dask.stdout
    assert comparable_report(read_report(tmp_path / "dask")) == comparable_report(read_report(tmp_path / "seq"))
    assert_same_segs(tmp_path / "seq", tmp_path / "dask", uids)
    assert sorted(p.name for p in (tmp_path / "dask" / "mhub_logs").iterdir()) == sorted(f"{u}.log" for u in uids)


def test_chain_built_once_per_dask_worker_and_torn_down(scheduler, config_path, tmp_path):  # noqa: F811
    lines = ["1.1 ok", "1.2 crash", "1.3 ok", "1.4 ok", "1.5 skip"]
    input_dir, output_dir = tmp_path / "in", tmp_path / "out"
    input_dir.mkdir()
    (input_dir / "series.txt").write_text("\n".join(lines))
    options = RunOptions(input_dir, output_dir, work_dir=tmp_path / "work", scheduler=scheduler)
    stream = io.StringIO()
    report = run_workflow(config_path, options, ProgressPrinter(stream, live=False, every_series=4), fake_registry())
    data = json.loads((output_dir / "mhub_report.json").read_text())
    assert report.exit_code == ExitCode.PARTIAL_FAILURE
    assert [s["status"] for s in data["series"]] == ["done", "failed", "done", "done"]
    assert data["series"][1]["error"] == "RuntimeError: boom in 1.2"
    assert "Traceback" in (output_dir / "mhub_logs" / "1.2.log").read_text()
    assert stream.getvalue().splitlines()[0] == "failed CT series 1 (1.2) at step Work: RuntimeError: boom in 1.2"
    assert stream.getvalue().splitlines()[1].startswith("4/4 series: 3 done, 1 failed, 1 skipped")
    series_pids = {name.rsplit("-", 1)[1] for name in _markers(tmp_path, "series")}
    assert len(_markers(tmp_path, "series")) == 4 and 1 <= len(series_pids) <= 2
    assert _markers(tmp_path, "setup") == sorted(f"setup-{pid}-1" for pid in series_pids)
    # the run removes its worker plugin, which tears the chain down on every worker that built it
    assert _markers(tmp_path, "teardown") == sorted(f"teardown-{pid}" for pid in series_pids)

    sequential = _run(config_path, tmp_path / "seq", lines, workers=1)[1]
    assert comparable_report(data) == comparable_report(sequential)


def test_dask_workers_share_their_hosts_cores(monkeypatch, tmp_path):
    from mhubio.distributed import dask_engine

    calls = []
    monkeypatch.setattr(dask_engine, "limit_threads", lambda threads, override: calls.append((threads, override)))
    plugin = dask_engine.ChainPlugin(ChainSpec(tmp_path / "w.yml", RunOptions(tmp_path, tmp_path), tmp_path),
                                     {"10.0.0.1": 2})
    plugin.setup(SimpleNamespace(address="tcp://10.0.0.1:4000"))
    plugin.setup(SimpleNamespace(address="tcp://10.0.0.2:4000"))
    assert calls == [(thread_share(2), True), (thread_share(1), True)]
