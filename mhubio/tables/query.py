"""DuckDB over the Parquet parts of an output folder (embedded, no server)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from mhubio.cohort.layout import TABLES_DIR_NAME
from mhubio.core.fileio import atomic_path
from mhubio.tables.schema import TableName, empty_table


def connect(output_dir: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per table (``series``, ``measurements``, ``findings``) over all parts.

    A table without parts is an empty view of the right schema, so queries never fail for a missing part.
    """
    con = duckdb.connect(":memory:")
    for table in TableName:
        parts = sorted((Path(output_dir) / TABLES_DIR_NAME / table.value).glob("*.parquet"))
        if parts:
            files = ", ".join(_literal(p) for p in parts)
            con.execute(f"CREATE VIEW {table.value} AS SELECT * FROM read_parquet([{files}], union_by_name = true)")
        else:
            con.register(f"_empty_{table.value}", empty_table(table))
            con.execute(f"CREATE VIEW {table.value} AS SELECT * FROM _empty_{table.value}")
    return con


def query(output_dir: Path, sql: str) -> pa.Table:
    """The result of ``sql`` over the tables of ``output_dir``, as an Arrow table."""
    with connect(output_dir) as con:
        return con.sql(sql).to_arrow_table()


def export_csv(output_dir: Path, sql: str, target: Path) -> int:
    """Write the result of ``sql`` to ``target`` as CSV with a header (atomically); returns the row count."""
    result = query(output_dir, sql)
    with atomic_path(Path(target)) as tmp, duckdb.connect(":memory:") as con:
        con.register("result", result)
        con.execute(f"COPY result TO {_literal(tmp)} (HEADER, DELIMITER ',')")
    return result.num_rows


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
