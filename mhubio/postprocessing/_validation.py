"""Input checks shared by the post-processing functions.

Every public function of :mod:`mhubio.postprocessing` validates its inputs with
these helpers so that a wrong array, spacing or label fails with a message that
names the argument and says how to fix it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from enum import Enum, IntEnum
from typing import Any, Literal, TypeVar, cast

import numpy as np

Spacing = Sequence[float]
"""Voxel spacing in mm, ordered (x, y, z) as ``SimpleITK.Image.GetSpacing()`` returns it."""


E = TypeVar("E", bound=Enum)


class Connectivity(IntEnum):
    """Neighbourhood that joins two foreground voxels into one component (3-D)."""

    FACE = 6
    """Voxels sharing a face."""
    EDGE = 18
    """Voxels sharing a face or an edge."""
    VERTEX = 26
    """Voxels sharing a face, an edge or a corner."""

    @property
    def cc3d(self) -> Literal[6, 18, 26]:
        """The value as :func:`cc3d.connected_components` takes it."""
        return cast(Literal[6, 18, 26], int(self))


def check_label_map(label_map: object, name: str = "label_map") -> np.ndarray:
    """Return ``label_map`` if it is a 3-D integer or boolean numpy array.

    Raises
    ------
    TypeError
        If it is not a numpy array or has a non-integer dtype.
    ValueError
        If it is not 3-D or holds negative values.
    """
    if not isinstance(label_map, np.ndarray):
        raise TypeError(
            f"{name} must be a numpy array (z, y, x), e.g. from SimpleITK.GetArrayFromImage; "
            f"got {type(label_map).__name__}"
        )
    if label_map.ndim != 3:
        raise ValueError(f"{name} must be 3-D (z, y, x); got shape {label_map.shape}")
    if label_map.dtype.kind not in "biu":
        raise TypeError(
            f"{name} must have an integer or bool dtype; got {label_map.dtype}. "
            "Round and cast a float label map first, e.g. np.rint(a).astype(np.uint8)"
        )
    if label_map.dtype.kind == "i" and label_map.size and label_map.min() < 0:
        raise ValueError(
            f"{name} holds negative values (min {label_map.min()}); label maps are >= 0, "
            "so this looks like an image (e.g. CT in HU) passed as a label map"
        )
    return label_map


def check_mask(mask: object, shape: tuple[int, ...], name: str = "mask") -> np.ndarray:
    """Return ``mask`` if it is a boolean numpy array of the given shape.

    Raises
    ------
    TypeError
        If it is not a boolean numpy array.
    ValueError
        If its shape differs from ``shape``.
    """
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"{name} must be a boolean numpy array; got {type(mask).__name__}")
    if mask.dtype != np.bool_:
        raise TypeError(
            f"{name} must have dtype bool; got {mask.dtype}. Build it with a comparison, "
            "e.g. label_map > 0, or with region_from_labels()"
        )
    if mask.shape != shape:
        raise ValueError(
            f"{name} has shape {mask.shape} but the label map has shape {shape}; "
            "resample it onto the label map grid first"
        )
    return mask


def check_binary_volume(mask: object, name: str = "mask") -> np.ndarray:
    """Return ``mask`` if it is a 3-D boolean numpy array.

    Raises
    ------
    TypeError
        If it is not a boolean numpy array.
    ValueError
        If it is not 3-D.
    """
    if isinstance(mask, np.ndarray) and mask.ndim != 3:
        raise ValueError(f"{name} must be 3-D (z, y, x); got shape {mask.shape}")
    return check_mask(mask, getattr(mask, "shape", ()), name)


def check_spacing(spacing: object) -> tuple[float, float, float]:
    """Return the spacing as three positive floats in (x, y, z) order.

    Raises
    ------
    ValueError
        If it does not hold exactly three positive finite numbers.
    """
    try:
        values = tuple(float(s) for s in cast(Iterable[Any], spacing))
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"spacing must be three numbers (x, y, z) in mm; got {spacing!r}"
        ) from error
    if len(values) != 3 or not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(
            f"spacing must be three positive finite numbers (x, y, z) in mm, "
            f"as SimpleITK.Image.GetSpacing() returns; got {spacing!r}"
        )
    return values


def spacing_zyx(spacing: Spacing) -> np.ndarray:
    """Return a validated (x, y, z) spacing reordered to array axis order (z, y, x)."""
    x, y, z = check_spacing(spacing)
    return np.array([z, y, x], dtype=np.float64)


def check_choice(value: object, choices: type[E], name: str) -> E:
    """Return ``value`` as a member of the enum ``choices``.

    Raises
    ------
    ValueError
        Naming the argument and the allowed values if ``value`` is not one of them.
    """
    try:
        return choices(value)
    except ValueError as error:
        allowed = ", ".join(repr(member.value) for member in choices)
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}") from error


def check_connectivity(connectivity: int) -> Connectivity:
    """Return ``connectivity`` as a :class:`Connectivity`.

    Raises
    ------
    ValueError
        If it is not 6, 18 or 26.
    """
    try:
        return Connectivity(connectivity)
    except ValueError as error:
        raise ValueError(
            f"connectivity must be 6, 18 or 26 (3-D neighbourhood); got {connectivity!r}"
        ) from error


def check_value_fits(value: int, dtype: np.dtype, name: str) -> int:
    """Return ``value`` if it can be stored in arrays of ``dtype`` without wrapping.

    Raises
    ------
    ValueError
        If the value is out of the dtype's range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    value = int(value)
    if dtype == np.bool_:
        low, high = 0, 1
    else:
        info = np.iinfo(dtype)
        low, high = int(info.min), int(info.max)
    if not low <= value <= high:
        raise ValueError(
            f"{name}={value} does not fit the label map dtype {dtype} (range {low}..{high}); "
            "cast the label map to a wider integer dtype first"
        )
    return value


