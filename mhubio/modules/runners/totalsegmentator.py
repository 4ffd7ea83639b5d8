"""TotalSegmentatorRunner: whole-body CT segmentation with TotalSegmentator (nnU-Net v2).

TotalSegmentator is called through its Python API
(``totalsegmentator.python_api.totalsegmentator``) so that its own
pre-processing (reorientation, resampling to 1.5 mm or 3 mm, cropping),
the combination of the five part models and its post-processing stay exactly
those of the release.  The weights come from the model's ``mhub.toml``
entries, installed by ``mhub weights fetch``: each entry is one
``DatasetNNN_*`` folder of the release, and pointing TotalSegmentator at
their common parent stops it from downloading.  Usage statistics are
switched off in a private TotalSegmentator home inside the run's work folder.

The API builds a new nnU-Net predictor and loads its checkpoint on every call,
for each part model.  While the runner calls it, TotalSegmentator's reference
to ``nnUNetPredictor`` is swapped for a subclass that keeps the loaded networks
of the run (:class:`PredictorCache`), so each checkpoint is read once per run
and not once per series; the API, with the release's pre- and post-processing,
is otherwise used unchanged.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import field_validator

from mhubio.core.algorithm import AlgorithmFamily
from mhubio.core.data import AlgorithmInfo, DataItem, Instance
from mhubio.core.errors import ConfigError, StepError
from mhubio.core.fileio import atomic_path
from mhubio.core.filetypes import FileType
from mhubio.core.module import Input, Module, Output
from mhubio.core.params import Params
from mhubio.core.registry import unknown_name_message
from mhubio.modules.runners.device import DeviceChoice, select_device
from mhubio.modules.runners.nnunet_common import captured_stdout, skip_primus_trainers
from mhubio.weights import InstalledWeights, require_weights

log = logging.getLogger("mhub.runners.totalsegmentator")

LABEL_MAPS = {"total": "totalsegmentator_total"}
"""TotalSegmentator task -> segdb label map (class name -> segment id)."""

_ENV_KEYS = ("TOTALSEG_HOME_DIR", "TOTALSEG_WEIGHTS_PATH", "nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results")


class TotalSegmentatorRunner(Module):
    """Segment a CT with TotalSegmentator into one multi-label map on the CT grid.

    Every label value is mapped to a segment id of :mod:`mhubio.segdb` class by
    class through TotalSegmentator's class map; with ``roi_subset`` only those
    classes are kept (TotalSegmentator then crops with its 6 mm model, or the
    3 mm one with ``robust_crop``).
    """

    class Params(Params):
        task: Literal["total"] = "total"
        fast: bool = False
        roi_subset: list[str] | None = None
        robust_crop: bool = False
        device: DeviceChoice = DeviceChoice.AUTO

        @field_validator("roi_subset")
        @classmethod
        def _known_classes(cls, value: list[str] | None) -> list[str] | None:
            if value is None:
                return None
            if not value:
                raise ValueError("roi_subset must name at least one class (or be omitted)")
            from totalsegmentator.map_to_binary import class_map

            known = set(class_map["total"].values())
            unknown = [
                unknown_name_message("TotalSegmentator class", name, known) for name in value if name not in known
            ]
            if unknown:
                raise ValueError("; ".join(unknown))
            return list(dict.fromkeys(value))

    inputs = {"ct": Input("nifti:mod=ct", description="CT volume in HU")}
    outputs = {
        "segmentation": Output(
            FileType.NIFTI, {"mod": "seg", "model": "totalsegmentator"}, inherit="ct",
            description="multi-label map on the CT grid",
        )
    }

    def setup(self) -> None:
        """Start the run's cache of loaded networks."""
        self.predictors = PredictorCache()

    def teardown(self) -> None:
        """Release the loaded networks."""
        self.predictors = PredictorCache()

    def preflight(self) -> None:
        """Check that every class has a segment id and that all needed weights are installed."""
        self.labels = class_labels(self.params.task, self.params.roi_subset)
        model_dir = self.context.model.directory
        if model_dir is None:
            raise ConfigError(f"{self.step_id}: the workflow has no model folder, so its mhub.toml cannot be read")
        self.weights = [require_weights(self.context, model_dir, name) for name in self.dataset_folders()]
        roots = {w.path.parent for w in self.weights}
        misplaced = [w for w in self.weights if w.path.name != w.name]
        if len(roots) != 1 or misplaced:
            raise ConfigError(
                f"{self.step_id}: TotalSegmentator needs its DatasetNNN_* folders side by side, each named like "
                f"its mhub.toml entry; got {', '.join(str(w.path) for w in self.weights)}"
            )
        self.weights_root = roots.pop()

    def dataset_folders(self) -> list[str]:
        """Release folders (= weights entries) this configuration reads."""
        from totalsegmentator.map_tasks_config import TASK_CONFIGS, TASK_ID_WEIGHTS_CONFIGS

        mode = "fast" if self.params.fast else "default"
        ids = TASK_CONFIGS[self.params.task]["sub_modes"][mode]["task_id"]
        ids = list(ids) if isinstance(ids, list) else [ids]
        if self.params.roi_subset is not None:
            ids.append(297 if self.params.robust_crop else 298)
        return [TASK_ID_WEIGHTS_CONFIGS[i]["foldername"] for i in dict.fromkeys(ids)]

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Run TotalSegmentator on the CT and write the label map with its segment ids."""
        import nibabel as nib
        import numpy as np

        device = "gpu" if select_device(self.params.device, self.step_id).type == "cuda" else "cpu"
        ct: DataItem = inputs["ct"]
        home = Path(self.context.work_dir) / "totalsegmentator-home"
        with totalsegmentator_environment(home, self.weights_root):
            result, device = self._predict(ct.path, device, instance)
        data = np.asarray(result.dataobj)
        unexpected = sorted(set(np.unique(data).tolist()) - {0} - set(self.labels))
        if unexpected:
            raise StepError(f"TotalSegmentator returned label values {unexpected} outside its class map")
        item = outputs["segmentation"]
        image = nib.Nifti1Image(data.astype(np.uint8), result.affine)
        image.set_qform(result.affine, code=1)
        image.set_sform(result.affine, code=1)
        with atomic_path(item.path) as tmp:
            nib.save(image, tmp)
        item.set_labels(self.labels)
        item.algorithm = AlgorithmInfo(
            "TotalSegmentator",
            importlib.metadata.version("TotalSegmentator"),
            AlgorithmFamily.ARTIFICIAL_INTELLIGENCE,
            parameters={
                "task": self.params.task,
                "fast": str(self.params.fast),
                "roi_subset": ",".join(self.params.roi_subset or []),
                "robust_crop": str(self.params.robust_crop),
                "device": "cuda" if device == "gpu" else device,
            },
            weights=weight_hashes(self.weights),
        )

    def _predict(self, ct: Path, device: str, instance: Instance) -> tuple[Any, str]:
        """The label image and the device that produced it (``auto`` falls back to the CPU on GPU OOM)."""
        import torch

        try:
            return self._call(ct, device), device
        except torch.cuda.OutOfMemoryError:
            if device != "gpu" or self.params.device is not DeviceChoice.AUTO:
                raise
            instance.warn("TotalSegmentator ran out of GPU memory; repeating on the CPU")
            torch.cuda.empty_cache()
            return self._call(ct, "cpu"), "cpu"

    def _call(self, ct: Path, device: str):
        skip_primus_trainers()
        from totalsegmentator.python_api import totalsegmentator

        with captured_stdout(log), self.predictors.installed():
            return totalsegmentator(
                ct, None, ml=True, task=self.params.task, fast=self.params.fast, roi_subset=self.params.roi_subset,
                robust_crop=self.params.robust_crop, device=device, quiet=True, skip_saving=True,
                nr_thr_resamp=1, nr_thr_saving=1,
            )


class PredictorCache:
    """Loaded nnU-Net networks of one run, keyed by model folder, folds and checkpoint."""

    def __init__(self) -> None:
        self.loaded: dict[tuple[str, tuple[str, ...], str], tuple] = {}

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Make TotalSegmentator build predictors that reuse the networks of this cache."""
        import totalsegmentator.nnunet as ts_nnunet

        original = ts_nnunet.nnUNetPredictor
        cache = self

        class CachedPredictor(original):  # type: ignore[misc,valid-type]  # TotalSegmentator's class, found at run time
            def initialize_from_trained_model_folder(self, model_training_output_dir, use_folds,
                                                     checkpoint_name="checkpoint_final.pth"):
                folds = tuple(str(f) for f in use_folds) if use_folds is not None else ()
                key = (str(model_training_output_dir), folds, checkpoint_name)
                if key in cache.loaded:
                    self.manual_initialization(*cache.loaded[key])
                    return
                super().initialize_from_trained_model_folder(model_training_output_dir, use_folds, checkpoint_name)
                log.info("loaded nnU-Net model %s (folds %s)", model_training_output_dir, ", ".join(folds))
                cache.loaded[key] = (self.network, self.plans_manager, self.configuration_manager,
                                     self.list_of_parameters, self.dataset_json, self.trainer_name,
                                     self.allowed_mirroring_axes)

        ts_nnunet.nnUNetPredictor = CachedPredictor
        try:
            yield
        finally:
            ts_nnunet.nnUNetPredictor = original


