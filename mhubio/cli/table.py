"""``mhub table``: query, export or rebuild the cohort tables of an output folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mhubio.core.errors import ConfigError
from mhubio.core.exitcodes import ExitCode


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``table`` sub-command."""
    p = subparsers.add_parser("table", help="query the cohort tables (Parquet) of an output folder with DuckDB")
    p.add_argument("output", type=Path, metavar="OUT_DIR", help="output folder of one or more runs")
    p.add_argument("--sql", help="SQL over the views series, measurements and findings (default: row counts)")
    p.add_argument("--csv", type=Path, metavar="FILE", help="write the result to FILE as CSV instead of printing it")
    p.add_argument("--rebuild", action="store_true",
                   help="first rebuild the tables from the DICOM SEG/SR and bpreg JSON files in OUT_DIR")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``mhub table``."""
    import duckdb

    from mhubio.report_html import write_html_report
    from mhubio.tables.query import connect, export_csv
    from mhubio.tables.rebuild import rebuild_tables

    if not args.output.is_dir():
        raise ConfigError(f"output folder {args.output} does not exist or is not a folder")
    if args.csv is not None and args.sql is None:
        raise ConfigError("--csv needs --sql (the query whose result is exported)")
    if args.rebuild:
        rebuild_tables(args.output)
        write_html_report(args.output)
    sql = args.sql or ("SELECT 'series' AS table_name, count(*) AS row_count FROM series UNION ALL "
                       "SELECT 'measurements', count(*) FROM measurements UNION ALL "
                       "SELECT 'findings', count(*) FROM findings")
    try:
        if args.csv is not None:
            rows = export_csv(args.output, sql, args.csv)
            print(f"{rows} row(s) written to {args.csv}", file=sys.stderr)
        else:
            with connect(args.output) as con:
                con.sql(sql).show(max_width=200, max_rows=100)
    except duckdb.Error as exc:
        print(f"mhub table: {exc}", file=sys.stderr)
        return int(ExitCode.CONFIG_ERROR)
    return int(ExitCode.SUCCESS)
