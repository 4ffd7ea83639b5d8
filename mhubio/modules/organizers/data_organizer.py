"""DataOrganizer: copy selected data items to the output folder under templated names."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import field_validator

from mhubio.core.data import DataItem, Instance, OutputFile
from mhubio.core.errors import MissingOutputError, StepError
from mhubio.core.fileio import atomic_paths, sha256_file
from mhubio.core.module import Module
from mhubio.core.naming import RESERVED_PREFIX, UnsafeNameError, path_inside, safe_name
from mhubio.core.params import Params
from mhubio.core.query import Query

DEFAULT_TARGETS = {
    "dicomseg:mod=seg": "{SeriesInstanceUID}/{model}.seg.dcm",
    "dicomsr": "{SeriesInstanceUID}/{model}.{meta[kind]}.sr.dcm",
    "rtstruct": "{SeriesInstanceUID}/{model}.rtstruct.dcm",
}


class DataOrganizer(Module):
    """Write the selected items to the output folder.

    ``targets`` maps a query to a path template relative to the output folder.
    Templates use the instance's DICOM attributes (``{SeriesInstanceUID}``,
    ``{StudyInstanceUID}``, ``{Modality}``, ``{SeriesNumber}``), ``{model}``,
    ``{workflow}``, ``{step}`` (the producing step) and item metadata as
    ``{meta[key]}``.  Attribute and metadata values are data: each becomes one
    safe name (:func:`mhubio.core.naming.safe_name`), so a value can neither add
    folders nor leave the output folder, and no target may start with ``mhub_``
    (the run's own files).  All files of an instance are staged first and then
    renamed into place; if any fails, none is left behind.  A series for which
    no item matches any target fails, unless an earlier step left an optional
    output unwritten and warned why (e.g. no SEG: every segment is empty); other
    warnings (QC, library) excuse nothing: a series never ends done without
    outputs and without a reason.
    """

    class Params(Params):
        targets: dict[str, str] = DEFAULT_TARGETS

        @field_validator("targets")
        @classmethod
        def _valid(cls, value: dict[str, str]) -> dict[str, str]:
            for query, template in value.items():
                Query.parse(query)
                if Path(template).is_absolute() or ".." in Path(template).parts:
                    raise ValueError(f"target {template!r} must be a relative path inside the output folder")
            return value

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Stage and move every selected item."""
        plan: dict[Path, DataItem] = {}
        for query, template in self.params.targets.items():
            for item in instance.find(query):
                target = self._render(template, instance, item)
                if target in plan and plan[target] is not item:
                    raise StepError(f"two items would be written to {target.relative_to(self.context.output_dir)}")
                plan[target] = item
        explained = instance.why_without_outputs()
        if not plan and explained:
            instance.warn(f"no output item matched the DataOrganizer targets: {'; '.join(explained)}")
            return
        if not plan:
            raise MissingOutputError(
                f"no data item matched the DataOrganizer targets ({', '.join(self.params.targets)}) and no step "
                "said why it wrote nothing: the series would end without outputs"
            )
        with atomic_paths(list(plan)) as temporaries:
            for tmp, item in zip(temporaries, plan.values(), strict=True):
                _export(item, tmp)
        for target in plan:
            instance.outputs.append(
                OutputFile(target.relative_to(self.context.output_dir), sha256_file(target), target.stat().st_size)
            )

    def _render(self, template: str, instance: Instance, item: DataItem) -> Path:
        """The target path of ``item``: every field value is data and becomes one safe name."""
        fields = {
            **{key: safe_name(value) for key, value in instance.attributes.items()},
            "model": self.context.model.name,
            "workflow": self.context.workflow,
            "step": item.producer,
            "meta": _MissingMeta({key: safe_name(value) for key, value in item.meta.items()}),
        }
        try:
            rendered = template.format_map(_Fields(fields))
        except (KeyError, IndexError, ValueError) as exc:
            raise StepError(f"target template {template!r}: {exc}") from exc
        path = Path(rendered)
        if path.is_absolute() or ".." in path.parts or not rendered.strip():
            raise StepError(f"target template {template!r} gave an invalid path {rendered!r}")
        if path.parts[0].lower().startswith(RESERVED_PREFIX):
            raise StepError(f"target template {template!r} gave {rendered!r}, a name reserved for the run's own files")
        try:
            return path_inside(self.context.output_dir, rendered)
        except UnsafeNameError as exc:
            raise StepError(f"target template {template!r}: {exc}") from exc


def _export(item: DataItem, target: Path) -> None:
    """Copy the item's file to ``target``; a NIfTI image handed over in memory is written from memory, and an
    uncompressed NIfTI becomes ``.nii.gz`` if asked."""
    from_memory = item.image is not None and target.name.endswith((".nii", ".nii.gz"))
    to_compress = item.path.name.endswith(".nii") and target.name.endswith(".nii.gz")
    if from_memory or to_compress:
        import SimpleITK as sitk

        sitk.WriteImage(item.read_image(), str(target), useCompression=target.name.endswith(".gz"))
    else:
        shutil.copyfile(item.materialize(), target)


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        raise KeyError(f"unknown template field {{{key}}}")


class _MissingMeta(dict):
    def __missing__(self, key: str) -> str:
        raise KeyError(f"the item has no metadata {key!r} for {{meta[{key}]}}")
