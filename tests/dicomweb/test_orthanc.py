"""DICOMweb input and push against a real Orthanc (DICOMweb plugin, authentication on, loopback only)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pydicom
import pytest

from mhubio.cli import main
from mhubio.core.exitcodes import ExitCode
from mhubio.core.logs import ProgressPrinter
from mhubio.core.runner import RunOptions
from mhubio.dicomweb import Credentials, DicomwebLocation, connect, download_series
from mhubio.dicomweb.run import parse_options, run_with_dicomweb
from mhubio.synthetic import write_ct_series
from tests.dicomweb.orthanc import PASSWORD, USER, Orthanc, free_port, start_orthanc
from tests.helpers import REPO, read_report

pytestmark = pytest.mark.slow
SHAPE = (12, 48, 48)
REJECTED_PATIENT = "MHUB-WEB-REJECT"
# Orthanc drops the SEGs of one patient: STOW-RS still answers "stored", the QIDO-RS check finds nothing
REJECT_LUA = f"""
function ReceivedInstanceFilter(dicom, origin, info)
  return not (dicom.Modality == "SEG" and dicom.PatientID == "{REJECTED_PATIENT}")
end
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    orthanc = start_orthanc(tmp_path_factory.mktemp("orthanc"), lua=REJECT_LUA)
    yield orthanc
    orthanc.stop()


@pytest.fixture(scope="module")
def series(server: Orthanc, tmp_path_factory) -> dict:
    """Series on the server: study A (two series), a query target, and a study whose second series is broken."""
    root = tmp_path_factory.mktemp("series")
    a1 = write_ct_series(root / "a1", shape=SHAPE, seed=11, patient_id="MHUB-WEB-A")
    a2 = write_ct_series(root / "a2", shape=SHAPE, seed=11, series_number=2, study_uid=a1.study_uid,
                         patient_id="MHUB-WEB-A")
    query = write_ct_series(root / "q", shape=SHAPE, seed=12, patient_id="MHUB-WEB-QUERY")
    ok = write_ct_series(root / "b1", shape=SHAPE, seed=13, patient_id="MHUB-WEB-B")
    broken = write_ct_series(root / "b2", shape=SHAPE, seed=13, series_number=2, study_uid=ok.study_uid,
                             patient_id="MHUB-WEB-B")
    for s in (a1, a2, query, ok, broken):
        server.upload(s.files)
    server.break_instance(broken.sop_instance_uids[5])
    return {"a1": a1, "a2": a2, "query": query, "ok": ok, "broken": broken}


def _mhub(monkeypatch, capsys, *args, user=USER, password=PASSWORD, **env) -> tuple[int, str]:
    for name in ("MHUB_DICOMWEB_TOKEN", "MHUB_DICOMWEB_CREDENTIALS", "MHUB_DICOMWEB_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MHUB_DICOMWEB_USER", user)
    monkeypatch.setenv("MHUB_DICOMWEB_PASSWORD", password)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["run", "--model", "thresholder", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _assert_no_secret(text: str, out: Path) -> None:
    assert PASSWORD not in text
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".log", ".txt"):
            assert PASSWORD not in path.read_text(errors="replace"), path


def _processed(report: dict) -> set[str]:
    return {s["series_uid"] for s in report["series"] if s["status"] == "done"}


def test_input_by_study(server, series, tmp_path, monkeypatch, capsys):
    a1, a2 = series["a1"], series["a2"]
    code, text = _mhub(monkeypatch, capsys, "--input", f"{server.dicomweb}/studies/{a1.study_uid}",
                       "--output", tmp_path / "out")
    assert code == ExitCode.SUCCESS, text
    report = read_report(tmp_path / "out")
    assert _processed(report) == {a1.series_uid, a2.series_uid}
    downloaded = report["dicomweb_input"]["series"]
    assert {(s["series_uid"], s["instances"], s["error"]) for s in downloaded} == {
        (a1.series_uid, SHAPE[0], None), (a2.series_uid, SHAPE[0], None)}
    for s in report["series"]:
        (output,) = s["outputs"]
        seg = pydicom.dcmread(tmp_path / "out" / output["path"])
        assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == s["series_uid"]
    _assert_no_secret(text, tmp_path / "out")