def class_labels(task: str, roi_subset: list[str] | None = None) -> dict[int, str]:
    """Label value -> segment id for a TotalSegmentator task, class by class.

    Raises
    ------
    ConfigError
        A class of the task has no entry in the segdb label map.
    """
    from totalsegmentator.map_to_binary import class_map

    from mhubio.segdb import get_segment, load_label_map

    label_map = load_label_map(LABEL_MAPS[task])
    selected = {v: n for v, n in class_map[task].items() if roi_subset is None or n in roi_subset}
    missing = sorted(n for n in selected.values() if n not in label_map)
    if missing:
        raise ConfigError(f"segdb label map {LABEL_MAPS[task]} has no segment for TotalSegmentator classes {missing}")
    labels = {int(v): label_map[n] for v, n in selected.items()}
    for segment_id in labels.values():
        get_segment(segment_id)
    return labels


def weight_hashes(weights: list[InstalledWeights]) -> dict[str, str]:
    """``<dataset>/<checkpoint path>`` -> sha256 of every checkpoint of the loaded weights."""
    return {f"{w.name}/{rel}": sha for w in weights for rel, sha in w.files.items() if rel.endswith(".pth")}


@contextlib.contextmanager
def totalsegmentator_environment(home: Path, weights_root: Path) -> Iterator[None]:
    """Point TotalSegmentator at ``weights_root`` with usage statistics off; restore the environment after.

    TotalSegmentator overwrites the nnU-Net path variables in-process; they
    are restored on exit so that other runners of the same process are not
    affected.
    """
    saved = {key: os.environ.get(key) for key in _ENV_KEYS}
    home.mkdir(parents=True, exist_ok=True)
    config = {"totalseg_id": "totalseg_mhub", "send_usage_stats": False, "prediction_counter": 0,
              "statistics_disclaimer_shown": True}
    with atomic_path(home / "config.json") as tmp:
        tmp.write_text(json.dumps(config, indent=2))
    os.environ["TOTALSEG_HOME_DIR"] = str(home)
    os.environ["TOTALSEG_WEIGHTS_PATH"] = str(weights_root)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

