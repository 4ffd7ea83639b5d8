"""Ensembling of binary fold predictions by majority vote."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mhubio.postprocessing._validation import check_label_map

DEFAULT_VOTE_THRESHOLD = 0.6
"""Fraction of folds that must agree, as in the published BAMF ensembling code."""


def majority_vote(masks: Sequence[np.ndarray], threshold: float = DEFAULT_VOTE_THRESHOLD) -> np.ndarray:
    """Combine N binary fold masks: a voxel is set where ``mean >= threshold``.

    With five folds and the default 0.6, a voxel is set if three or more folds set it.

    Parameters
    ----------
    masks:
        Binary (0/1 or bool) arrays (z, y, x) of one shape and one dtype.
    threshold:
        Fraction of folds in (0, 1].

    Returns
    -------
    numpy.ndarray
        The 0/1 result in the dtype of the inputs.
    """
    if isinstance(masks, np.ndarray) or len(masks) == 0:
        raise ValueError("masks must be a non-empty sequence of arrays, one per fold")
    for i, mask in enumerate(masks):
        check_label_map(mask, f"masks[{i}]")
    first = masks[0]
    for i, mask in enumerate(masks):
        if mask.shape != first.shape or mask.dtype != first.dtype:
            raise ValueError(
                f"masks[{i}] has shape {mask.shape} and dtype {mask.dtype}; fold masks must all "
                f"match masks[0] ({first.shape}, {first.dtype})"
            )
        if mask.dtype != np.bool_ and not np.isin(mask, (0, 1)).all():
            raise ValueError(
                f"masks[{i}] is not binary (values {np.unique(mask)[:10].tolist()}); "
                "threshold each fold to 0/1 or vote on one label at a time"
            )
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1]; got {threshold!r}")
    votes = np.zeros(first.shape, dtype=np.int64)
    for mask in masks:
        votes += mask.astype(bool)
    return (votes / len(masks) >= threshold).astype(first.dtype)
