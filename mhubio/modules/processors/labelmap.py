"""Shared machinery of the label-map processors.

A processor reads one NIfTI label map whose data item carries a label table
(label value -> segment id), applies a function of :mod:`mhubio.postprocessing`
and writes a new label map on the same grid. Labels in parameters are given as
label values (``2``) or segment ids (``LUNG_NODULE``); both are checked against
the segment registry when the workflow is loaded and against the input's label
table when the step runs, so a step wired to the wrong label map fails instead
of doing nothing.
"""

from __future__ import annotations

import abc
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import SimpleITK as sitk
from pydantic import AfterValidator, BeforeValidator

from mhubio import geometry
from mhubio.core.data import DataItem, Instance
from mhubio.core.errors import StepError
from mhubio.core.filetypes import FileType
from mhubio.core.module import Input, Module, Output
from mhubio.core.params import Params
from mhubio.postprocessing import label_voxel_counts
from mhubio.segdb import segment_ids

_GRID_TOLERANCE = 1e-4


def check_segment_id(value: str) -> str:
    """Return ``value`` if it is a segment id of :mod:`mhubio.segdb`."""
    known = segment_ids()
    if value in known:
        return value
    close = difflib.get_close_matches(value, known, n=3)
    if close:
        hint = f"did you mean {' or '.join(map(repr, close))}?"
    elif value.strip().isdigit():
        hint = "write label values as numbers, without quotes"
    else:
        hint = "see mhubio/segdb/data/segments.csv"
    raise ValueError(f"unknown segment id {value!r} ({hint})")


def _reject_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(f"a label must be a value or a segment id, got {value!r}")
    return value


def _check_label_ref(value: int | str) -> int | str:
    if isinstance(value, str):
        return check_segment_id(value)
    if value <= 0:
        raise ValueError(f"label values must be positive (0 is background), got {value}")
    return value


def _check_label_refs(values: list[int | str]) -> list[int | str]:
    if not values:
        raise ValueError("name at least one label")
    if len(set(values)) != len(values):
        raise ValueError(f"a label is repeated: {values}")
    return values


SegmentId = Annotated[str, AfterValidator(check_segment_id)]
"""A segment id known to :mod:`mhubio.segdb`."""
LabelRef = Annotated[int | str, BeforeValidator(_reject_bool), AfterValidator(_check_label_ref)]
"""A label: its value in the label map or its segment id."""
LabelRefs = Annotated[list[LabelRef], AfterValidator(_check_label_refs)]
"""A non-empty list of distinct labels."""


@dataclass(frozen=True)
class LabelMap:
    """A label map read from a data item: voxels, geometry and label table.

    Attributes
    ----------
    array:
        Label values (z, y, x), integer dtype.
    image:
        The image as read, for its geometry (spacing, origin, direction).
    table:
        Label value -> segment id.
    name:
        Description of the source item for messages.
    path:
        The item's file (its identity: an image handed over in memory may not be written yet).
    """

    array: np.ndarray
    image: sitk.Image
    table: Mapping[int, str]
    name: str
    path: Path

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel spacing (x, y, z) in mm."""
        return tuple(self.image.GetSpacing())

    def resolve(self, refs: Sequence[int | str] | None, parameter: str) -> tuple[int, ...]:
        """Label values of ``refs``; every declared label if ``refs`` is None.

        Raises
        ------
        StepError
            If a label value or segment id is not in the label table.
        """
        if refs is None:
            return tuple(self.table)
        return tuple(self.resolve_one(ref, parameter) for ref in refs)

    def resolve_one(self, ref: int | str, parameter: str) -> int:
        """Label value of one label value or segment id (see :meth:`resolve`)."""
        if isinstance(ref, str):
            values = [v for v, segment in self.table.items() if segment == ref]
            if len(values) == 1:
                return values[0]
            problem = "is not in" if not values else f"appears {len(values)} times in"
        elif ref in self.table:
            return ref
        else:
            problem = "is not in"
        raise StepError(
            f"parameter {parameter!r}: label {ref!r} {problem} the label table of {self.name} "
            f"({self.describe_table()}); check which label map the step's input query selects"
        )

    def describe_table(self) -> str:
        """The label table as ``1=LUNG, 2=LUNG_NODULE``."""
        return ", ".join(f"{v}={s}" for v, s in self.table.items()) or "empty"

    def with_array(self, array: np.ndarray, table: Mapping[int, str] | None = None) -> LabelMap:
        """A copy holding ``array`` (and ``table`` if given) on the same grid."""
        return replace(self, array=array, table=dict(self.table if table is None else table))


def read_label_map(item: DataItem) -> LabelMap:
    """Read a NIfTI label map and check it against its label table.

    A float label map with whole-number values is converted to the smallest
    unsigned integer type that holds them.

    Raises
    ------
    StepError
        If the item has no label table, is not 3-D, holds negative or non-integer
        values, or values that its label table does not declare.
    """
    name = str(item)
    if not item.labels:
        raise StepError(
            f"{name} carries no label table; the step that produced it must declare its labels "
            "(label value -> segment id)"
        )
    image = item.read_image()
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise StepError(f"{name} must be a 3-D scalar label map, got {image.GetDimension()}-D")
    array = sitk.GetArrayFromImage(image)
    if array.dtype.kind == "f":
        if not np.array_equal(array, np.rint(array)) or (array.size and array.min() < 0):
            raise StepError(f"{name} holds non-integer or negative values; it is not a label map")
        array = array.astype(np.min_scalar_type(int(array.max()) if array.size else 0))
    try:
        present = label_voxel_counts(array)
    except ValueError as error:
        raise StepError(f"{name}: {error}") from error
    undeclared = sorted(set(present) - set(item.labels))
    if undeclared:
        raise StepError(
            f"{name} holds label values {undeclared[:20]} that its label table does not declare "
            f"({', '.join(f'{v}={s}' for v, s in item.labels.items())})"
        )
    return LabelMap(array, image, dict(item.labels), name, item.path)


def write_label_map(label_map: LabelMap, item: DataItem) -> None:
    """Hand ``label_map`` over in ``item`` (see :meth:`~mhubio.core.data.DataItem.write_image`) and set the
    item's label table."""
    image = sitk.GetImageFromArray(label_map.array)
    image.CopyInformation(label_map.image)
    item.write_image(image)
    item.set_labels(label_map.table)


