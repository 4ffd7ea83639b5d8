"""nnU-Net v1 (``nnunet==1.7.1``) inference in the running process, the model loaded once per run."""

from __future__ import annotations

import logging
import pickle
import tempfile
import time
from collections.abc import Mapping
from enum import Enum
from importlib.metadata import version
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

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
    full_unpickling,
    locate_results_root,
    match_label_map,
    remove_small_components,
    require_files,
)
from mhubio.postprocessing import DEFAULT_VOTE_THRESHOLD, majority_vote


class V1Configuration(str, Enum):
    """Trained configurations of nnU-Net v1 that run on their own (the cascade needs 3d_lowres first)."""

    TWO_D = "2d"
    LOWRES = "3d_lowres"
    FULLRES = "3d_fullres"


class FoldEnsemble(str, Enum):
    """How the folds of a k-fold model are combined."""

    SOFTMAX = "softmax"
    """nnU-Net's own ensemble: the mean of the folds' softmax, then one label map."""
    VOTE = "vote"
    """One label map per fold (exported and post-processed), voted label by label (BAMF models)."""


class NnunetV1Runner(Module):
    """Segment an image with a trained nnU-Net v1 model, as ``nnUNet_predict`` does, without a subprocess.

    The model folder is ``<results root>/nnUNet/<configuration>/<task>/<trainer>__<plans>`` (the layout of the
    pretrained model archives). The trainer is restored and the parameters of every fold are read once, in
    :meth:`setup`, as nnU-Net's ``load_model_and_checkpoint_files`` does; each series is then preprocessed,
    predicted (``predict_preprocessed_data_return_seg_and_softmax``, fold ensemble by averaging the softmax),
    exported on the input grid, and post-processed with the model's ``postprocessing.json`` as
    ``nnUNet_predict`` does by default (same result, linear-time implementation: see
    :func:`~mhubio.modules.runners.nnunet_common.remove_small_components`).

    With ``ensemble: vote`` every fold's label map is exported and post-processed on its own and a voxel gets a
    label where at least ``vote_threshold`` of the folds give it that label, as one runner step per fold
    followed by :class:`~mhubio.modules.processors.majority_vote.MajorityVote` would compute it, but the image
    is preprocessed once and the trainer restored once.
    """

    class Params(NnunetParams):
        task: str = Field(description="task folder name, e.g. Task055_SegTHOR")
        configuration: V1Configuration = V1Configuration.FULLRES
        trainer: str = "nnUNetTrainerV2"
        plans: str = "nnUNetPlansv2.1"
        folds: list[int] | Literal["all"] | None = Field(None, description="None = every fold_* folder present")
        checkpoint: str = "model_final_checkpoint"
        use_mirroring: bool = Field(True, description="test-time augmentation by mirroring")
        tile_step_size: float = Field(0.5, gt=0.0, le=1.0)
        postprocessing: bool = Field(True, description="apply the model's postprocessing.json")
        device: DeviceChoice = DeviceChoice.AUTO
        ensemble: FoldEnsemble = Field(FoldEnsemble.SOFTMAX, description="softmax mean or per-fold vote")
        vote_threshold: float = Field(DEFAULT_VOTE_THRESHOLD, gt=0.0, le=1.0,
                                      description="fraction of the folds that must agree (ensemble: vote)")

        @model_validator(mode="after")
        def _one_winner(self) -> NnunetV1Runner.Params:
            if self.ensemble is FoldEnsemble.VOTE and len(self.label_map) > 1 and self.vote_threshold <= 0.5:
                raise ValueError(f"vote_threshold {self.vote_threshold} lets two labels win one voxel; use > 0.5 "
                                 f"with {len(self.label_map)} labels")
            return self

    inputs: ClassVar[Mapping[str, Input]] = {"image": Input("nifti:mod=ct", description="image to segment")}
    outputs: ClassVar[Mapping[str, Output]] = {
        "segmentation": Output(FileType.NIFTI, {"mod": "seg"}, inherit="image", description="label map"),
    }

    model_loads: ClassVar[int] = 0
    """Number of model loads in this process (all instances); tests assert one load per run."""

    def declare_outputs(self) -> Mapping[str, Output]:
        """The label map, with its segment ids known from ``label_map``; a fold vote is ``fold=ensemble`` (as
        :class:`~mhubio.modules.processors.majority_vote.MajorityVote` marks its output)."""
        meta = {"mod": "seg", "roi": ",".join(self.params.label_map.values())}
        if self.params.ensemble is FoldEnsemble.VOTE:
            meta["fold"] = "ensemble"
        return {"segmentation": Output(FileType.NIFTI, meta, inherit="image", description="label map")}

    @property
    def _log(self) -> logging.Logger:
        return logging.getLogger(f"mhub.module.{self.step_id}")

    def model_folder(self, root: ResultsRoot) -> Path:
        """The trained model folder named by the parameters (not checked)."""
        p = self.params
        return root.path / "nnUNet" / p.configuration.value / p.task / f"{p.trainer}__{p.plans}"

    def _fold_dirs(self, folder: Path) -> list[Path]:
        folds = self.params.folds
        if folds == "all":
            return [folder / "all"]
        if folds is None:
            found = sorted((d for d in folder.glob("fold_*") if d.is_dir()), key=lambda d: d.name)
            if not found:
                raise ConfigError(f"{self.step_id}: no fold_* folders in {folder}")
            return found
        return [folder / f"fold_{f}" for f in folds]

    def _model_files(self, folder: Path) -> list[Path]:
        name = self.params.checkpoint
        return [f for d in self._fold_dirs(folder) for f in (d / f"{name}.model", d / f"{name}.model.pkl")]

    def preflight(self) -> None:
        """Check the model files and the label map before any data is read."""
        folder = self.model_folder(locate_results_root(self.params, self.context, self.step_id))
        (plans_file,) = require_files([folder / "plans.pkl"], self.step_id)
        require_files(self._model_files(folder), self.step_id)
        if self.params.ensemble is FoldEnsemble.VOTE and len(self._fold_dirs(folder)) < 2:
            raise ConfigError(f"{self.step_id}: ensemble 'vote' needs at least two folds, "
                              f"found {[d.name for d in self._fold_dirs(folder)]}")
        with open(plans_file, "rb") as handle:
            plans = pickle.load(handle)
        # nnU-Net v1 stores label values without class names.
        model_labels = {int(v): None for v in plans["all_classes"]}
        match_label_map(self.params.label_map, model_labels, self.step_id, plans_file, check_names=False)

    def setup(self) -> None:
        """Restore the trainer and read the parameters of every fold (once per run)."""
        import torch

        with captured_stdout(self._log):  # nnU-Net v1 prints a banner and path warnings when imported
            from nnunet.postprocessing.connected_components import load_postprocessing
            from nnunet.training.model_restore import restore_model

        p = self.params
        root = locate_results_root(p, self.context, self.step_id)
        folder = self.model_folder(root)
        fold_dirs = self._fold_dirs(folder)
        device = select_device(p.device, self.step_id)
        self._mixed_precision = device.type == "cuda"
        start = time.perf_counter()
        # The steps of nnU-Net's load_model_and_checkpoint_files, except that the trainer's output folder (where
        # it writes a training log as soon as it logs anything) is scratch space, not the possibly read-only
        # weights folder.
        log_folder = self.context.work_dir / f"{self.step_id}.nnunet_v1"
        with captured_stdout(self._log), full_unpickling():
            trainer = restore_model(str(fold_dirs[0] / f"{p.checkpoint}.model.pkl"), fp16=self._mixed_precision)
            trainer.output_folder = trainer.output_folder_base = str(log_folder)
            trainer.update_fold(0)
            trainer.initialize(False)
            fold_params = [torch.load(d / f"{p.checkpoint}.model", map_location="cpu") for d in fold_dirs]
            trainer.load_checkpoint_ram(fold_params[0], False)
        trainer.network.to(device)
        trainer.network.eval()
        self._trainer, self._fold_params = trainer, fold_params
        self._postprocessing: tuple[list, dict | None] | None = None
        pp_file = folder / "postprocessing.json"
        if p.postprocessing and pp_file.is_file():
            self._postprocessing = load_postprocessing(str(pp_file))
        elif p.postprocessing:
            self._log.warning("%s: %s has no postprocessing.json; no post-processing applied", self.step_id, folder)
        self.load_seconds = time.perf_counter() - start
        type(self).model_loads += 1
        files = [folder / "plans.pkl", *self._model_files(folder)]
        if self._postprocessing is not None:
            files.append(pp_file)
        self._algorithm = AlgorithmInfo(
            name=p.algorithm_name,
            family=AlgorithmFamily.ARTIFICIAL_INTELLIGENCE,
            version=self.context.model.version,
            parameters={
                "framework": f"nnunet {version('nnunet')}", "torch": torch.__version__, "task": p.task,
                "configuration": p.configuration.value, "trainer": p.trainer, "plans": p.plans,
                "folds": ",".join(d.name.removeprefix("fold_") for d in fold_dirs), "checkpoint": p.checkpoint,
                "use_mirroring": str(p.use_mirroring), "tile_step_size": str(p.tile_step_size),
                "postprocessing": str(self._postprocessing is not None), "device": device.type,
                "ensemble": p.ensemble.value,
                **({"vote_threshold": str(p.vote_threshold)} if p.ensemble is FoldEnsemble.VOTE else {}),
            },
            weights=root.digests_of(files),
        )
        self._log.info("%s: loaded %s (%s, folds %s) on %s in %.2f s", self.step_id, p.task, p.configuration.value,
                       self._algorithm.parameters["folds"], device.type, self.load_seconds)

    def teardown(self) -> None:
        """Release the network."""
        self._trainer = None
        self._fold_params = []

    def _softmax(self, data: np.ndarray, fold_params: list[Any]) -> np.ndarray:
        """Mean softmax of the folds whose parameters are given, in the image's axis order."""
        trainer, p = self._trainer, self.params
        total: np.ndarray | None = None
        for params in fold_params:
            if len(self._fold_params) > 1:
                trainer.load_checkpoint_ram(params, False)
            softmax = trainer.predict_preprocessed_data_return_seg_and_softmax(
                data, do_mirroring=p.use_mirroring, mirror_axes=trainer.data_aug_params["mirror_axes"],
                use_sliding_window=True, step_size=p.tile_step_size, use_gaussian=True, all_in_gpu=False,
                mixed_precision=self._mixed_precision)[1]
            total = softmax if total is None else total + softmax
        assert total is not None, "at least one fold"
        total /= len(fold_params)
        backward = trainer.plans.get("transpose_backward")
        if backward is not None:
            total = total.transpose([0] + [i + 1 for i in backward])
        return total

    def input_files(self, inputs: Mapping[str, Any]) -> list[str]:
        """The model's input channels in order (``_0000``, ``_0001``, ...); here the single ``image``."""
        return [str(inputs["image"].path)]

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Predict the label map of one image (preprocessed once for all folds) and write it on the image's grid."""
        trainer = self._trainer
        target = outputs["segmentation"]
        start = time.perf_counter()
        with captured_stdout(instance.log.logger), atomic_path(target.path) as tmp:
            data, _, properties = trainer.preprocess_patient(self.input_files(inputs))
            if self.params.ensemble is FoldEnsemble.SOFTMAX:
                labels, _ = self._export(self._softmax(data, self._fold_params), properties, tmp)
            else:
                labels = self._vote(data, properties, tmp)
            present = {int(v) for v in np.unique(labels)} - {0}
            unknown = sorted(present - set(self.params.label_map))
            if unknown:
                raise StepError(f"{self.step_id}: the model wrote label value(s) {unknown} "
                                "that label_map does not name")
        target.set_labels(self.params.label_map)
        target.algorithm = self._algorithm
        instance.log.info("%s: inference %.2f s; labels present: %s", self.step_id, time.perf_counter() - start,
                          ", ".join(self.params.label_map[v] for v in sorted(present)) or "none")

    def _export(self, softmax: np.ndarray, properties: Mapping[str, Any], path: Path) -> tuple[np.ndarray, Any]:
        """Write the label map of ``softmax`` on the input grid, post-processed; its voxels and its image."""
        import SimpleITK as sitk
        from nnunet.inference.segmentation_export import save_segmentation_nifti_from_softmax

        export = self._trainer.plans.get("segmentation_export_params", {})
        save_segmentation_nifti_from_softmax(
            softmax, str(path), properties, export.get("interpolation_order", 1),
            getattr(self._trainer, "regions_class_order", None), None, None, None, None,
            export.get("force_separate_z"), export.get("interpolation_order_z", 0))
        written = sitk.ReadImage(str(path))
        labels = sitk.GetArrayFromImage(written)
        if self._postprocessing is not None:
            for_which_classes, min_valid_sizes = self._postprocessing
            labels = remove_small_components(labels, for_which_classes, float(np.prod(written.GetSpacing())),
                                             min_valid_sizes)
            cleaned = sitk.GetImageFromArray(labels)
            cleaned.CopyInformation(written)
            sitk.WriteImage(cleaned, str(path), True)
        return labels, written

    def _vote(self, data: np.ndarray, properties: Mapping[str, Any], path: Path) -> np.ndarray:
        """Each fold's label map, voted label by label; written to ``path`` on the input grid."""
        import SimpleITK as sitk

        self.context.work_dir.mkdir(parents=True, exist_ok=True)
        folds = []
        with tempfile.TemporaryDirectory(prefix=f"{self.step_id}.folds.", dir=self.context.work_dir) as scratch:
            for index, params in enumerate(self._fold_params):
                labels, grid = self._export(self._softmax(data, [params]), properties,
                                            Path(scratch) / f"fold_{index}.nii.gz")
                folds.append(labels)
        voted = np.zeros_like(folds[0])
        for value in self.params.label_map:
            voted[majority_vote([f == value for f in folds], self.params.vote_threshold)] = value
        image = sitk.GetImageFromArray(voted)
        image.CopyInformation(grid)
        sitk.WriteImage(image, str(path), True)
        return voted