def check_fill_label(fill_label: int, dtype: np.dtype) -> int:
    """Return ``fill_label`` if it is >= 0 and fits ``dtype`` (0 is allowed: background).

    Raises
    ------
    ValueError
        If it is negative or out of the dtype's range.
    TypeError
        If it is not an integer.
    """
    fill_label = check_value_fits(fill_label, dtype, "fill_label")
    if fill_label < 0:
        raise ValueError(f"fill_label must be >= 0; got {fill_label}")
    return fill_label


def check_labels(labels: Iterable[int], dtype: np.dtype, name: str = "labels") -> tuple[int, ...]:
    """Return ``labels`` as a tuple of distinct positive integers that fit ``dtype``.

    Raises
    ------
    ValueError
        If it is empty, repeats a label, contains 0 (background) or a negative value,
        or a value out of the dtype's range.
    TypeError
        If a label is not an integer.
    """
    if isinstance(labels, (int, np.integer)):
        raise TypeError(f"{name} must be a sequence of integers, e.g. [{labels}]; got {labels!r}")
    values = tuple(check_value_fits(v, dtype, name) for v in labels)
    if not values:
        raise ValueError(f"{name} must name at least one label")
    if len(set(values)) != len(values):
        raise ValueError(f"{name} repeats a label: {list(values)}")
    if any(v <= 0 for v in values):
        raise ValueError(f"{name} must be positive (0 is background); got {list(values)}")
    return values


def bincount_small(label_map: np.ndarray) -> np.ndarray | None:
    """Voxel count per value for bool, uint8 and uint16 maps (fast); None for other dtypes."""
    if label_map.dtype == np.bool_:
        return np.bincount(label_map.ravel().view(np.uint8), minlength=2)
    if label_map.dtype in (np.uint8, np.uint16):
        return np.bincount(label_map.ravel())
    return None


def present_values(label_map: np.ndarray) -> np.ndarray:
    """Return the distinct values of ``label_map``, ascending."""
    counts = bincount_small(label_map)
    if counts is None:
        return np.unique(label_map)
    return np.flatnonzero(counts).astype(label_map.dtype)


def foreground_labels(label_map: np.ndarray) -> tuple[int, ...]:
    """Return the non-zero values present in ``label_map``, ascending."""
    return tuple(int(v) for v in present_values(label_map) if v != 0)


def selected_labels(label_map: np.ndarray, labels: Iterable[int] | None) -> tuple[int, ...]:
    """Return ``labels`` checked against the dtype of ``label_map``; if None, its foreground labels."""
    return foreground_labels(label_map) if labels is None else check_labels(labels, label_map.dtype)
