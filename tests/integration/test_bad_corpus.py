"""The bad-input corpus through scan + QC + volume reading, and through ``mhub run`` of the thresholder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mhubio.core.config import workflow_path
from mhubio.core.fileio import sha256_file
from mhubio.core.logs import ProgressPrinter
from mhubio.core.runner import RunOptions, run_workflow
from mhubio.dicom import scan as scan_module
from mhubio.dicom.qc import QCCheck, QCStatus, run_qc
from mhubio.dicom.scan import ScanResult, scan_folder
from mhubio.dicom.volume import VolumeReadError, read_series_image
from tests.helpers import read_report, run_mhub
from tests.support.bad_corpus import CONVERSION_FAILURE, BadCase, write_bad_corpus

FILE_LISTS = ("non_dicom", "unreadable", "rejected_files", "ignored")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[BadCase]:
    return write_bad_corpus(tmp_path_factory.mktemp("bad_corpus"))


def classify(case: BadCase) -> dict[str, object]:
    """What the library makes of a case folder, in the terms of BadCase."""
    scanned = scan_folder(case.path)
    processed, warned, skipped = set(), set(), {}
    for uid, series in scanned.series.items():
        result = run_qc(series)
        if not result.passed:
            skipped[uid] = result.failed_check
            continue
        try:
            read_series_image(result.accepted)
        except VolumeReadError:
            skipped[uid] = CONVERSION_FAILURE
            continue
        processed.add(uid)
        if result.status is QCStatus.WARN:
            warned.add(uid)
    issues = {name: len(getattr(scanned, name)) for name in FILE_LISTS if getattr(scanned, name)}
    return {"processed": processed, "skipped": skipped, "warned": warned, "issues": issues}


def expected(case: BadCase) -> dict[str, object]:
    return {
        "processed": set(case.expected_processed_series),
        "skipped": dict(case.expected_skipped),
        "warned": set(case.expected_warned_series),
        "issues": dict(case.expected_file_issues),
    }


def test_corpus_is_large_and_names_are_unique(corpus):
    assert len(corpus) >= 20
    assert len({c.name for c in corpus}) == len(corpus)
    assert all(c.path.is_dir() for c in corpus)
    kinds = {reason for c in corpus for reason in c.expected_skipped.values()}
    assert len(kinds) >= 10, "the corpus should exercise most QC checks"


def test_corpus_covers_the_trust_boundary(corpus):
    assert len(corpus) >= 80
    kinds = {reason for c in corpus for reason in c.expected_skipped.values()}
    assert {QCCheck.UID_SYNTAX, QCCheck.MEMORY_BUDGET, QCCheck.GEOMETRY_VALUES, QCCheck.RESCALE_VALUES} <= kinds


def test_every_case_is_classified_as_expected(corpus):
    mismatches = {c.name: (classify(c), expected(c)) for c in corpus if classify(c) != expected(c)}
    assert not mismatches, "\n".join(f"{name}: got {got}, expected {want}"
                                     for name, (got, want) in mismatches.items())


def test_skip_messages_name_series_and_check(corpus):
    for case in corpus:
        for uid, series in scan_folder(case.path).series.items():
            result = run_qc(series)
            if not result.passed:
                assert f"({uid})" in result.message
                assert f"'{result.failed_check.value}'" in result.message


def test_corpus_is_deterministic(tmp_path: Path, corpus):
    again = write_bad_corpus(tmp_path)
    assert [expected(c) for c in again] == [expected(c) for c in corpus]


# The expectations hold for the default QC; the thresholder workflow restricts modalities to
# CT, which would skip the corpus's SR series for its modality instead of its geometry.
ANY_MODALITY = "DicomImporter.modalities=null"


def run_thresholder(case: BadCase, out: Path, work: Path):
    options = RunOptions(input_dir=case.path, output_dir=out, work_dir=work, overrides=[ANY_MODALITY])
    return run_workflow(workflow_path("thresholder"), options, ProgressPrinter(quiet=True))


# Run-level files beside the outputs: the HTML report, the cohort tables and the series state files (complete
# files only: a temporary ".tmp-..." left behind is still reported as partial).
RUN_FILES = re.compile(r"mhub_report\.html|mhub_tables/\w+/\w[\w.-]*\.parquet|mhub_state/[\w.-]+/[0-9.]+\.json")


def check_outputs(case: BadCase, out: Path, exit_code: int) -> list[str]:
    """Problems of one run's output folder and report compared with the case expectations."""
    problems = []
    report = read_report(out)
    if exit_code != case.expected_exit_code or report["exit_code"] != case.expected_exit_code:
        problems.append(f"exit code {exit_code}, expected {int(case.expected_exit_code)}")
    status = {s["series_uid"]: s for s in report["series"]}
    done = {uid for uid, s in status.items() if s["status"] == "done"}
    if done != set(case.expected_processed_series):
        problems.append(f"done {sorted(done)}")
    skipped = {s["series_uid"]: s["check"] for s in report["skipped_series"]}
    for uid, reason in case.expected_skipped.items():
        if reason == CONVERSION_FAILURE:
            if status.get(uid, {}).get("failed_step") != "NiftiConverter":
                problems.append(f"{uid} did not fail in NiftiConverter")
        elif skipped.get(uid) != reason.value:
            problems.append(f"{uid} skipped as {skipped.get(uid)}, expected {reason.value}")
    return problems + file_problems(out, report, done)


