"""Ensemble fold predictions by majority vote (BAMF: 5 folds, 3 must agree)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from mhubio.core.data import AlgorithmInfo, DataItem, Instance
from mhubio.core.errors import StepError
from mhubio.core.filetypes import FileType
from mhubio.core.module import Input, Module, Output
from mhubio.core.params import Params
from mhubio.modules.processors.labelmap import read_label_map, same_grid, write_label_map
from mhubio.postprocessing import DEFAULT_VOTE_THRESHOLD, majority_vote


class MajorityVote(Module):
    """Combine the label maps of ``folds`` folds: a voxel gets a label where at least
    ``threshold`` of the folds give it that label.

    Every fold must be on one grid and carry the same label table. With more than
    one label the threshold must exceed 0.5 so that at most one label can win a
    voxel. See :func:`mhubio.postprocessing.majority_vote`.
    """

    class Params(Params):
        folds: Annotated[int, Field(ge=2)]
        """Number of fold predictions expected; any other count is an error."""
        threshold: Annotated[float, Field(gt=0, le=1)] = DEFAULT_VOTE_THRESHOLD

    inputs = {"folds": Input("nifti:mod=seg:fold=*", many=True, description="one label map per fold",
                                needs_file=False)}

    def declare_outputs(self) -> Mapping[str, Output]:
        """The ensemble label map: ``fold=ensemble``, ``processed=<step id>``."""
        meta = {"mod": "seg", "fold": "ensemble", "processed": self.step_id}
        return {"segmentation": Output(FileType.NIFTI, meta, inherit="folds")}

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Vote label by label and write the ensemble label map."""
        items: list[DataItem] = inputs["folds"]
        if len(items) != self.params.folds:
            raise StepError(
                f"expected {self.params.folds} fold predictions, found {len(items)}: "
                f"{', '.join(map(str, items)) or 'none'}"
            )
        maps = [read_label_map(item) for item in items]
        first = maps[0]
        for other in maps[1:]:
            if dict(other.table) != dict(first.table):
                raise StepError(
                    f"{other.name} has labels ({other.describe_table()}) unlike {first.name} "
                    f"({first.describe_table()})"
                )
            if not same_grid(other.image, first.image):
                raise StepError(f"{other.name} is not on the grid of {first.name}")
        if len(first.table) > 1 and self.params.threshold <= 0.5:
            raise StepError(
                f"threshold {self.params.threshold} lets two labels win one voxel; use > 0.5 with "
                f"{len(first.table)} labels"
            )
        dtype = np.result_type(*(m.array.dtype for m in maps))
        result = np.zeros(first.array.shape, dtype=dtype)
        for value in first.table:
            votes = majority_vote([m.array == value for m in maps], self.params.threshold)
            result[votes] = value
        output = outputs["segmentation"]
        shared = {k: v for k, v in items[0].meta.items() if all(i.meta.get(k) == v for i in items)}
        output.meta.update({k: v for k, v in shared.items() if k not in ("roi", "fold", "processed")})
        output.algorithm = _ensemble_algorithm(items, self.params.threshold)
        write_label_map(first.with_array(result), output)


def _ensemble_algorithm(items: list[DataItem], threshold: float) -> AlgorithmInfo | None:
    """The folds' algorithm with the folds and weights of all of them; ``None`` if they differ by name."""
    algorithms = [i.algorithm for i in items if i.algorithm is not None]
    if len(algorithms) != len(items) or len({(a.name, a.version) for a in algorithms}) != 1:
        return None
    first = algorithms[0]
    folds = ",".join(a.parameters.get("folds", "?") for a in algorithms)
    weights = {k: v for a in algorithms for k, v in a.weights.items()}
    parameters = {**first.parameters, "folds": folds, "vote_threshold": str(threshold)}
    return AlgorithmInfo(first.name, first.version, first.family, parameters, weights, first.type)