def test_input_by_series(server, series, tmp_path, monkeypatch, capsys):
    a2 = series["a2"]
    url = f"{server.dicomweb}/studies/{a2.study_uid}/series/{a2.series_uid}"
    code, text = _mhub(monkeypatch, capsys, "--input", url, "--output", tmp_path / "out")
    assert code == ExitCode.SUCCESS, text
    assert _processed(read_report(tmp_path / "out")) == {a2.series_uid}


def test_input_by_query_keeps_the_query_values_out_of_the_report(server, series, tmp_path, monkeypatch, capsys):
    query = series["query"]
    code, text = _mhub(monkeypatch, capsys, "--input", f"{server.dicomweb}/studies?PatientID=MHUB-WEB-QUERY",
                       "--output", tmp_path / "out")
    assert code == ExitCode.SUCCESS, text
    report = read_report(tmp_path / "out")
    assert _processed(report) == {query.series_uid}
    assert report["dicomweb_input"]["query"] == ["PatientID"]
    assert "MHUB-WEB-QUERY" not in (tmp_path / "out" / "mhub_report.json").read_text()
    assert "MHUB-WEB-QUERY" not in text


def test_series_that_fails_to_download_is_reported_and_the_others_run(server, series, tmp_path, monkeypatch, capsys):
    ok, broken = series["ok"], series["broken"]
    code, text = _mhub(monkeypatch, capsys, "--input", f"{server.dicomweb}/studies/{ok.study_uid}",
                       "--output", tmp_path / "out", "--work-dir", tmp_path / "work", "--keep-work")
    assert code == ExitCode.PARTIAL_FAILURE, text
    report = read_report(tmp_path / "out")
    assert _processed(report) == {ok.series_uid}
    failed = {s["series_uid"]: s for s in report["dicomweb_input"]["series"] if s["error"]}
    assert list(failed) == [broken.series_uid]
    assert failed[broken.series_uid]["instances"] == 0
    assert "could not be downloaded" in report["error"]
    # nothing of the broken series was left for the importer
    (download,) = (tmp_path / "work").glob("mhub-dicomweb-*")
    assert not (download / failed[broken.series_uid]["folder"]).exists()


def test_push_results_are_retrievable_and_equal_to_the_files(server, series, tmp_path, monkeypatch, capsys):
    a1 = series["a1"]
    code, text = _mhub(monkeypatch, capsys, "--input", f"{server.dicomweb}/studies/{a1.study_uid}",
                       "--output", tmp_path / "out", "--push", server.dicomweb)
    assert code == ExitCode.SUCCESS, text
    report = read_report(tmp_path / "out")
    pushed = report["dicomweb_push"]["files"]
    outputs = sorted(o["path"] for s in report["series"] for o in s["outputs"])
    assert sorted(p["path"] for p in pushed) == outputs and len(outputs) == 2
    for record in pushed:
        assert record["status"] == "stored", record
        on_disk = (tmp_path / "out" / record["path"]).read_bytes()
        assert pydicom.dcmread(tmp_path / "out" / record["path"]).SOPInstanceUID == record["sop_instance_uid"]
        assert server.file(record["sop_instance_uid"]) == on_disk
    _assert_no_secret(text, tmp_path / "out")


def test_push_that_the_server_drops_gives_exit_7_and_names_the_file(server, tmp_path, monkeypatch, capsys):
    kept = write_ct_series(tmp_path / "in" / "kept", shape=SHAPE, seed=21, patient_id="MHUB-WEB-KEPT")
    dropped = write_ct_series(tmp_path / "in" / "dropped", shape=SHAPE, seed=22, patient_id=REJECTED_PATIENT)
    code, text = _mhub(monkeypatch, capsys, "--input", tmp_path / "in", "--output", tmp_path / "out",
                       "--push", server.dicomweb)
    assert code == ExitCode.PUSH_FAILED, text
    report = read_report(tmp_path / "out")
    assert report["exit_code"] == ExitCode.PUSH_FAILED
    assert _processed(report) == {kept.series_uid, dropped.series_uid}
    by_series = {Path(p["path"]).parts[0]: p for p in report["dicomweb_push"]["files"]}
    assert by_series[kept.series_uid]["status"] == "stored"
    assert by_series[dropped.series_uid]["status"] == "not_found"
    assert by_series[dropped.series_uid]["path"] in report["error"]
    assert by_series[dropped.series_uid]["path"] in text


