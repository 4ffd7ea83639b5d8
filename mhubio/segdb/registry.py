"""Segment registry loaded once from the CSV files shipped in ``mhubio/segdb/data``."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Annotated

from pydantic import AfterValidator
from pydicom.sr.coding import Code

from mhubio.core.resources import packaged_csv_rows
from mhubio.segdb.definition import SegmentDefinition

__all__ = [
    "all_segments",
    "get_segment",
    "label_map_names",
    "load_label_map",
    "segment_ids",
]

_CODE_ROLES = ("category", "type", "modifier", "region", "region_modifier")
_SEGMENT_COLUMNS = (
    "id",
    "label",
    *(f"{role}_{part}" for role in _CODE_ROLES for part in ("scheme", "value", "meaning")),
    "color_r",
    "color_g",
    "color_b",
    "source",
    "paper_code",
)
_LABEL_MAP_COLUMNS = ("key", "segment_id")


def _data_dir() -> Traversable:
    return resources.files("mhubio.segdb") / "data"


def _code(row: Mapping[str, str], role: str, where: str) -> Code | None:
    scheme, value, meaning = (
        row[f"{role}_{part}"].strip() for part in ("scheme", "value", "meaning")
    )
    if not (scheme or value or meaning):
        return None
    if not (scheme and value and meaning):
        raise ValueError(f"{where}: {role} needs scheme, value and meaning, or none of them.")
    return Code(value=value, scheme_designator=scheme, meaning=meaning)


def _int(row: Mapping[str, str], column: str, where: str) -> int:
    try:
        return int(row[column])
    except ValueError:
        raise ValueError(f"{where}: {column} must be an integer, got {row[column]!r}.") from None


def parse_segments(rows: Iterable[Mapping[str, str]], source: str) -> dict[str, SegmentDefinition]:
    """Build segment definitions from rows of the segments table.

    Parameters
    ----------
    rows: Iterable[Mapping[str, str]]
        Rows as read by :class:`csv.DictReader` (columns of ``segments.csv``).
    source: str
        Name of the table, used in error messages.

    Returns
    -------
    dict[str, SegmentDefinition]
        Definitions by id, in table order.

    Raises
    ------
    ValueError
        If a column is missing, a row is invalid, an id is repeated, or two
        rows share the same type, modifier, anatomic region and region modifier.
    """
    segments: dict[str, SegmentDefinition] = {}
    by_coding_key: dict[tuple, str] = {}
    for line, row in enumerate(rows, start=2):
        where = f"{source} line {line}"
        missing = [c for c in _SEGMENT_COLUMNS if c not in row]
        if missing:
            raise ValueError(f"{where}: missing columns {', '.join(missing)}.")
        category = _code(row, "category", where)
        segment_type = _code(row, "type", where)
        if category is None or segment_type is None:
            raise ValueError(f"{where}: category and type codes are required.")
        definition = SegmentDefinition(
            id=row["id"].strip(),
            label=row["label"].strip(),
            category=category,
            type=segment_type,
            modifier=_code(row, "modifier", where),
            color=(_int(row, "color_r", where), _int(row, "color_g", where), _int(row, "color_b", where)),
            anatomic_region=_code(row, "region", where),
            anatomic_region_modifier=_code(row, "region_modifier", where),
        )
        if definition.id in segments:
            raise ValueError(f"{where}: segment id {definition.id} is defined twice.")
        other = by_coding_key.get(definition.coding_key)
        if other is not None:
            raise ValueError(
                f"{where}: segment {definition.id} has the same type, modifier and anatomic "
                f"region codes as {other}."
            )
        segments[definition.id] = definition
        by_coding_key[definition.coding_key] = definition.id
    return segments


@cache
def _registry() -> dict[str, SegmentDefinition]:
    return parse_segments(packaged_csv_rows("mhubio.segdb", "data", "segments.csv"), "segdb segments.csv")


def segment_ids() -> list[str]:
    """Return all registry ids, sorted.

    Returns
    -------
    list[str]
        Segment ids such as ``"HEART"`` or ``"LEFT_KIDNEY"``.
    """
    return sorted(_registry())


def all_segments() -> list[SegmentDefinition]:
    """Return all segment definitions, sorted by id.

    Returns
    -------
    list[SegmentDefinition]
        Every definition in the registry.
    """
    registry = _registry()
    return [registry[i] for i in sorted(registry)]


def get_segment(segment_id: str) -> SegmentDefinition:
    """Look up a segment by its registry id.

    Parameters
    ----------
    segment_id: str
        Registry id, e.g. ``"LEFT_KIDNEY"``.

    Returns
    -------
    SegmentDefinition
        The coded definition of the segment.

    Raises
    ------
    KeyError
        If the id is unknown; the message suggests close matches.
    """
    registry = _registry()
    try:
        return registry[segment_id]
    except KeyError:
        pass
    candidates = difflib.get_close_matches(str(segment_id).upper(), registry, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(candidates)}?" if candidates else ""
    raise KeyError(f"Unknown segment id {segment_id!r} in the segment registry.{hint}")


def label_map_names() -> list[str]:
    """Return the names of the shipped label maps, sorted.

    Returns
    -------
    list[str]
        Names accepted by :func:`load_label_map`, e.g. ``"totalsegmentator_total"``.
    """
    folder = _data_dir() / "label_maps"
    return sorted(
        entry.name.removesuffix(".csv") for entry in folder.iterdir() if entry.name.endswith(".csv")
    )


def parse_label_map(
    rows: Iterable[Mapping[str, str]], source: str, known_ids: Iterable[str]
) -> dict[str, str]:
    """Build a label map from rows with columns ``key`` and ``segment_id``.

    Parameters
    ----------
    rows: Iterable[Mapping[str, str]]
        Rows as read by :class:`csv.DictReader`.
    source: str
        Name of the table, used in error messages.
    known_ids: Iterable[str]
        Segment ids the map may refer to.

    Returns
    -------
    dict[str, str]
        Model output key (class name or label value) -> segment id.

    Raises
    ------
    ValueError
        If a column is missing, a key is repeated, or a segment id is unknown.
    """
    known = set(known_ids)
    mapping: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        where = f"{source} line {line}"
        missing = [c for c in _LABEL_MAP_COLUMNS if c not in row]
        if missing:
            raise ValueError(f"{where}: missing columns {', '.join(missing)}.")
        key, segment_id = row["key"].strip(), row["segment_id"].strip()
        if key in mapping:
            raise ValueError(f"{where}: key {key!r} is mapped twice.")
        if segment_id not in known:
            raise ValueError(f"{where}: {key!r} maps to unknown segment id {segment_id!r}.")
        mapping[key] = segment_id
    return mapping


@cache
def _label_map(name: str) -> Mapping[str, str]:
    available = label_map_names()
    if name not in available:
        raise KeyError(f"Unknown label map {name!r}; available: {', '.join(available)}.")
    rows = packaged_csv_rows("mhubio.segdb", "data", "label_maps", f"{name}.csv")
    return parse_label_map(rows, f"segdb label map {name}", _registry())


def load_label_map(name: str) -> dict[str, str]:
    """Load a shipped map from model output keys to segment ids.

    Parameters
    ----------
    name: str
        Label map name, e.g. ``"totalsegmentator_total"`` (TotalSegmentator
        class name -> segment id) or ``"segthor"`` (label value -> segment id).

    Returns
    -------
    dict[str, str]
        A fresh copy of the mapping; keys are strings.

    Raises
    ------
    KeyError
        If no label map of that name is shipped.
    """
    return dict(_label_map(name))


def check_segment_map(segment_map: dict[int, str] | None) -> dict[int, str] | None:
    """``segment_map`` (label value -> segment id) if every id is in the registry.

    Raises
    ------
    KeyError
        For the first unknown id, with the closest known ids.
    """
    for segment_id in (segment_map or {}).values():
        get_segment(segment_id)
    return segment_map


SegmentMap = Annotated[dict[int, str] | None, AfterValidator(check_segment_map)]
"""A module parameter: an optional label value -> segment id map whose ids are checked against the registry."""
