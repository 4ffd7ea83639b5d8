"""Segment coding registry: segment ids -> SNOMED CT / NCIt codes, label and colour.

The data live in ``mhubio/segdb/data`` (see its README.md); they are read once
and cached.
"""

from mhubio.segdb.definition import CodingScheme, SegmentDefinition, is_valid_sctid
from mhubio.segdb.description import to_segment_description
from mhubio.segdb.registry import (
    SegmentMap,
    all_segments,
    check_segment_map,
    get_segment,
    label_map_names,
    load_label_map,
    segment_ids,
)

__all__ = [
    "SegmentMap",
    "check_segment_map",
    "CodingScheme",
    "SegmentDefinition",
    "all_segments",
    "get_segment",
    "is_valid_sctid",
    "label_map_names",
    "load_label_map",
    "segment_ids",
    "to_segment_description",
]
