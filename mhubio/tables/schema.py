"""Arrow schemas of the cohort tables."""

from __future__ import annotations

from enum import Enum
from typing import Any

import pyarrow as pa

CODE = pa.struct([
    ("CodeValue", pa.string()), ("CodingSchemeDesignator", pa.string()), ("CodeMeaning", pa.string()),
])
"""A coded concept, as in IDC's BigQuery tables."""

_STEP = pa.struct([("step", pa.string()), ("status", pa.string()), ("seconds", pa.float64())])


class TableName(str, Enum):
    """The cohort tables."""

    SERIES = "series"
    MEASUREMENTS = "measurements"
    FINDINGS = "findings"


_COMMON = [
    ("SeriesInstanceUID", pa.string()),
    ("model", pa.string()),
    ("model_version", pa.string()),
    ("source", pa.string()),
    ("output", pa.string()),
    ("SOPInstanceUID", pa.string()),
    ("trackingIdentifier", pa.string()),
    ("trackingUniqueIdentifier", pa.string()),
]

TABLES: dict[TableName, pa.Schema] = {
    TableName.SERIES: pa.schema([
        ("SeriesInstanceUID", pa.string()),
        ("StudyInstanceUID", pa.string()),
        ("Modality", pa.string()),
        ("model", pa.string()),
        ("model_version", pa.string()),
        ("workflow", pa.string()),
        ("qc_decision", pa.string()),
        ("qc_check", pa.string()),
        ("qc_reason", pa.string()),
        ("status", pa.string()),
        ("failed_step", pa.string()),
        ("seconds", pa.float64()),
        ("steps", pa.list_(_STEP)),
        ("outputs", pa.list_(pa.string())),
    ]),
    TableName.MEASUREMENTS: pa.schema([
        *_COMMON,
        ("segmentationInstanceUID", pa.string()),
        ("segmentationSegmentNumber", pa.int32()),
        ("SegmentLabel", pa.string()),
        ("SegmentedPropertyCategory", CODE),
        ("SegmentedPropertyType", CODE),
        ("SegmentedPropertyTypeModifier", CODE),
        ("findingSite", CODE),
        ("Quantity", CODE),
        ("value", pa.float64()),
        ("Units", CODE),
    ]),
    TableName.FINDINGS: pa.schema([
        *_COMMON,
        ("referencedSOPInstanceUID", pa.string()),
        ("segmentationInstanceUID", pa.string()),
        ("segmentationSegmentNumber", pa.int32()),
        ("Quantity", CODE),
        ("Value", CODE),
        ("Modifier", CODE),
    ]),
}


def empty_table(table: TableName) -> pa.Table:
    """A table of ``table``'s schema without rows (``Schema.empty_table`` makes pyarrow import pandas, 0.25 s:
    apache/arrow#34994)."""
    return pa.Table.from_batches([], schema=TABLES[table])


def code(value: str, scheme: str, meaning: str) -> dict[str, str]:
    """A coded concept as a row value."""
    return {"CodeValue": value, "CodingSchemeDesignator": scheme, "CodeMeaning": meaning}


def code_of(concept: Any) -> dict[str, str] | None:
    """A highdicom ``CodedConcept`` or a pydicom code sequence item as a row value (``None`` stays ``None``)."""
    if concept is None:
        return None
    value = getattr(concept, "value", None)
    if isinstance(value, str) and hasattr(concept, "scheme_designator"):
        return code(value, concept.scheme_designator, concept.meaning)
    return code(str(concept.CodeValue), str(concept.CodingSchemeDesignator), str(concept.CodeMeaning))


def empty_rows() -> dict[str, list[dict[str, Any]]]:
    """One empty row list per table."""
    return {t.value: [] for t in TableName}
