"""Writing the Parquet parts of the cohort tables (atomically, in bounded memory)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from mhubio.cohort.layout import TABLES_DIR_NAME
from mhubio.core.fileio import atomic_path
from mhubio.tables.extract import Rows
from mhubio.tables.schema import TABLES, TableName, empty_table

BATCH_ROWS = 50_000


def part_path(output_dir: Path, table: TableName, part: str) -> Path:
    """``OUT_DIR/mhub_tables/<table>/<part>.parquet``."""
    return Path(output_dir) / TABLES_DIR_NAME / table.value / f"{part}.parquet"


def write_part(output_dir: Path, part: str, batches: Iterable[Rows]) -> dict[TableName, Path]:
    """Write one part of every table from a stream of row batches; each file appears only when complete.

    Rows are flushed every :data:`BATCH_ROWS` rows, so memory does not grow with the cohort.
    """
    paths = {t: part_path(output_dir, t, part) for t in TableName}
    with ExitStack() as stack:
        writers = {}
        for table, path in paths.items():
            tmp = stack.enter_context(atomic_path(path))
            writers[table] = stack.enter_context(pq.ParquetWriter(tmp, TABLES[table], compression="zstd"))
        pending: dict[TableName, list[dict[str, Any]]] = {t: [] for t in TableName}
        for batch in batches:
            for table in TableName:
                pending[table].extend(batch.get(table.value, ()))
                if len(pending[table]) >= BATCH_ROWS:
                    _flush(writers[table], table, pending[table])
        for table in TableName:
            _flush(writers[table], table, pending[table])
    return paths


def _flush(writer: pq.ParquetWriter, table: TableName, rows: list[dict[str, Any]]) -> None:
    if rows:
        writer.write_table(arrow_table(table, rows))
        rows.clear()


def arrow_table(table: TableName, rows: list[dict[str, Any]]) -> pa.Table:
    """``rows`` as an Arrow table of ``table``'s schema: keys outside the schema are ignored, missing ones null.

    The rows go through pyarrow's JSON reader: building the table from the Python objects
    (``pa.Table.from_pylist``) makes pyarrow import pandas, a quarter of a second of every run
    (apache/arrow#34994). Floats round-trip exactly, NaN and infinities included (tested).
    """
    if not rows:
        return empty_table(table)
    data = "\n".join(json.dumps(row, default=_json_scalar) for row in rows).encode()
    return pa_json.read_json(
        io.BytesIO(data),
        read_options=pa_json.ReadOptions(use_threads=False, block_size=len(data)),
        parse_options=pa_json.ParseOptions(explicit_schema=TABLES[table], unexpected_field_behavior="ignore"),
    )


def _json_scalar(value: object) -> object:
    """A NumPy scalar as the Python number it holds; anything else JSON cannot write is an error."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"a table value of type {type(value).__name__} cannot be written")


def remove_parts(output_dir: Path, keep: Iterable[str] = ()) -> None:
    """Remove every part of every table except those named in ``keep``."""
    kept = set(keep)
    for table in TableName:
        for path in _parts(output_dir, table):
            if path.stem not in kept:
                path.unlink(missing_ok=True)


def _parts(output_dir: Path, table: TableName) -> Iterator[Path]:
    folder = Path(output_dir) / TABLES_DIR_NAME / table.value
    return iter(sorted(folder.glob("*.parquet"))) if folder.is_dir() else iter(())
