"""Comparison of produced outputs with reference outputs."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom

DICE_THRESHOLD = 0.99
RELATIVE_TOLERANCE = 1e-4


def compare_files(produced: Path, reference: Path) -> list[str]:
    """Differences between two output files of the same relative path."""
    name = produced.name
    if name.endswith(".seg.dcm"):
        return compare_seg(produced, reference)
    if name.endswith(".dcm"):
        return compare_sr(produced, reference)
    if name.endswith(".json"):
        return _compare_values(json.loads(produced.read_text()), json.loads(reference.read_text()), name)
    if name.endswith(".csv"):
        return _compare_values(_csv_rows(produced), _csv_rows(reference), name)
    return [] if produced.read_bytes() == reference.read_bytes() else [f"{name}: content differs"]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient of two masks (1.0 when both are empty)."""
    a, b = a.astype(bool), b.astype(bool)
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def compare_seg(produced: Path, reference: Path) -> list[str]:
    """Same segments with the same codes, and per-segment Dice >= 0.99 on the same grid."""
    got, want = hd.seg.segread(produced), hd.seg.segread(reference)
    problems = []
    got_codes, want_codes = _segment_codes(got), _segment_codes(want)
    if got_codes != want_codes:
        return [f"{produced.name}: segments differ: {got_codes} != {want_codes}"]
    if got.SegmentationType != want.SegmentationType:
        problems.append(f"{produced.name}: SegmentationType {got.SegmentationType} != {want.SegmentationType}")
    for number in got.segment_numbers:
        a = got.get_volume(segment_numbers=[number], combine_segments=True)
        b = want.get_volume(segment_numbers=[number], combine_segments=True)
        if a.array.shape != b.array.shape or not np.allclose(a.affine, b.affine, atol=1e-3):
            problems.append(f"{produced.name}: segment {number} is on another grid")
            continue
        score = dice(a.array, b.array)
        if score < DICE_THRESHOLD:
            name = got_codes[number - 1][0]
            problems.append(f"{produced.name}: segment {number} ({name}) Dice {score:.4f} < {DICE_THRESHOLD}")
    return problems


def _segment_codes(seg: hd.seg.Segmentation) -> list[tuple]:
    codes = []
    for number in seg.segment_numbers:
        d = seg.get_segment_description(number)
        type_item = d.SegmentedPropertyTypeCodeSequence[0]
        modifiers = type_item.get("SegmentedPropertyTypeModifierCodeSequence", [])
        modifier = tuple((m.CodingSchemeDesignator, m.CodeValue) for m in modifiers)
        codes.append((
            d.tracking_id,
            (d.segmented_property_category.scheme_designator, d.segmented_property_category.value),
            (d.segmented_property_type.scheme_designator, d.segmented_property_type.value),
            modifier,
        ))
    return codes


def compare_sr(produced: Path, reference: Path) -> list[str]:
    """SR content trees equal: concept names, codes and texts exactly, numbers within tolerance.

    UIDs are left out: they are new in every run.
    """
    got = list(_content_items(pydicom.dcmread(produced)))
    want = list(_content_items(pydicom.dcmread(reference)))
    if len(got) != len(want):
        return [f"{produced.name}: {len(got)} content items, reference has {len(want)}"]
    problems = []
    for (path_a, value_a), (path_b, value_b) in zip(got, want, strict=True):
        if path_a != path_b:
            problems.append(f"{produced.name}: item {path_a} where the reference has {path_b}")
        elif not _equal(value_a, value_b):
            problems.append(f"{produced.name}: {path_a}: {value_a!r} != {value_b!r}")
        if len(problems) >= 10:
            problems.append(f"{produced.name}: (more differences left out)")
            break
    return problems


def _content_items(dataset: pydicom.Dataset, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    for item in dataset.get("ContentSequence", []):
        name = item.ConceptNameCodeSequence[0].CodeValue if "ConceptNameCodeSequence" in item else "-"
        here = (*path, f"{item.ValueType}:{name}")
        yield here, _item_value(item)
        yield from _content_items(item, here)


def _item_value(item: pydicom.Dataset) -> Any:
    kind = item.ValueType
    if kind == "CODE":
        code = item.ConceptCodeSequence[0]
        return (code.CodingSchemeDesignator, code.CodeValue)
    if kind == "NUM":
        measured = item.MeasuredValueSequence[0] if item.get("MeasuredValueSequence") else None
        if measured is None:
            return None
        unit = measured.MeasurementUnitsCodeSequence[0].CodeValue
        return (float(measured.NumericValue), unit)
    if kind == "TEXT":
        return str(item.TextValue)
    if kind in ("IMAGE", "COMPOSITE"):
        ref = item.ReferencedSOPSequence[0]
        return (str(ref.ReferencedSOPClassUID), tuple(ref.get("ReferencedSegmentNumber", []) or ()))
    return kind


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-9)
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _csv_rows(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="") as handle:
        return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def _number(text: str) -> Any:
    try:
        return float(text)
    except (TypeError, ValueError):
        return text


def _compare_values(got: Any, want: Any, where: str) -> list[str]:
    if isinstance(got, dict) and isinstance(want, dict):
        if set(got) != set(want):
            return [f"{where}: keys {sorted(set(got) ^ set(want))} differ"]
        return [p for k in got for p in _compare_values(got[k], want[k], f"{where}.{k}")]
    if isinstance(got, list) and isinstance(want, list):
        if len(got) != len(want):
            return [f"{where}: {len(got)} items, reference has {len(want)}"]
        pairs = enumerate(zip(got, want, strict=True))
        return [p for i, (x, y) in pairs for p in _compare_values(x, y, f"{where}[{i}]")]
    if isinstance(got, int | float) and isinstance(want, int | float) and not isinstance(got, bool):
        return [] if _equal(float(got), float(want)) else [f"{where}: {got} != {want}"]
    return [] if got == want else [f"{where}: {got!r} != {want!r}"]
