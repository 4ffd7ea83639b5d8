"""Progress display: a bar on terminals, periodic plain lines elsewhere; data never read as rich markup."""

from __future__ import annotations

import io
from pathlib import Path

from mhubio.core.data import Failure, Instance, InstanceStatus
from mhubio.core.logs import ProgressPrinter, SeriesCounts

MARKUP = "[bold red]x[/bold red]"


def _series(index: int, failed: bool = False) -> Instance:
    instance = Instance(f"1.{index}", {"Modality": "CT", "SeriesNumber": MARKUP, "PatientName": "SECRET"}, Path("."))
    instance.status = InstanceStatus.FAILED if failed else InstanceStatus.DONE
    if failed:
        instance.failure = Failure("Work", f"boom {MARKUP}", "Traceback ...")
    return instance


def _run(printer: ProgressPrinter, total: int, failing: set[int], skipped: int = 0) -> None:
    printer.run_started(total, skipped)
    for index in range(total):
        instance = _series(index, index in failing)
        printer.step_started(instance, "Work")
        printer.series_finished(instance)
    printer.run_finished()


def test_plain_lines_every_n_series_and_at_the_end():
    stream = io.StringIO()
    _run(ProgressPrinter(stream, live=False, every_series=2, every_seconds=3600), 5, {1}, skipped=3)
    lines = stream.getvalue().splitlines()
    assert lines[0] == f"failed CT series {MARKUP} (1.1) at step Work: boom {MARKUP}"
    assert lines[1].startswith("2/5 series: 1 done, 1 failed, 3 skipped; 0:00:00 elapsed, about 0:00:00 left")
    assert lines[2].startswith("4/5 series: 3 done, 1 failed, 3 skipped")
    assert lines[3].startswith("5/5 series: 4 done, 1 failed, 3 skipped") and "left" not in lines[3]
    assert len(lines) == 4 and "SECRET" not in stream.getvalue()


def test_plain_lines_when_the_interval_passed():
    stream = io.StringIO()
    _run(ProgressPrinter(stream, live=False, every_series=100, every_seconds=0), 3, set())
    assert [line.split(":")[0] for line in stream.getvalue().splitlines()] == ["1/3 series", "2/3 series",
                                                                              "3/3 series"]


def test_default_interval_is_a_twentieth_of_the_run():
    stream = io.StringIO()
    _run(ProgressPrinter(stream, live=False, every_seconds=3600), 100, set())
    assert len(stream.getvalue().splitlines()) == 20


def test_bar_counts_done_failed_skipped():
    stream = io.StringIO()
    _run(ProgressPrinter(stream, live=True), 3, {1}, skipped=1)
    text = stream.getvalue()
    assert f"failed CT series {MARKUP} (1.1) at step Work: boom {MARKUP}" in text
    assert "3/3" in text and "2 done" in text and "1 failed" in text and "1 skipped" in text and "ETA" in text


def test_quiet_prints_nothing():
    stream = io.StringIO()
    _run(ProgressPrinter(stream, quiet=True, live=True), 3, {0})
    assert stream.getvalue() == ""


def test_time_left_from_the_mean_series_time():
    counts = SeriesCounts(total=10, done=3, failed=1, skipped=2)
    assert counts.describe(400.0) == "4/10 series: 3 done, 1 failed, 2 skipped; 0:06:40 elapsed, about 0:10:00 left"


class _Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_long_scan_prints_lines_with_the_time_left_and_a_last_one(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr("mhubio.core.logs.time.monotonic", clock)
    stream = io.StringIO()
    printer = ProgressPrinter(stream, live=False, phase_every_seconds=10)
    for parsed, at in [(0, 0), (64, 5), (128, 11), (192, 15), (256, 21.5), (300, 24)]:
        clock.now = 100.0 + at
        printer.files_indexed(parsed, 300)
    assert stream.getvalue().splitlines() == [
        "scanning the input: 128/300 files read; 0:00:11 elapsed, about 0:00:14 left",
        "scanning the input: 256/300 files read; 0:00:21 elapsed, about 0:00:03 left",
        "scanning the input: 300/300 files read; 0:00:24 elapsed",
    ]


def test_a_short_scan_prints_nothing_and_quiet_never():
    stream = io.StringIO()
    printer = ProgressPrinter(stream, live=False)
    for parsed in (0, 64, 100):
        printer.files_indexed(parsed, 100)
    quiet = ProgressPrinter(stream, quiet=True, phase_every_seconds=0)
    for parsed in (0, 64, 100):
        quiet.files_indexed(parsed, 100)
    assert stream.getvalue() == ""


def test_a_long_download_prints_the_series_finished(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr("mhubio.core.logs.time.monotonic", clock)
    stream = io.StringIO()
    printer = ProgressPrinter(stream, live=False, phase_every_seconds=10)
    for done, at in [(0, 0), (1, 12), (2, 14), (3, 30)]:
        clock.now = 100.0 + at
        printer.series_downloaded(done, 3)
    assert stream.getvalue().splitlines() == [
        "downloading the input: 1/3 series; 0:00:12 elapsed, about 0:00:24 left",
        "downloading the input: 3/3 series; 0:00:30 elapsed",
    ]