def same_grid(a: sitk.Image, b: sitk.Image) -> bool:
    """Whether two label maps share a grid, within the processors' tolerance (see :func:`mhubio.geometry.same_grid`)."""
    return geometry.same_grid(a, b, tolerance_mm=_GRID_TOLERANCE, direction_tolerance=_GRID_TOLERANCE)


def read_region(
    item: DataItem, refs: Sequence[int | str], target: LabelMap, target_labels: Sequence[int]
) -> np.ndarray:
    """The boolean region of ``refs`` in the label map ``item``, on the grid of ``target``.

    Raises
    ------
    StepError
        If the region map is on another grid, a region label is not in its label
        table, or the region is made of the very labels it should restrict.
    """
    region_map = read_label_map(item)
    if not same_grid(region_map.image, target.image):
        raise StepError(
            f"region {region_map.name} is not on the grid of {target.name} "
            f"(size {region_map.image.GetSize()} vs {target.image.GetSize()}); resample it first"
        )
    values = region_map.resolve(refs, "region_labels")
    if item.path == target.path and set(values) & set(target_labels):
        raise StepError(
            f"region_labels {list(refs)} overlap the labels being restricted in the same label map "
            f"{target.name}; a label cannot be restricted to itself"
        )
    return np.isin(region_map.array, values)


class LabelMapProcessor(Module, metaclass=abc.ABCMeta):
    """A step that turns the label map ``segmentation`` into a new one on the same grid.

    Subclasses implement :meth:`transform`; reading, validation, logging of the
    voxel counts per label and the hand-over to later steps are done here. The output carries
    ``processed=<step id>`` so that a workflow can select the result of one step.
    """

    inputs = {"segmentation": Input("nifti:mod=seg", description="label map with a label table", needs_file=False)}

    def declare_outputs(self) -> Mapping[str, Output]:
        """The processed label map: the input's metadata plus ``processed=<step id>``."""
        return {"segmentation": self.output_declaration()}

    def output_declaration(self, **meta: str) -> Output:
        """Declaration of the output label map, with extra metadata ``meta``."""
        return Output(FileType.NIFTI, {"processed": self.step_id, **meta}, inherit="segmentation")

    @abc.abstractmethod
    def transform(self, label_map: LabelMap, inputs: Mapping[str, Any]) -> LabelMap:
        """Return the processed label map; raise ``StepError`` on a mis-wired input."""

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Read, transform, log what changed and write the label map."""
        source = read_label_map(inputs["segmentation"])
        result = self.transform(source, inputs)
        before, after = label_voxel_counts(source.array), label_voxel_counts(result.array)
        changes = [
            f"{v}={result.table.get(v, source.table.get(v, '?'))}: {before.get(v, 0)} -> {after.get(v, 0)}"
            for v in sorted(set(before) | set(after))
            if before.get(v, 0) != after.get(v, 0)
        ]
        instance.log.info(
            "%s: voxels per label %s", self.step_id, "; ".join(changes) if changes else "unchanged"
        )
        write_label_map(result, outputs["segmentation"])


class RegionParams(Params):
    """Parameters of a step that acts on ``labels`` relative to the region ``region_labels``."""

    labels: LabelRefs
    region_labels: LabelRefs
    allow_empty_region: bool = False


class RegionProcessor(LabelMapProcessor):
    """A label-map step that also reads a region from the label map ``region`` on the same grid.

    Subclasses extend :class:`RegionParams` and call :meth:`labels_and_region` in
    :meth:`transform`.
    """

    inputs = {
        **LabelMapProcessor.inputs,
        "region": Input("nifti:mod=seg", description="label map holding the region labels", needs_file=False),
    }
    Params = RegionParams

    def labels_and_region(
        self, label_map: LabelMap, inputs: Mapping[str, Any]
    ) -> tuple[tuple[int, ...], np.ndarray]:
        """Label values of ``labels`` and the boolean region of ``region_labels`` (see :func:`read_region`)."""
        labels = label_map.resolve(self.params.labels, "labels")
        self.check_region_input(label_map, inputs)
        return labels, read_region(inputs["region"], self.params.region_labels, label_map, labels)

    def check_region_input(self, label_map: LabelMap, inputs: Mapping[str, Any]) -> None:
        """Raise ``StepError`` if the input ``region`` cannot serve this step; any region map may by default."""
