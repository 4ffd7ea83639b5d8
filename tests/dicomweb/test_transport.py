"""Retries, TLS and refusals against a scripted loopback server (no Orthanc needed)."""

from __future__ import annotations

import pydicom
import pytest

from mhubio.cli import main
from mhubio.core.errors import NoInputError
from mhubio.core.exitcodes import ExitCode
from mhubio.dicomweb import (
    Credentials,
    DicomwebError,
    DicomwebLocation,
    PushStatus,
    connect,
    download_series,
    push_files,
)
from mhubio.dicomweb.session import RetryPolicy
from mhubio.synthetic import write_ct_series
from tests.dicomweb.fake_server import dicom_json, fake_dicomweb, self_signed_certificate
from tests.helpers import read_report

FAST = RetryPolicy(attempts=3, backoff_s=0.05, timeout_s=10)


@pytest.fixture(scope="module")
def ct_file(tmp_path_factory):
    return write_ct_series(tmp_path_factory.mktemp("ct"), shape=(2, 16, 16), seed=5).files[0]


def _stored_and_found(sop: str, transient_failures: int):
    def script(method, path, count):
        if method == "POST" and count < transient_failures:
            return 503, "text/plain", b"busy"
        if method == "POST":
            return dicom_json({"00081199": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": [sop]}}]}})
        return dicom_json([{"00080018": {"vr": "UI", "Value": [sop]}}])
    return script


def test_push_retries_transient_answers_then_checks_by_qido(ct_file):
    sop = str(pydicom.dcmread(ct_file).SOPInstanceUID)
    with fake_dicomweb(_stored_and_found(sop, transient_failures=2)) as (root, seen):
        (record,) = push_files(connect(root, Credentials(), FAST), ct_file.parent, [ct_file.name])
    assert record.status is PushStatus.STORED, record
    assert [r.split(" ")[0] for r in seen] == ["POST", "POST", "POST", "GET"]
    assert f"SOPInstanceUID={sop}" in seen[-1]


def test_push_gives_up_after_the_retries(ct_file):
    with fake_dicomweb(lambda method, path, count: (503, "text/plain", b"busy")) as (root, seen):
        (record,) = push_files(connect(root, Credentials(), FAST), ct_file.parent, [ct_file.name])
    assert record.status is PushStatus.FAILED
    assert "HTTP 503" in record.reason and len(seen) == FAST.attempts


def test_push_refused_by_the_server_is_rejected_with_its_reason(ct_file):
    sop = str(pydicom.dcmread(ct_file).SOPInstanceUID)
    failed = {"00081198": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": [sop]},
                                                  "00081197": {"vr": "US", "Value": [0xA700]}}]}}
    with fake_dicomweb(lambda method, path, count: dicom_json(failed)) as (root, seen):
        (record,) = push_files(connect(root, Credentials(), FAST), ct_file.parent, [ct_file.name])
    assert record.status is PushStatus.REJECTED and record.reason == "failure reason 0xa700"
    assert len(seen) == 1


def test_push_conflict_answer_is_a_rejection(ct_file):
    with fake_dicomweb(lambda method, path, count: (409, "text/plain", b"conflict")) as (root, _):
        (record,) = push_files(connect(root, Credentials(), FAST), ct_file.parent, [ct_file.name])
    assert record.status is PushStatus.REJECTED and "HTTP 409" in record.reason


def test_self_signed_server_is_a_tls_error_unless_its_ca_is_given(tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    with fake_dicomweb(lambda method, path, count: dicom_json([]), tls=(cert, key)) as (root, seen):
        location = DicomwebLocation(root, "1.2.3")
        with pytest.raises(DicomwebError, match="TLS verification of https://127.0.0.1:[0-9]+/dicom-web failed"):
            download_series(connect(root, Credentials(), FAST), location, tmp_path / "dl")
        assert seen == []
        with pytest.raises(NoInputError, match="no series"):
            download_series(connect(root, Credentials(ca_bundle=cert), FAST), location, tmp_path / "dl")
        assert len(seen) == 1


def test_self_signed_server_through_the_cli_exits_8_with_the_reason(tmp_path, monkeypatch, capsys):
    cert, key = self_signed_certificate(tmp_path)
    for name in ("MHUB_DICOMWEB_USER", "MHUB_DICOMWEB_PASSWORD", "MHUB_DICOMWEB_TOKEN", "MHUB_DICOMWEB_CREDENTIALS",
                 "MHUB_DICOMWEB_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    with fake_dicomweb(lambda method, path, count: dicom_json([]), tls=(cert, key)) as (root, _):
        code = main(["run", "--model", "thresholder", "--input", f"{root}/studies/1.2.3", "--output",
                     str(tmp_path / "out")])
    assert code == ExitCode.DICOMWEB_ERROR
    assert "TLS verification of https://127.0.0.1:" in capsys.readouterr().err
    assert read_report(tmp_path / "out")["exit_code"] == ExitCode.DICOMWEB_ERROR