def test_wrong_credentials(server, series, tmp_path, monkeypatch, capsys):
    url = f"{server.dicomweb}/studies/{series['a1'].study_uid}"
    code, text = _mhub(monkeypatch, capsys, "--input", url, "--output", tmp_path / "out", password="wrong-pass-1")
    assert code == ExitCode.DICOMWEB_ERROR, text
    assert "refused the credentials (HTTP 401)" in text
    assert "wrong-pass-1" not in text
    report = json.loads((tmp_path / "out" / "mhub_report.json").read_text())
    assert report["exit_code"] == ExitCode.DICOMWEB_ERROR and "credentials" in report["error"]
    assert "wrong-pass-1" not in json.dumps(report)


def test_unreachable_server(tmp_path, monkeypatch, capsys):
    url = f"http://127.0.0.1:{free_port()}/dicom-web/studies/1.2.3"
    code, text = _mhub(monkeypatch, capsys, "--input", url, "--output", tmp_path / "out")
    assert code == ExitCode.DICOMWEB_ERROR, text
    assert "cannot connect to http://127.0.0.1" in text
    assert read_report(tmp_path / "out")["exit_code"] == ExitCode.DICOMWEB_ERROR


def test_credentials_in_the_url_are_refused_and_not_echoed(tmp_path, monkeypatch, capsys):
    url = f"http://someone:{PASSWORD}@127.0.0.1:{free_port()}/dicom-web/studies/1.2.3"
    code, text = _mhub(monkeypatch, capsys, "--input", url, "--output", tmp_path / "out")
    assert code == ExitCode.CONFIG_ERROR, text
    assert "MHUB_DICOMWEB_USER" in text
    assert PASSWORD not in text and "someone" not in text


def test_push_with_wrong_credentials_keeps_the_results_and_exits_7(server, tmp_path, monkeypatch, capsys):
    write_ct_series(tmp_path / "in", shape=SHAPE, seed=23, patient_id="MHUB-WEB-C")
    code, text = _mhub(monkeypatch, capsys, "--input", tmp_path / "in", "--output", tmp_path / "out",
                       "--push", server.dicomweb, password="wrong-pass-2")
    assert code == ExitCode.PUSH_FAILED, text
    report = read_report(tmp_path / "out")
    (record,) = report["dicomweb_push"]["files"]
    assert record["status"] == "failed" and "refused the credentials (HTTP 401)" in record["reason"]
    assert (tmp_path / "out" / record["path"]).is_file()
    assert "wrong-pass-2" not in text + json.dumps(report)


@pytest.mark.parametrize(("study", "failed"), [("a1", 0), ("ok", 1)])  # a failed series counts as finished
def test_download_reports_each_finished_series(server, series, tmp_path, study, failed):
    client = connect(server.dicomweb, Credentials(user=USER, password=PASSWORD))
    calls: list[tuple[int, int]] = []
    result = download_series(client, DicomwebLocation(server.dicomweb, series[study].study_uid), tmp_path / "dl",
                             lambda done, total: calls.append((done, total)))
    total = len(result.series)  # the study's two series, and the results that push tests stored in it
    assert total >= 2 and calls == [(done, total) for done in range(total + 1)]
    assert len(result.failed) == failed


def test_run_prints_the_download_and_scan_progress(server, series, tmp_path, monkeypatch):
    monkeypatch.setenv("MHUB_DICOMWEB_USER", USER)
    monkeypatch.setenv("MHUB_DICOMWEB_PASSWORD", PASSWORD)
    for name in ("MHUB_DICOMWEB_TOKEN", "MHUB_DICOMWEB_CREDENTIALS", "MHUB_DICOMWEB_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    url = f"{server.dicomweb}/studies/{series['a1'].study_uid}"
    options = parse_options(url, None)
    assert options is not None
    stream = io.StringIO()
    report = run_with_dicomweb(REPO / "models" / "thresholder" / "config" / "default.yml",
                               RunOptions(Path(), tmp_path / "out"), options,
                               ProgressPrinter(stream, live=False, phase_every_seconds=0))
    assert report.exit_code is ExitCode.SUCCESS, report.error
    assert re.search(r"^downloading the input: (\d+)/\1 series; ", stream.getvalue(), re.MULTILINE)
    assert re.search(r"^scanning the input: (\d+)/\1 files read; ", stream.getvalue(), re.MULTILINE)
