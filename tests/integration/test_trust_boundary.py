"""Hostile inputs through ``mhub run``: exit code, report, and nothing written outside out/ and work/."""

from __future__ import annotations

import io
from contextlib import redirect_stderr
from pathlib import Path

import pytest

from mhubio.cli import main
from mhubio.core.exitcodes import ExitCode
from mhubio.dicom.qc import QCCheck
from tests.helpers import read_report
from tests.support.bad_corpus import BadCase, write_bad_corpus
from tests.support.confinement import recording_writes

TRUST_CASES = {
    "uid_path_traversal": QCCheck.UID_SYNTAX,
    "uid_absolute_path": QCCheck.UID_SYNTAX,
    "uid_reserved_report_name": QCCheck.UID_SYNTAX,
    "uid_reserved_log_folder": QCCheck.UID_SYNTAX,
    "uid_terminal_escape": QCCheck.UID_SYNTAX,
    "nan_position": QCCheck.GEOMETRY_VALUES,
    "zero_pixel_spacing": QCCheck.GEOMETRY_VALUES,
    "orientation_not_orthogonal": QCCheck.GEOMETRY_VALUES,
    "zero_rescale_slope": QCCheck.RESCALE_VALUES,
    "nan_rescale_slope": QCCheck.RESCALE_VALUES,
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BadCase]:
    return {c.name: c for c in write_bad_corpus(tmp_path_factory.mktemp("trust_corpus"))}


