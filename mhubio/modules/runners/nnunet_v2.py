"""nnU-Net v2 inference in the running process, the model loaded once per run."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from mhubio.core.algorithm import AlgorithmFamily
from mhubio.core.data import AlgorithmInfo, DataItem, Instance
from mhubio.core.errors import ConfigError, StepError
from mhubio.core.fileio import atomic_path
from mhubio.core.filetypes import FileType
from mhubio.core.module import Input, Module, Output
from mhubio.modules.runners.device import DeviceChoice, select_device
from mhubio.modules.runners.nnunet_common import (
    NnunetParams,
    ResultsRoot,
    captured_stdout,
    locate_results_root,
    match_label_map,
    require_files,
    skip_primus_trainers,
)

Fold = int | Literal["all"]


class NnunetV2Runner(Module):
    """Segment an image with a trained nnU-Net v2 model (``nnUNetPredictor``).

    The model folder is ``<results_folder>/<dataset>/<trainer>__<plans>__<configuration>`` as written by
    ``nnUNetv2_train``. The network and the weights of every fold are loaded once, in :meth:`setup`, and reused
    for every series of the run. The label map written is on the grid of the input image; its label values
    are mapped to segment ids by ``label_map``, which must describe the model's ``dataset.json`` labels.
    """

    class Params(NnunetParams):
        dataset: str = Field(description="dataset folder name, e.g. Dataset901_DemoPhantom")
        configuration: str = "3d_fullres"
        trainer: str = "nnUNetTrainer"
        plans: str = "nnUNetPlans"
        folds: list[Fold] | None = Field(None, description="folds to ensemble; None = every fold folder present")
        checkpoint: str = "checkpoint_final.pth"
        use_mirroring: bool = Field(True, description="test-time augmentation by mirroring")
        tile_step_size: float = Field(0.5, gt=0.0, le=1.0)
        device: DeviceChoice = DeviceChoice.AUTO
        check_label_names: bool = Field(True, description="dataset.json class names must match the segment ids")

    inputs: ClassVar[Mapping[str, Input]] = {"image": Input("nifti:mod=ct", description="image to segment")}
    outputs: ClassVar[Mapping[str, Output]] = {
        "segmentation": Output(FileType.NIFTI, {"mod": "seg"}, inherit="image", description="label map"),
    }

    model_loads: ClassVar[int] = 0
    """Number of model loads in this process (all instances); tests assert one load per run."""

    def declare_outputs(self) -> Mapping[str, Output]:
        """The label map, with its segment ids known from ``label_map``."""
        roi = ",".join(self.params.label_map.values())
        return {"segmentation": Output(FileType.NIFTI, {"mod": "seg", "roi": roi}, inherit="image",
                                       description="label map")}

    @property
    def _log(self) -> logging.Logger:
        return logging.getLogger(f"mhub.module.{self.step_id}")

    def model_folder(self, root: ResultsRoot) -> Path:
        """The trained model folder named by the parameters (not checked)."""
        p = self.params
        return root.path / p.dataset / f"{p.trainer}__{p.plans}__{p.configuration}"

    def _checkpoints(self, folder: Path) -> list[tuple[Fold, Path]]:
        folds = self.params.folds
        if folds is None:
            found = sorted(d.name.removeprefix("fold_") for d in folder.glob("fold_*") if d.is_dir())
            folds = [f if f == "all" else int(f) for f in found]
            if not folds:
                raise ConfigError(f"{self.step_id}: no fold_* folders in {folder}")
        return [(f, folder / f"fold_{f}" / self.params.checkpoint) for f in folds]

    def preflight(self) -> None:
        """Check the model files and the label map before any data is read."""
        folder = self.model_folder(locate_results_root(self.params, self.context, self.step_id))
        files = require_files([folder / "dataset.json", folder / "plans.json"], self.step_id)
        require_files([path for _, path in self._checkpoints(folder)], self.step_id)
        dataset_json = json.loads(files[0].read_text())
        plans = json.loads(files[1].read_text())
        if self.params.configuration not in plans.get("configurations", {}):
            raise ConfigError(f"{self.step_id}: configuration {self.params.configuration!r} is not in {files[1]} "
                              f"(has {sorted(plans.get('configurations', {}))})")
        model_labels = _foreground_labels(dataset_json, files[0])
        match_label_map(self.params.label_map, model_labels, self.step_id, files[0], self.params.check_label_names)

    def setup(self) -> None:
        """Load the network and the weights of every fold (once per run)."""
        import torch

        with captured_stdout(self._log):  # nnU-Net v2 prints path warnings when imported
            from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

        p = self.params
        root = locate_results_root(p, self.context, self.step_id)
        folder = self.model_folder(root)
        checkpoints = self._checkpoints(folder)
        device = select_device(p.device, self.step_id)
        start = time.perf_counter()
        skip_primus_trainers()
        with captured_stdout(self._log):
            predictor = nnUNetPredictor(tile_step_size=p.tile_step_size, use_gaussian=True,
                                        use_mirroring=p.use_mirroring, perform_everything_on_device=True,
                                        device=device, verbose=False, verbose_preprocessing=False,
                                        allow_tqdm=False)
            predictor.initialize_from_trained_model_folder(str(folder), use_folds=tuple(f for f, _ in checkpoints),
                                                           checkpoint_name=p.checkpoint)
        self._predictor = predictor
        self._reader_writer = predictor.plans_manager.image_reader_writer_class
        self.load_seconds = time.perf_counter() - start
        type(self).model_loads += 1
        files = [folder / "dataset.json", folder / "plans.json", *(path for _, path in checkpoints)]
        self._algorithm = AlgorithmInfo(
            name=p.algorithm_name,
            family=AlgorithmFamily.ARTIFICIAL_INTELLIGENCE,
            version=self.context.model.version,
            parameters={
                "framework": f"nnunetv2 {version('nnunetv2')}", "torch": torch.__version__,
                "dataset": p.dataset, "configuration": p.configuration, "trainer": p.trainer, "plans": p.plans,
                "folds": ",".join(str(f) for f, _ in checkpoints), "checkpoint": p.checkpoint,
                "use_mirroring": str(p.use_mirroring), "tile_step_size": str(p.tile_step_size),
                "device": device.type,
            },
            weights=root.digests_of(files),
        )
        self._log.info("%s: loaded %s (%s, folds %s) on %s in %.2f s", self.step_id, p.dataset, p.configuration,
                       self._algorithm.parameters["folds"], device.type, self.load_seconds)

    def teardown(self) -> None:
        """Release the network."""
        self._predictor = None

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Predict the label map of one image and write it on the image's grid."""
        image: DataItem = inputs["image"]
        target = outputs["segmentation"]
        start = time.perf_counter()
        reader_writer = self._reader_writer()
        with captured_stdout(instance.log.logger):
            data, properties = reader_writer.read_images([str(image.path)])
            segmentation = self._predictor.predict_single_npy_array(data, properties)
        present = {int(v) for v in np.unique(segmentation)} - {0}
        unknown = sorted(present - set(self.params.label_map))
        if unknown:
            raise StepError(f"{self.step_id}: the model wrote label value(s) {unknown} that label_map does not name")
        with atomic_path(target.path) as tmp:
            reader_writer.write_seg(segmentation, str(tmp), properties)
        target.set_labels(self.params.label_map)
        target.algorithm = self._algorithm
        seconds = time.perf_counter() - start
        instance.log.info("%s: inference %.2f s; labels present: %s", self.step_id, seconds,
                          ", ".join(self.params.label_map[v] for v in sorted(present)) or "none")


def _foreground_labels(dataset_json: Mapping[str, Any], source: Path) -> dict[int, str | None]:
    """Label value -> class name of an nnU-Net v2 ``dataset.json`` (plain labels; regions are refused)."""
    labels = dataset_json.get("labels")
    if not isinstance(labels, dict):
        raise ConfigError(f"{source} has no 'labels' mapping")
    result: dict[int, str | None] = {}
    for name, value in labels.items():
        if not isinstance(value, int):
            raise ConfigError(f"{source}: label {name!r} is a region {value!r}; region-based models are not supported")
        if value != 0 and name != "ignore":
            result[value] = name
    return result
