"""``mhub table OUT_DIR --rebuild``: the tables from the output files alone (any run, any tool)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mhubio.cohort.layout import RUN_FOLDERS
from mhubio.tables.extract import Rows, output_rows
from mhubio.tables.schema import TableName, empty_rows
from mhubio.tables.writer import remove_parts, write_part

REBUILD_PART = "rebuild"
_SKIPPED_FOLDERS = {*RUN_FOLDERS, "mhub_logs"}


def output_files(output_dir: Path) -> list[Path]:
    """DICOM and bpreg JSON files below ``output_dir``, outside mhub's own folders, in path order."""
    found = []
    for path in sorted(Path(output_dir).rglob("*")):
        relative = path.relative_to(output_dir).parts
        if relative[0] in _SKIPPED_FOLDERS or path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix == ".dcm" or path.name.endswith(".bpreg.json"):
            found.append(path)
    return found


def rebuild_tables(output_dir: Path) -> dict[TableName, Path]:
    """Replace every part by one ``rebuild`` part made from the output files.

    ``series`` gets one row per analysed series and model (status ``done``; QC decisions and timings are only
    known to the run and are left empty).
    """
    paths = write_part(output_dir, REBUILD_PART, _batches(Path(output_dir)))
    remove_parts(output_dir, keep=[REBUILD_PART])
    return paths


def _batches(output_dir: Path) -> Iterator[Rows]:
    series: dict[tuple[str, str], dict] = {}
    for path in output_files(output_dir):
        rows = output_rows(path, output_dir)
        for row in (r for table in (TableName.MEASUREMENTS, TableName.FINDINGS) for r in rows[table.value]):
            entry = series.setdefault((row["SeriesInstanceUID"], row["model"]), {
                "SeriesInstanceUID": row["SeriesInstanceUID"], "model": row["model"], "model_version": "",
                "qc_decision": "accepted", "status": "done", "steps": [], "outputs": [],
            })
            if row["output"] not in entry["outputs"]:
                entry["outputs"].append(row["output"])
        yield rows
    summary = empty_rows()
    summary[TableName.SERIES.value] = list(series.values())
    yield summary
