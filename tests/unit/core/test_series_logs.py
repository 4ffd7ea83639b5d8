"""Per-series log files: each gets its own series' records, and no logger is created per series."""

from __future__ import annotations

import logging
from pathlib import Path

from mhubio.core.data import Instance
from mhubio.core.logs import series_log_handler


def test_each_series_log_holds_its_own_records_and_no_logger_is_left_per_series(tmp_path: Path):
    first = Instance("1.2.3", {}, tmp_path / "a")
    second = Instance("1.2.4", {}, tmp_path / "b")
    loggers = None
    for number in range(50):
        extra = Instance(f"1.2.9.{number}", {}, tmp_path / "c")
        with series_log_handler(extra, tmp_path):
            extra.log.info("series %d", number)
        loggers = loggers or len(logging.Logger.manager.loggerDict)
    with series_log_handler(first, tmp_path):
        first.log.warning("first step done")
        second.log.warning("not the first series")  # e.g. a record of another series in this process
        logging.getLogger("mhub.module").info("module message")
    text = (tmp_path / "1.2.3.log").read_text()
    assert "first step done" in text and "module message" in text
    assert "not the first series" not in text
    assert (tmp_path / "1.2.9.7.log").read_text().endswith("mhub.series: series 7\n")
    assert len(logging.Logger.manager.loggerDict) == loggers
