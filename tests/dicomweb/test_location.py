"""DICOMweb URLs, their redaction, and credentials from the environment."""

from __future__ import annotations

import pytest

from mhubio.core.errors import ConfigError
from mhubio.dicomweb import Credentials, DicomwebLocation, is_dicomweb_url
from mhubio.dicomweb.location import redact

ROOT = "https://pacs.example.org:8443/dicom-web"


@pytest.mark.parametrize(("url", "study", "series", "filters"), [
    (f"{ROOT}/studies/1.2.3", "1.2.3", None, {}),
    (f"{ROOT}/studies/1.2.3/", "1.2.3", None, {}),
    (f"{ROOT}/studies/1.2.3/series/1.2.3.4", "1.2.3", "1.2.3.4", {}),
    (f"{ROOT}/studies?PatientID=X1&StudyDate=20240101", None, None, {"PatientID": "X1", "StudyDate": "20240101"}),
    (f"{ROOT}/series?Modality=CT", None, None, {"Modality": "CT"}),
])
def test_input_urls(url, study, series, filters):
    location = DicomwebLocation.parse_input(url)
    assert (location.root, location.study_uid, location.series_uid, location.filters) == (ROOT, study, series, filters)


@pytest.mark.parametrize("url", [
    ROOT, f"{ROOT}/studies", f"{ROOT}/studies/1.2.3?PatientID=X", f"{ROOT}/studies/not-a-uid", "ftp://host/studies/1",
    "https:///studies/1.2",
])
def test_input_urls_that_name_nothing_or_are_malformed(url):
    with pytest.raises(ConfigError):
        DicomwebLocation.parse_input(url)


def test_credentials_in_a_url_are_refused_without_echoing_them():
    with pytest.raises(ConfigError, match="MHUB_DICOMWEB_USER") as caught:
        DicomwebLocation.parse_input("https://ann:s3cret@pacs.example.org/dicom-web/studies/1.2")
    assert "s3cret" not in str(caught.value) and "ann" not in str(caught.value)


def test_push_target_is_a_service_root():
    assert DicomwebLocation.parse_root(f"{ROOT}/").root == ROOT
    with pytest.raises(ConfigError, match="service root"):
        DicomwebLocation.parse_root(f"{ROOT}/studies/1.2.3")


def test_redaction_masks_query_values_and_user_info():
    assert redact("https://u:p@h:1/dw/studies?PatientID=Doe^Jane") == "https://h:1/dw/studies?PatientID=***"
    assert DicomwebLocation.parse_input(f"{ROOT}/studies?PatientID=Doe").describe()["query"] == ["PatientID"]
    assert is_dicomweb_url("http://h/x") and not is_dicomweb_url("/data/in")


def test_credentials_from_variables_and_file(tmp_path):
    assert Credentials.from_environment({}) == Credentials()
    basic = Credentials.from_environment({"MHUB_DICOMWEB_USER": "u", "MHUB_DICOMWEB_PASSWORD": "p"})
    assert (basic.user, basic.password) == ("u", "p") and "p" not in repr(basic).replace("password", "")
    assert Credentials.from_environment({"MHUB_DICOMWEB_TOKEN": "t0k"}).token == "t0k"
    secret = tmp_path / "cred"
    secret.write_text("ann:pa:ss\n")
    assert (Credentials.from_environment({"MHUB_DICOMWEB_CREDENTIALS": str(secret)}).password) == "pa:ss"
    secret.write_text("Bearer abc.def\n")
    assert Credentials.from_environment({"MHUB_DICOMWEB_CREDENTIALS": str(secret)}).token == "abc.def"


@pytest.mark.parametrize("env", [
    {"MHUB_DICOMWEB_USER": "u"},
    {"MHUB_DICOMWEB_TOKEN": "t", "MHUB_DICOMWEB_USER": "u", "MHUB_DICOMWEB_PASSWORD": "p"},
    {"MHUB_DICOMWEB_CREDENTIALS": "/nonexistent/cred"},
    {"MHUB_DICOMWEB_CA_BUNDLE": "/nonexistent/ca.pem"},
])
def test_bad_credential_settings_are_configuration_errors(env):
    with pytest.raises(ConfigError):
        Credentials.from_environment(env)


def test_a_later_input_overrides_the_image_entry_points_folder():
    from mhubio.cli import build_parser

    argv = ["run", "--model", "thresholder", "--input", "/app/data/input_data", "--output", "/app/data/output_data",
            "--input", f"{ROOT}/studies/1.2.3"]
    args = build_parser(argv).parse_args(argv)
    assert args.input == f"{ROOT}/studies/1.2.3"
