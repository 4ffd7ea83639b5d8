"""Label remapping and merging with validation of source and target labels."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from enum import Enum

import numpy as np

from mhubio.postprocessing._validation import (
    bincount_small,
    check_choice,
    check_label_map,
    check_labels,
    check_value_fits,
    foreground_labels,
    present_values,
)

_LOOKUP_LIMIT = 1 << 16
"""Largest label value for which remapping uses a lookup table indexed by value."""


class Unmapped(str, Enum):
    """What happens to a label present in the map but absent from the mapping."""

    KEEP = "keep"
    """It keeps its value."""
    ZERO = "zero"
    """It becomes background."""
    ERROR = "error"
    """``ValueError`` is raised."""


def remap_labels(
    label_map: np.ndarray,
    mapping: Mapping[int, int],
    *,
    known_labels: Collection[int] | None = None,
    unmapped: Unmapped = Unmapped.ERROR,
) -> np.ndarray:
    """Replace label values by a mapping; several sources may share a target (merging).

    Parameters
    ----------
    label_map:
        Integer or bool label map (z, y, x).
    mapping:
        Source label -> target label. Sources must be positive; a target of 0
        removes the source label.
    known_labels:
        The labels the map is declared to hold (e.g. the model's label table). If
        given, every mapping source and every value found in the map must be one of
        them, so that a mapping written for another model fails instead of doing
        nothing.
    unmapped:
        Policy for labels present in the map but not in the mapping.

    Returns
    -------
    numpy.ndarray
        A new label map of the same dtype.

    Raises
    ------
    ValueError
        For an unknown source label, a value outside ``known_labels``, a target that
        does not fit the dtype, or an unmapped label under ``Unmapped.ERROR``.
    """
    check_label_map(label_map)
    if not isinstance(mapping, Mapping) or not mapping:
        raise ValueError(f"mapping must be a non-empty dict of source -> target labels; got {mapping!r}")
    sources = check_labels(list(mapping), label_map.dtype, "mapping source")
    targets = [check_value_fits(mapping[s], label_map.dtype, f"mapping target of {s}") for s in sources]
    if any(t < 0 for t in targets):
        raise ValueError(f"mapping targets must be >= 0; got {dict(mapping)}")
    unmapped = check_choice(unmapped, Unmapped, "unmapped")
    present = foreground_labels(label_map)
    if known_labels is not None:
        known = set(check_labels(known_labels, label_map.dtype, "known_labels"))
        unknown_sources = sorted(set(sources) - known)
        if unknown_sources:
            raise ValueError(
                f"mapping names labels {unknown_sources} that are not among the known labels "
                f"{sorted(known)}; check that the mapping was written for this label map"
            )
        undeclared = sorted(set(present) - known)
        if undeclared:
            raise ValueError(
                f"label map holds values {undeclared} that are not among the known labels {sorted(known)}"
            )
    leftover = sorted(set(present) - set(sources))
    if leftover and unmapped is Unmapped.ERROR:
        raise ValueError(
            f"label map holds labels {leftover} that the mapping does not cover; map them or "
            "choose unmapped='keep' or 'zero'"
        )
    table = dict(zip(sources, targets, strict=True))
    values = present_values(label_map)
    default = (lambda v: v) if unmapped is Unmapped.KEEP else (lambda v: 0)
    new_values = [table.get(int(v), default(int(v))) if v != 0 else 0 for v in values]
    if values.size and values[-1] <= _LOOKUP_LIMIT:
        lookup = np.zeros(int(values[-1]) + 1, dtype=label_map.dtype)
        lookup[values.astype(np.int64)] = new_values
        return lookup[label_map.view(np.uint8) if label_map.dtype == np.bool_ else label_map]
    positions = np.searchsorted(values, label_map)
    return np.asarray(new_values, dtype=label_map.dtype)[positions]

def label_voxel_counts(label_map: np.ndarray) -> dict[int, int]:
    """Return the voxel count of every non-zero label present in ``label_map``.

    Parameters
    ----------
    label_map:
        Integer or bool label map (z, y, x).

    Returns
    -------
    dict[int, int]
        Label value -> number of voxels, ascending by value.
    """
    check_label_map(label_map)
    small = bincount_small(label_map)
    if small is not None:
        return {int(v): int(small[v]) for v in np.flatnonzero(small) if v != 0}
    values, counts = np.unique(label_map, return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts, strict=True) if v != 0}


def merge_labels(label_map: np.ndarray, sources: Sequence[int], target: int) -> np.ndarray:
    """Give all ``sources`` the value ``target`` and leave other labels as they are.

    Parameters
    ----------
    label_map:
        Integer or bool label map (z, y, x).
    sources:
        Labels to merge (e.g. the three right lung lobes).
    target:
        The merged label (> 0).

    Returns
    -------
    numpy.ndarray
        A new label map of the same dtype.
    """
    check_label_map(label_map)
    (target,) = check_labels([target], label_map.dtype, "target")
    sources = check_labels(sources, label_map.dtype, "sources")
    return remap_labels(label_map, {s: target for s in sources}, unmapped=Unmapped.KEEP)