def file_problems(out: Path, report: dict, done: set[str]) -> list[str]:
    """Files of the output folder that the report does not vouch for, or whose checksum differs."""
    problems = []
    listed = {o["path"] for s in report["series"] for o in s["outputs"]}
    for path in out.rglob("*"):
        relative = str(path.relative_to(out))
        if path.is_dir() or relative == "mhub_report.json" or relative.startswith(("mhub_logs/", "mhub_reports/")) \
                or RUN_FILES.fullmatch(relative):
            continue
        if relative not in listed:
            problems.append(f"unlisted or partial output {relative}")
        elif relative.split("/")[0] not in done:
            problems.append(f"output {relative} of a series that was not processed")
    for output in (o for s in report["series"] for o in s["outputs"]):
        if sha256_file(out / output["path"]) != output["sha256"]:
            problems.append(f"checksum of {output['path']}")
    return problems


@pytest.mark.slow
def test_mhub_run_on_every_case(corpus, tmp_path: Path):
    problems = {}
    for case in corpus:
        out = tmp_path / case.name / "out"
        report = run_thresholder(case, out, tmp_path / case.name / "work")
        found = check_outputs(case, out, int(report.exit_code))
        if found:
            problems[case.name] = found
    assert not problems, "\n".join(f"{name}: {p}" for name, p in problems.items())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mixed_good_and_bad", "missing_slice", "corrupt_compressed_pixels",
                                  "only_corrupt_series"])
def test_mhub_command_exit_codes(corpus, tmp_path: Path, name: str):
    case = next(c for c in corpus if c.name == name)
    done = run_mhub("run", "--model", "thresholder", "--input", case.path, "--output", tmp_path / "out",
                    "--set", ANY_MODALITY)
    assert done.returncode == case.expected_exit_code, done.stdout
    assert check_outputs(case, tmp_path / "out", done.returncode) == []


def test_scan_on_processes_equals_the_scan_in_this_process(corpus, monkeypatch):
    """Headers parsed by forked processes (``--workers``), in blocks of three files, give the same index, file
    lists and reasons in the same order as the scan in this process."""
    monkeypatch.setattr(scan_module, "SCAN_BLOCK_FILES", 3)
    root = corpus[0].path.parent
    in_process = scan_folder(root)
    on_processes = scan_folder(root, processes=2)
    assert in_process.n_files > 100 and in_process.unreadable and in_process.rejected_files
    assert _snapshot(on_processes) == _snapshot(in_process)


def _snapshot(result: ScanResult) -> str:
    """Every field of a scan in order, as text (NaN header values compare equal)."""
    series = {uid: s.instances for uid, s in result.series.items()}
    return repr((result.n_files, series, result.non_dicom, result.unreadable, result.rejected_files, result.ignored))
