"""Radiomics results as tables: CSV (one row per segment) and JSON (lossless, read back by the SR encoder)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from mhubio.core.fileio import atomic_path
from mhubio.radiomics.features import MissingSegment, RadiomicsResult, SegmentFeatures

__all__ = ["read_json", "result_from_dict", "result_to_dict", "write_csv", "write_json"]

FORMAT = "mhub-radiomics/1"
ID_COLUMNS = ("segment_id", "label_value")


def write_csv(result: RadiomicsResult, path: Path | str) -> Path:
    """One row per segment with features: ``segment_id``, ``label_value``, then one column per feature.

    Values are written with full precision (``repr``); undefined values are
    empty cells.  Segments without features are not rows (see the JSON table).
    """
    path = Path(path)
    keys = result.feature_keys()
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*ID_COLUMNS, *keys])
        for segment in result.segments:
            cells = [_cell(segment.features.get(k)) for k in keys]
            writer.writerow([segment.segment_id, segment.label_value, *cells])
    return path


def _cell(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else repr(value)


def result_to_dict(result: RadiomicsResult) -> dict[str, Any]:
    """JSON-compatible dict of ``result``; non-finite values become ``null``."""
    return {
        "format": FORMAT,
        "algorithm": {"name": result.algorithm_name, "version": result.algorithm_version},
        "settings": dict(result.settings),
        "segments": [
            {
                "segment_id": s.segment_id,
                "label_value": s.label_value,
                "features": {k: (v if math.isfinite(v) else None) for k, v in s.features.items()},
            }
            for s in result.segments
        ],
        "missing": [
            {"segment_id": m.segment_id, "label_value": m.label_value, "reason": m.reason} for m in result.missing
        ],
    }


def result_from_dict(data: dict[str, Any], source: str = "radiomics table") -> RadiomicsResult:
    """Inverse of :func:`result_to_dict`; ``null`` values become NaN."""
    if data.get("format") != FORMAT:
        raise ValueError(f"{source}: not an mhub radiomics table (format {data.get('format')!r}, expected {FORMAT})")
    try:
        segments = [
            SegmentFeatures(
                s["segment_id"],
                int(s["label_value"]),
                {k: (math.nan if v is None else float(v)) for k, v in s["features"].items()},
            )
            for s in data["segments"]
        ]
        missing = [MissingSegment(m["segment_id"], int(m["label_value"]), m["reason"]) for m in data["missing"]]
        algorithm = data["algorithm"]
        return RadiomicsResult(segments, missing, algorithm["name"], algorithm["version"], data.get("settings", {}))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{source}: malformed radiomics table ({type(exc).__name__}: {exc})") from exc


def write_json(result: RadiomicsResult, path: Path | str) -> Path:
    """Write ``result`` as JSON; floats round-trip exactly."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(result_to_dict(result), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path


def read_json(path: Path | str) -> RadiomicsResult:
    """Read a table written by :func:`write_json`."""
    path = Path(path)
    return result_from_dict(json.loads(path.read_text(encoding="utf-8")), str(path.name))
