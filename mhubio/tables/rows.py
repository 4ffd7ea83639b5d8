"""Rows of the ``series`` table, and all rows of one finished series."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mhubio.core.data import Instance, InstanceStatus
from mhubio.core.module import SkippedSeries
from mhubio.tables.extract import Rows, merge_rows, output_rows
from mhubio.tables.schema import TableName


def instance_series_row(instance: Instance, model: str, version: str, workflow: str) -> dict[str, Any]:
    """The ``series`` row of a series that passed QC (UIDs, modality, status, timings: no PHI)."""
    a = instance.attributes
    failure = instance.failure
    return {
        "SeriesInstanceUID": instance.id,
        "StudyInstanceUID": a.get("StudyInstanceUID", ""),
        "Modality": a.get("Modality", ""),
        "model": model,
        "model_version": version,
        "workflow": workflow,
        "qc_decision": "accepted",
        "qc_check": None,
        "qc_reason": None,
        "status": instance.status.value,
        "failed_step": failure.step if failure else None,
        "seconds": round(sum(t.seconds for t in instance.timings), 3),
        "steps": [{"step": t.step, "status": t.status, "seconds": round(t.seconds, 3)} for t in instance.timings],
        "outputs": [Path(o.path).as_posix() for o in instance.outputs],
    }


def skipped_series_row(skipped: SkippedSeries, model: str, version: str, workflow: str) -> dict[str, Any]:
    """The ``series`` row of a series rejected by selection or QC."""
    return {
        "SeriesInstanceUID": skipped.series_uid, "StudyInstanceUID": None, "Modality": skipped.modality,
        "model": model, "model_version": version, "workflow": workflow, "qc_decision": "rejected",
        "qc_check": skipped.check, "qc_reason": skipped.reason, "status": "skipped", "failed_step": None,
        "seconds": 0.0, "steps": [], "outputs": [],
    }


def series_rows(instance: Instance, output_dir: Path, model: str, version: str, workflow: str) -> Rows:
    """Every table row of a done series: its ``series`` row and the rows of each of its output files."""
    rows = merge_rows(
        output_rows(output_dir / o.path, output_dir, instance.id, model, version) for o in instance.outputs
    )
    if instance.status is InstanceStatus.DONE:
        rows[TableName.SERIES.value].append(instance_series_row(instance, model, version, workflow))
    return rows
