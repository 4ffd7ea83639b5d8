"""Names of the run-level cohort files in an output folder (beside the per-series outputs)."""

from __future__ import annotations

STATE_DIR_NAME = "mhub_state"
"""Per-series state files: ``mhub_state/<model>/<SeriesInstanceUID>.json``."""
TABLES_DIR_NAME = "mhub_tables"
"""Parquet parts of the cohort tables: ``mhub_tables/<table>/<part>.parquet``."""
REPORT_HTML_NAME = "mhub_report.html"
"""The static cohort report."""
RUN_FOLDERS = frozenset({STATE_DIR_NAME, TABLES_DIR_NAME})
"""Folders of run-level files, which are not model outputs."""
