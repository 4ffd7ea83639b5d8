"""The runner's cohort hooks: before the series run, in the worker that ran a series, and after the run report is
written."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from mhubio.cohort.resume import CohortRun
from mhubio.core.config import Chain
from mhubio.core.data import Instance, InstanceStatus

if TYPE_CHECKING:
    from mhubio.core.report import RunReport
    from mhubio.core.runner import RunOptions
    from mhubio.tables.extract import Rows

log = logging.getLogger("mhub")


def start_cohort(chain: Chain, options: RunOptions) -> CohortRun:
    """The cohort bookkeeping of a run (state files, table rows of each finished series, ``--resume``)."""
    return CohortRun(chain, options.output_dir, options.workflow, options.resume, rows=_rows_function(chain, options))


def worker_table_rows(chain: Chain, options: RunOptions, instance: Instance) -> None:
    """In the process that ran ``instance`` (a worker), compute the table rows of the finished series for the
    caller (:attr:`Instance.table_rows`): the worker has its outputs at hand, and a caller serving many workers
    does not read every SEG and SR again. A failed series gets none; rows that cannot be computed are left to
    the caller, which warns if it fails too.
    """
    if instance.status is not InstanceStatus.DONE:
        return
    try:
        instance.table_rows = _rows_function(chain, options)(instance, options.output_dir)
    except Exception:  # the caller computes them again and records the problem with the series
        log.debug("table rows of %s failed in the worker", instance.id, exc_info=True)


def _rows_function(chain: Chain, options: RunOptions) -> Callable[[Instance, Path], Rows]:
    from mhubio.tables.rows import series_rows

    model = chain.importer.module.context.model
    return partial(series_rows, model=model.name, version=model.version, workflow=options.workflow)


def finish_cohort(cohort: CohortRun, report: RunReport, options: RunOptions) -> None:
    """Write the model's part of the cohort tables and ``mhub_report.html``.

    A failure here is printed (also with ``--quiet``) but does not fail the run: the outputs and the JSON report
    are already written, and ``mhub table OUT_DIR --rebuild`` recovers the tables.
    """
    from mhubio.report_html import write_html_report
    from mhubio.tables.run import write_run_tables

    try:
        write_run_tables(cohort, report)
        write_html_report(options.output_dir)
    except Exception as exc:
        log.debug("cohort tables or report failed", exc_info=True)
        print(f"mhub: the cohort tables or HTML report could not be written ({type(exc).__name__}: {exc}); "
              f"run: mhub table {options.output_dir} --rebuild", file=sys.stderr)