def files_below(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


def confined_run(case_dir: Path, run_dir: Path, *extra: str) -> tuple[int, str, list[Path]]:
    """``mhub run`` of the thresholder in this process; exit code, console text and stray writes.

    The run's folders are ``run_dir/deep/out`` and ``run_dir/deep/work`` so that a name that climbs
    two levels up still lands inside ``run_dir``, where the listing sees it.
    """
    out, work = run_dir / "deep" / "out", run_dir / "deep" / "work"
    before = files_below(run_dir)
    console = io.StringIO()
    with recording_writes() as writes, redirect_stderr(console):
        code = main(["run", "--model", "thresholder", "--input", str(case_dir), "--output", str(out),
                     "--work-dir", str(work), *extra])
    strays = [p for p in writes.outside(out, work) if p != out.parent]
    strays += [p for p in files_below(run_dir) - before - {out, work, out.parent}
               if out not in p.parents and work not in p.parents]
    return code, console.getvalue(), strays


@pytest.mark.parametrize("name", sorted(TRUST_CASES))
def test_hostile_series_is_rejected_by_name_and_confined(corpus, tmp_path: Path, name: str):
    case = corpus[name]
    code, console, strays = confined_run(case.path, tmp_path)
    assert code == ExitCode.NO_INPUT
    report = read_report(tmp_path / "deep" / "out")
    assert report["exit_code"] == ExitCode.NO_INPUT
    assert [s["check"] for s in report["skipped_series"]] == [TRUST_CASES[name].value]
    assert strays == []
    assert "\x1b" not in console


def test_uid_checks_disabled_names_stay_inside(corpus, tmp_path: Path):
    """With the UID check off, a traversal UID still never names a path outside out/ and work/."""
    case = corpus["uid_path_traversal"]
    code, console, strays = confined_run(case.path, tmp_path, "--set", "DicomImporter.qc={uid_syntax: false}",
                                         "--keep-work")
    assert strays == []
    out = tmp_path / "deep" / "out"
    assert code in (ExitCode.SUCCESS, ExitCode.ALL_FAILED)
    assert [p.name for p in (out / "mhub_logs").iterdir()] == ["_.._.._.._escaped.log"]
    assert not (tmp_path / "escaped").exists() and not (tmp_path.parent / "escaped").exists()


def test_terminal_escapes_and_markup_never_reach_the_console(corpus, tmp_path: Path):
    case = corpus["uid_terminal_escape"]
    code, console, _ = confined_run(case.path, tmp_path)
    assert code == ExitCode.NO_INPUT
    assert "\x1b" not in console
    assert "\\x1b[2J[red]x" in console  # shown escaped, the markup printed as text


def test_input_beyond_a_scan_limit_exits_with_its_code_and_a_report(corpus, tmp_path: Path):
    case = corpus["good_single"]
    code, console, strays = confined_run(case.path, tmp_path, "--set", "DicomImporter.scan_limits={max_files: 3}")
    assert code == ExitCode.INPUT_LIMIT
    report = read_report(tmp_path / "deep" / "out")
    assert report["exit_code"] == ExitCode.INPUT_LIMIT and "more than 3 files" in report["error"]
    assert strays == []


@pytest.mark.parametrize("name", ["declared_huge_matrix", "declared_huge_frame_count"])
def test_declared_size_over_the_budget_is_rejected_before_decoding(corpus, tmp_path: Path, name: str):
    code, _, strays = confined_run(corpus[name].path, tmp_path)
    assert code == ExitCode.NO_INPUT
    report = read_report(tmp_path / "deep" / "out")
    assert [s["check"] for s in report["skipped_series"]] == [QCCheck.MEMORY_BUDGET.value]
    assert strays == []


@pytest.mark.parametrize("name", ["jpeg2000_size_bomb", "jpegls_size_bomb"])
def test_codestream_size_bomb_fails_its_series_before_decoding(corpus, tmp_path: Path, name: str):
    code, _, strays = confined_run(corpus[name].path, tmp_path)
    assert code == ExitCode.PARTIAL_FAILURE
    report = read_report(tmp_path / "deep" / "out")
    failed = [s for s in report["series"] if s["status"] == "failed"]
    assert len(failed) == 1 and "codestream announces" in failed[0]["error"]
    assert strays == []


def test_a_series_without_outputs_fails_instead_of_ending_done(tmp_path: Path):
    from mhubio.core.data import Instance
    from mhubio.core.errors import MissingOutputError
    from mhubio.core.module import ModelInfo, RunContext
    from mhubio.modules.organizers.data_organizer import DataOrganizer

    context = RunContext(tmp_path / "in", tmp_path / "out", tmp_path / "work", ModelInfo("m", "1"))
    organizer = DataOrganizer("DataOrganizer", DataOrganizer.Params(), context)
    silent = Instance("1.2.3", {"SeriesInstanceUID": "1.2.3"}, tmp_path / "work" / "1.2.3")
    with pytest.raises(MissingOutputError, match="without outputs"):
        organizer.process(silent, {}, {})
    warned = Instance("1.2.4", {"SeriesInstanceUID": "1.2.4"}, tmp_path / "work" / "1.2.4")
    warned.warn("slice spacing varies")  # a warning that explains no missing output excuses nothing
    with pytest.raises(MissingOutputError, match="no step said why"):
        organizer.process(warned, {}, {})
    explained = Instance("1.2.5", {"SeriesInstanceUID": "1.2.5"}, tmp_path / "work" / "1.2.5")
    explained.record_unwritten("RadiomicsSREncoder", "sr", ["no radiomics SR written: every segment is empty"])
    organizer.process(explained, {}, {})
    assert explained.warnings[-1] == ("no output item matched the DataOrganizer targets: RadiomicsSREncoder wrote "
                                      "no sr: no radiomics SR written: every segment is empty")


def test_organizer_failure_through_mhub_run_names_the_step(corpus, tmp_path: Path):
    code, _, strays = confined_run(corpus["good_single"].path, tmp_path, "--set",
                                   'DataOrganizer.targets={"dicomseg:mod=none": "{SeriesInstanceUID}/x.dcm"}')
    report = read_report(tmp_path / "deep" / "out")
    (series,) = report["series"]
    # the SEG was written and the thresholder warned that an empty segment was left out of it: that warning
    # explains no missing output, so targets that match nothing fail the series instead of ending it done
    assert any("empty segments left out" in w for w in series["warnings"])
    assert code == ExitCode.ALL_FAILED and report["exit_code"] == ExitCode.ALL_FAILED
    assert series["status"] == "failed" and series["failed_step"] == "DataOrganizer" and series["outputs"] == []
    assert "no step said why it wrote nothing" in series["error"]
    assert strays == []
