"""Helpers shared by the nnU-Net v1 and v2 runners: label maps, model folders, quiet nnU-Net calls."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import types
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, field_validator, model_validator

from mhubio.core.errors import ConfigError, WeightsError
from mhubio.core.fileio import sha256_file
from mhubio.core.module import RunContext
from mhubio.core.params import Params
from mhubio.segdb import get_segment
from mhubio.weights import require_weights


def check_segment_ids(label_map: Mapping[int, str]) -> dict[int, str]:
    """Validate a label value -> segment id map against the segment registry.

    Raises
    ------
    ValueError
        If the map is empty, a value is not positive, or a segment id is unknown (with suggestions).
    """
    if not label_map:
        raise ValueError("label_map must map at least one label value to a segment id")
    problems = [f"label value {value} must be positive" for value in label_map if value <= 0]
    for value, segment_id in label_map.items():
        try:
            get_segment(segment_id)
        except KeyError as exc:
            problems.append(f"label {value}: {exc.args[0]}")
    if problems:
        raise ValueError("; ".join(problems))
    return dict(sorted(label_map.items()))


def _normalized(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def match_label_map(label_map: Mapping[int, str], model_labels: Mapping[int, str | None], step: str,
                    source: Path, check_names: bool = True) -> None:
    """Check that the workflow's label map describes the model's labels exactly.

    Parameters
    ----------
    label_map:
        Label value -> segment id, from the workflow.
    model_labels:
        Foreground label value -> class name of the model (``None`` where the model stores no name).
    step:
        Step id, named in the error.
    source:
        File the model labels were read from, named in the error.
    check_names:
        Also require each class name to match its segment id or the segment's label (case and separators
        ignored), so that a map with swapped values is caught.

    Raises
    ------
    ConfigError
        Listing every missing, extra or mismatched label.
    """
    problems = []
    missing = sorted(set(model_labels) - set(label_map))
    extra = sorted(set(label_map) - set(model_labels))
    if missing:
        problems.append(f"{step}: label_map has no segment for model label(s) "
                        + ", ".join(f"{v} ({model_labels[v] or 'unnamed'})" for v in missing))
    if extra:
        problems.append(f"{step}: label_map names label value(s) {extra} that the model does not produce "
                        f"(model labels: {sorted(model_labels)})")
    if check_names:
        for value in sorted(set(label_map) & set(model_labels)):
            name = model_labels[value]
            if name is None:
                continue
            segment = get_segment(label_map[value])
            if _normalized(name) not in {_normalized(segment.id), _normalized(segment.label)}:
                problems.append(f"{step}: label {value} is {name!r} in the model but label_map says "
                                f"{label_map[value]} ({segment.label})")
    if problems:
        raise ConfigError([*problems, f"model labels read from {source}"])


class NnunetParams(Params):
    """Parameters common to the nnU-Net runners: where the model is, and its label map.

    Exactly one of ``weights`` (an entry of the model's ``mhub.toml``, installed by ``mhub weights fetch``) and
    ``results_folder`` (a local folder, absolute or relative to the model folder) names the nnU-Net results
    root, the folder nnU-Net calls ``nnUNet_results`` (v2) or ``RESULTS_FOLDER`` (v1).
    """

    weights: str | None = Field(None, description="weights entry of mhub.toml holding the results root")
    results_folder: str | None = Field(None, description="local results root (absolute or relative to the model)")
    label_map: dict[int, str] = Field(description="label value -> segment id, e.g. {1: HEART}")
    algorithm_name: str = Field("nnU-Net", min_length=1, description="algorithm name written to SEG and report")

    @field_validator("label_map")
    @classmethod
    def _known_segments(cls, value: dict[int, str]) -> dict[int, str]:
        return check_segment_ids(value)

    @model_validator(mode="after")
    def _one_source(self) -> NnunetParams:
        if (self.weights is None) == (self.results_folder is None):
            raise ValueError("give exactly one of 'weights' (mhub.toml entry) and 'results_folder' (local folder)")
        return self


@dataclass(frozen=True)
class ResultsRoot:
    """An nnU-Net results root and, when installed by mhub, the sha256 of its files."""

    path: Path
    digests: Mapping[str, str] = field(default_factory=dict)

    def digests_of(self, files: Iterable[Path]) -> dict[str, str]:
        """Path relative to the root -> sha256, from the install stamp where known, else computed."""
        result = {}
        for f in files:
            rel = f.relative_to(self.path).as_posix()
            result[rel] = self.digests.get(rel) or sha256_file(f)
        return result


def locate_results_root(params: NnunetParams, context: RunContext, step: str) -> ResultsRoot:
    """The results root named by ``params``; it must exist.

    Raises
    ------
    WeightsError
        If the weights entry is not installed or the local folder does not exist.
    ConfigError
        If the weights entry is not declared, or a relative folder has no model folder to resolve against.
    """
    if params.weights is not None:
        if context.model.directory is None:
            raise ConfigError(f"{step}: weights {params.weights!r} need the model folder with its mhub.toml")
        installed = require_weights(context, context.model.directory, params.weights)
        return ResultsRoot(installed.path, dict(installed.files))
    assert params.results_folder is not None
    folder = Path(params.results_folder).expanduser()
    if not folder.is_absolute():
        if context.model.directory is None:
            raise ConfigError(f"{step}: results_folder {folder} is relative but the workflow has no model folder")
        folder = context.model.directory / folder
    if not folder.is_dir():
        raise WeightsError(f"{step}: nnU-Net results folder {folder} does not exist")
    return ResultsRoot(folder)


def require_files(files: Iterable[Path], step: str) -> list[Path]:
    """Every file must exist; otherwise one :class:`WeightsError` lists the missing ones."""
    files = list(files)
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise WeightsError(f"{step}: model file(s) missing: {', '.join(missing)}")
    return files


def remove_small_components(label_map: np.ndarray, for_which_classes: Sequence[int | Sequence[int]],
                            voxel_volume: float, min_valid_sizes: Mapping[Any, float] | None = None) -> np.ndarray:
    """nnU-Net v1's ``postprocessing.json`` step: keep the largest connected component of each class.

    Same result as ``nnunet.postprocessing.connected_components.remove_all_but_the_largest_connected_component``
    (6-connectivity; classes in order, each on the result of the previous; a tuple is one joint region;
    components as large as the largest are kept; with ``min_valid_sizes`` only components smaller than the
    class's size in mm³ are removed), but linear in the number of voxels: nnU-Net compares the whole volume
    once per component, which takes hours on a fragmented prediction of a full CT.

    Returns
    -------
    numpy.ndarray
        A new label map.
    """
    import cc3d

    result = label_map.copy()
    for group in for_which_classes:
        key = tuple(group) if isinstance(group, list | tuple) else group
        mask = np.isin(result, key if isinstance(key, tuple) else (key,))
        components = cc3d.connected_components(mask, connectivity=6)
        sizes = np.bincount(components.ravel())[1:] * voxel_volume
        if sizes.size == 0:
            continue
        remove = sizes != sizes.max()
        if min_valid_sizes is not None:
            remove &= sizes < min_valid_sizes[key]
        result[np.isin(components, np.flatnonzero(remove) + 1)] = 0
    return result


@contextlib.contextmanager
def captured_stdout(logger: logging.Logger) -> Iterator[None]:
    """Run nnU-Net code that prints progress; its output goes to ``logger`` at DEBUG level."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        text = buffer.getvalue().strip()
        if text:
            logger.debug("nnU-Net output:\n%s", text)


@contextlib.contextmanager
def full_unpickling() -> Iterator[None]:
    """Let ``torch.load`` unpickle whole objects while the block runs.

    nnU-Net v1 calls ``torch.load`` without ``weights_only``; since torch 2.6 that defaults to ``True`` and
    rejects the numpy objects in v1 checkpoints. The environment variable that restores the old default is set
    only for the duration of the block, so later loads keep torch's safe default.
    """
    name = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"
    previous = os.environ.get(name)
    os.environ[name] = "1"
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=f"Environment variable {name} detected")
            yield
    finally:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous


def skip_primus_trainers() -> None:
    """Keep nnU-Net v2's trainer lookup away from the Primus trainers.

    ``recursive_find_trainer_class_by_name`` imports every module under ``nnunetv2.training.nnUNetTrainer``
    until it finds the class; ``primus/primus_trainers.py`` imports torchvision, and the torchvision wheel on
    PyPI is a CUDA build that crashes on import beside the CPU build of torch. Registering an empty module
    under that name before the lookup makes the import a no-op. Primus trainers are then not loadable,
    which no model of this project uses. A real, already imported module is left alone.
    """
    name = "nnunetv2.training.nnUNetTrainer.primus.primus_trainers"
    if name not in sys.modules:
        sys.modules[name] = types.ModuleType(name, "placeholder: Primus trainers are not supported by mhubio")
