"""The bad-input corpus through scan + QC + volume reading, and through ``mhub run``."""

from __future__ import annotations

from pathlib import Path

import pytest

from mhubio.dicom.qc import QCStatus, run_qc
from mhubio.dicom.scan import scan_folder
from mhubio.dicom.volume import VolumeReadError, read_series_image
from mhubio.synthetic.bad_corpus import CONVERSION_FAILURE, BadCase, write_bad_corpus

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
