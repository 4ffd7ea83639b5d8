"""The runner's two cohort hooks: before the series run, and after the run report is written."""

from __future__ import annotations

import logging
import sys
from functools import partial
from typing import TYPE_CHECKING

from mhubio.cohort.resume import CohortRun
from mhubio.core.config import Chain

if TYPE_CHECKING:
    from mhubio.core.report import RunReport
    from mhubio.core.runner import RunOptions

log = logging.getLogger("mhub")


def start_cohort(chain: Chain, options: RunOptions) -> CohortRun:
    """The cohort bookkeeping of a run (state files, table rows of each finished series, ``--resume``)."""
    from mhubio.tables.rows import series_rows

    model = chain.importer.module.context.model
    rows = partial(series_rows, model=model.name, version=model.version, workflow=options.workflow)
    return CohortRun(chain, options.output_dir, options.workflow, options.resume, rows=rows)


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
