"""The tables of a run: one part per model, rebuilt from the state files of every done series."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mhubio.cohort.resume import CohortRun
from mhubio.core.data import InstanceStatus
from mhubio.core.report import RunReport
from mhubio.tables.extract import Rows
from mhubio.tables.rows import instance_series_row, skipped_series_row
from mhubio.tables.schema import TableName, empty_rows
from mhubio.tables.writer import write_part


def write_run_tables(cohort: CohortRun, report: RunReport) -> dict[TableName, Path]:
    """Write the model's part of every table: done series of all its runs, failed and rejected ones of this run."""
    return write_part(cohort.output_dir, cohort.model, _run_batches(cohort, report))


def _run_batches(cohort: CohortRun, report: RunReport) -> Iterator[Rows]:
    for state in cohort.store:
        yield dict(state.rows)
    extra = empty_rows()
    series = extra[TableName.SERIES.value]
    for instance in report.instances:
        if instance.status is not InstanceStatus.DONE:
            series.append(instance_series_row(instance, cohort.model, cohort.version, cohort.workflow))
    for skipped in report.imported.skipped if report.imported else ():
        series.append(skipped_series_row(skipped, cohort.model, cohort.version, cohort.workflow))
    yield extra
