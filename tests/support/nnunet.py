"""Tiny nnU-Net model folders in the real on-disk formats of nnU-Net v2 and nnU-Net v1.

The networks are untrained (random weights, fixed seed) and small (a few features, two or three resolution
stages), so that inference on a CPU takes seconds. The folders are read by the unmodified nnU-Net code: they are
what ``nnUNetv2_train`` / ``nnUNet_train`` leave behind, minus training logs.

nnU-Net v2 layout (``results_dir`` plays the role of ``nnUNet_results``)::

    <results_dir>/<dataset>/<trainer>__<plans>__<configuration>/
        dataset.json  plans.json  fold_<f>/checkpoint_final.pth

nnU-Net v1 layout (``results_dir`` plays the role of ``RESULTS_FOLDER``)::

    <results_dir>/nnUNet/<configuration>/<task>/<trainer>__<plans identifier>/
        plans.pkl  postprocessing.json  fold_<f>/model_final_checkpoint.model  fold_<f>/model_final_checkpoint.model.pkl
"""

from __future__ import annotations

import contextlib
import io
import json
import pickle
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from copy import deepcopy
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CT_INTENSITY_PROPERTIES",
    "nnunet_v2_dataset_json",
    "nnunet_v2_plans",
    "save_nnunet_v2_checkpoint",
    "v2_model_folder",
    "write_nnunet_v1_model",
    "write_nnunet_v2_model",
]

CT_INTENSITY_PROPERTIES: Mapping[str, float] = {
    "mean": 40.0, "median": 40.0, "std": 250.0, "min": -1024.0, "max": 3071.0,
    "percentile_00_5": -1000.0, "percentile_99_5": 1500.0,
}
"""Foreground intensity statistics (HU) of a contrast CT, in nnU-Net v2 fingerprint keys."""

V2_CONFIGURATIONS = ("2d", "3d_lowres", "3d_fullres")
V1_CONFIGURATIONS = ("2d", "3d_lowres", "3d_fullres")


def v2_model_folder(results_dir: Path, dataset: str, configuration: str, trainer: str = "nnUNetTrainer",
                    plans: str = "nnUNetPlans") -> Path:
    """The trained model folder of an nnU-Net v2 results tree."""
    return Path(results_dir) / dataset / f"{trainer}__{plans}__{configuration}"


def nnunet_v2_dataset_json(labels: Mapping[str, int], channel: str = "CT", num_training: int = 0) -> dict:
    """``dataset.json`` of nnU-Net v2 for one input channel.

    Parameters
    ----------
    labels:
        Class name -> label value of the foreground classes (background 0 is added).
    channel:
        Name of the single input channel; ``"CT"`` selects nnU-Net's CT normalisation.
    num_training:
        ``numTraining`` (only used by training).
    """
    values = sorted(labels.values())
    if values != list(range(1, len(values) + 1)):
        raise ValueError(f"nnU-Net needs consecutive label values 1..N, got {values}")
    return {
        "channel_names": {"0": channel},
        "labels": {"background": 0, **{name: int(value) for name, value in labels.items()}},
        "numTraining": int(num_training),
        "file_ending": ".nii.gz",
    }


def _architecture(dim: int, features: Sequence[int]) -> dict:
    n_stages = len(features)
    if n_stages < 2:
        raise ValueError(f"a U-Net needs at least 2 stages, got features {list(features)}")
    conv = f"torch.nn.modules.conv.Conv{dim}d"
    norm = f"torch.nn.modules.instancenorm.InstanceNorm{dim}d"
    return {
        "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
        "arch_kwargs": {
            "n_stages": n_stages,
            "features_per_stage": [int(f) for f in features],
            "conv_op": conv,
            "kernel_sizes": [[3] * dim for _ in range(n_stages)],
            "strides": [[1] * dim] + [[2] * dim for _ in range(n_stages - 1)],
            "n_conv_per_stage": [2] * n_stages,
            "n_conv_per_stage_decoder": [2] * (n_stages - 1),
            "conv_bias": True,
            "norm_op": norm,
            "norm_op_kwargs": {"eps": 1e-05, "affine": True},
            "dropout_op": None,
            "dropout_op_kwargs": None,
            "nonlin": "torch.nn.LeakyReLU",
            "nonlin_kwargs": {"inplace": True},
        },
        "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
    }


def nnunet_v2_plans(
    dataset_name: str,
    configuration: str,
    spacing: Sequence[float],
    patch_size: Sequence[int],
    features: Sequence[int] = (4, 8, 16),
    plans_name: str = "nnUNetPlans",
    median_shape: Sequence[int] | None = None,
    intensity_properties: Mapping[str, float] = CT_INTENSITY_PROPERTIES,
    batch_size: int = 2,
) -> dict:
    """``plans.json`` of nnU-Net v2 with one configuration of a PlainConvUNet.

    Parameters
    ----------
    dataset_name:
        ``DatasetNNN_Name``.
    configuration:
        ``2d``, ``3d_lowres`` or ``3d_fullres``.
    spacing, patch_size:
        Target spacing (mm) and patch size in nnU-Net axis order (z, y, x), or (y, x) for ``2d``.
    features:
        Feature maps per resolution stage; each stage after the first halves the patch.
    """
    if configuration not in V2_CONFIGURATIONS:
        raise ValueError(f"configuration must be one of {V2_CONFIGURATIONS}, got {configuration!r}")
    dim = 2 if configuration == "2d" else 3
    if len(spacing) != dim or len(patch_size) != dim:
        raise ValueError(f"{configuration} needs {dim} spacing and patch values, got {spacing} and {patch_size}")
    divisor = 2 ** (len(features) - 1)
    if any(int(p) % divisor for p in patch_size):
        raise ValueError(f"patch size {list(patch_size)} must be divisible by {divisor} for {len(features)} stages")
    resampling = {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None}
    config = {
        "data_identifier": f"{plans_name}_{configuration}",
        "preprocessor_name": "DefaultPreprocessor",
        "batch_size": int(batch_size),
        "patch_size": [int(p) for p in patch_size],
        "median_image_size_in_voxels": [int(p) for p in (median_shape or patch_size)],
        "spacing": [float(s) for s in spacing],
        "normalization_schemes": ["CTNormalization"],
        "use_mask_for_norm": [False],
        "resampling_fn_data": "resample_data_or_seg_to_shape",
        "resampling_fn_seg": "resample_data_or_seg_to_shape",
        "resampling_fn_data_kwargs": resampling,
        "resampling_fn_seg_kwargs": {**resampling, "is_seg": True, "order": 1},
        "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
        "resampling_fn_probabilities_kwargs": {**resampling, "order": 1},
        "architecture": _architecture(dim, features),
        "batch_dice": False,
    }
    full_spacing = [float(s) for s in spacing] if dim == 3 else [float(spacing[0])] + [float(s) for s in spacing]
    return {
        "dataset_name": dataset_name,
        "plans_name": plans_name,
        "original_median_spacing_after_transp": full_spacing,
        "original_median_shape_after_transp": [int(p) for p in (median_shape or [64, 128, 128])][-3:],
        "image_reader_writer": "SimpleITKIO",
        "transpose_forward": [0, 1, 2],
        "transpose_backward": [0, 1, 2],
        "configurations": {configuration: config},
        "experiment_planner_used": "ExperimentPlanner",
        "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {"0": dict(intensity_properties)},
    }


def write_nnunet_v2_model(
    results_dir: Path,
    labels: Mapping[str, int],
    *,
    dataset_name: str = "Dataset901_Tiny",
    configuration: str = "3d_fullres",
    folds: Sequence[int | str] = (0,),
    spacing: Sequence[float] | None = None,
    patch_size: Sequence[int] | None = None,
    features: Sequence[int] = (4, 8, 16),
    trainer_name: str = "nnUNetTrainer",
    plans_name: str = "nnUNetPlans",
    seed: int = 0,
) -> Path:
    """Write an untrained nnU-Net v2 model folder and return it.

    Parameters
    ----------
    results_dir:
        Root of the results tree (``nnUNet_results``).
    labels:
        Class name -> label value of the foreground classes, e.g. ``{"heart": 1, "aorta": 2}``.
    configuration:
        ``2d``, ``3d_lowres`` or ``3d_fullres``.
    folds:
        Folds to write (``"all"`` allowed); each gets its own random weights.
    spacing, patch_size:
        Target spacing (mm) and patch (voxels) in (z, y, x) or (y, x); small coarse defaults.
    features:
        Feature maps per stage of the PlainConvUNet.
    seed:
        Seed of the weights.

    Returns
    -------
    pathlib.Path
        ``<results_dir>/<dataset>/<trainer>__<plans>__<configuration>``.
    """
    import torch
    from nnunetv2.utilities.get_network_from_plans import get_network_from_plans

    dim = 2 if configuration == "2d" else 3
    spacing = spacing or ((4.0, 4.0) if dim == 2 else (5.0, 4.0, 4.0))
    patch_size = patch_size or ((32, 32) if dim == 2 else (16, 32, 32))
    plans = nnunet_v2_plans(dataset_name, configuration, spacing, patch_size, features, plans_name)
    dataset_json = nnunet_v2_dataset_json(labels)
    folder = v2_model_folder(results_dir, dataset_name, configuration, trainer_name, plans_name)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plans.json").write_text(json.dumps(plans, indent=2))
    (folder / "dataset.json").write_text(json.dumps(dataset_json, indent=2))
    arch = plans["configurations"][configuration]["architecture"]
    for index, fold in enumerate(folds):
        torch.manual_seed(seed * 1000 + index)
        network = get_network_from_plans(arch["network_class_name"], arch["arch_kwargs"],
                                         arch["_kw_requires_import"], 1, len(labels) + 1, deep_supervision=True)
        save_nnunet_v2_checkpoint(folder / f"fold_{fold}" / "checkpoint_final.pth", network.state_dict(), plans,
                                  dataset_json, configuration, fold, trainer_name)
    return folder


def save_nnunet_v2_checkpoint(path: Path, network_weights: Mapping[str, Any], plans: Mapping[str, Any],
                              dataset_json: Mapping[str, Any], configuration: str, fold: int | str,
                              trainer_name: str = "nnUNetTrainer", epochs: int = 1) -> None:
    """Write a ``checkpoint_final.pth`` with the keys ``nnUNetTrainer.save_checkpoint`` writes.

    Inference reads ``network_weights``, ``trainer_name`` (to rebuild the network), ``init_args['configuration']``
    and ``inference_allowed_mirroring_axes``; the optimizer and grad-scaler states are left empty.
    """
    import torch

    dim = 2 if configuration == "2d" else 3
    checkpoint = {
        "network_weights": dict(network_weights),
        "optimizer_state": None,
        "grad_scaler_state": None,
        "logging": {},
        "_best_ema": None,
        "current_epoch": int(epochs),
        "init_args": {"plans": deepcopy(dict(plans)), "configuration": configuration, "fold": fold,
                      "dataset_json": deepcopy(dict(dataset_json)), "device": torch.device("cpu")},
        "trainer_name": trainer_name,
        "inference_allowed_mirroring_axes": tuple(range(dim)),
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)


def _v1_stage(spacing: Sequence[float], patch_size: Sequence[int], num_pool: int, median_shape: Sequence[int]) -> dict:
    dim = len(patch_size)
    return {
        "batch_size": 2,
        "num_pool_per_axis": [num_pool] * dim,
        "patch_size": np.array(patch_size, dtype=int),
        "median_patient_size_in_voxels": np.array(median_shape[-dim:], dtype=int),
        "current_spacing": np.array(spacing, dtype=float),
        "original_spacing": np.array(spacing, dtype=float),
        "do_dummy_2D_data_aug": False,
        "pool_op_kernel_sizes": [[2] * dim for _ in range(num_pool)],
        "conv_kernel_sizes": [[3] * dim for _ in range(num_pool + 1)],
    }


def _v1_plans(task: str, configuration: str, num_classes: int, base_num_features: int, num_pool: int,
              plans_identifier: str, modalities: Sequence[str] = ("CT",)) -> tuple[dict, int]:
    """Plans in the layout of ``<identifier>_plans_2D.pkl`` / ``_plans_3D.pkl`` and the stage of ``configuration``."""
    median_shape = [64, 128, 128]
    if configuration == "2d":
        stages = {0: _v1_stage([5.0, 4.0, 4.0], [32, 32], num_pool, median_shape)}
        stage = 0
    else:
        stages = {0: _v1_stage([8.0, 6.0, 6.0], [16, 32, 32], num_pool, median_shape),
                  1: _v1_stage([5.0, 4.0, 4.0], [16, 32, 32], num_pool, median_shape)}
        stage = 0 if configuration == "3d_lowres" else 1
    intensity = {i: {"median": 40.0, "mean": 40.0, "sd": 250.0, "mn": -1024.0, "mx": 3071.0,
                     "percentile_99_5": 1500.0, "percentile_00_5": -1000.0} for i in range(len(modalities))}
    names = dict(enumerate(modalities))
    plans = {
        "num_stages": len(stages),
        "num_modalities": len(modalities),
        "modalities": names,
        "normalization_schemes": OrderedDict({i: "CT" if m == "CT" else "nonCT" for i, m in names.items()}),
        "dataset_properties": {"intensityproperties": intensity, "modalities": names,
                               "all_classes": list(range(1, num_classes + 1))},
        "list_of_npz_files": [],
        "original_spacings": [np.array([5.0, 4.0, 4.0])],
        "original_sizes": [np.array(median_shape)],
        "preprocessed_data_folder": f"/nnUNet_preprocessed/{task}",
        "num_classes": num_classes,
        "all_classes": list(range(1, num_classes + 1)),
        "base_num_features": base_num_features,
        "use_mask_for_norm": OrderedDict({i: False for i in names}),
        "keep_only_largest_region": None,
        "min_region_size_per_class": None,
        "min_size_per_class": None,
        "transpose_forward": [0, 1, 2],
        "transpose_backward": [0, 1, 2],
        "data_identifier": f"{plans_identifier.replace('nnUNetPlans', 'nnUNetData_plans')}",
        "plans_per_stage": stages,
        "preprocessor_name": "PreprocessorFor2D" if configuration == "2d" else "GenericPreprocessor",
        "conv_per_stage": 2,
    }
    return plans, stage


def write_nnunet_v1_model(
    results_dir: Path,
    num_classes: int,
    *,
    task: str = "Task901_Tiny",
    configuration: str = "3d_fullres",
    folds: Sequence[int] = (0,),
    trainer: str = "nnUNetTrainerV2",
    plans_identifier: str = "nnUNetPlansv2.1",
    base_num_features: int = 4,
    num_pool: int = 2,
    postprocessing_classes: Sequence[int] = (),
    seed: int = 0,
    modalities: Sequence[str] = ("CT",),
) -> Path:
    """Write an untrained nnU-Net v1 model folder and return it.

    The checkpoints are written by nnU-Net v1's own ``nnUNetTrainerV2.save_checkpoint`` (``.model`` with the
    state dict and ``.model.pkl`` with the trainer's init arguments, name and plans).

    Parameters
    ----------
    results_dir:
        Root of the results tree (``RESULTS_FOLDER``).
    num_classes:
        Number of foreground classes (labels 1..N).
    configuration:
        ``2d``, ``3d_lowres`` or ``3d_fullres`` (3-D plans have two stages, as for Task055).
    folds:
        Folds to write; each gets its own random weights.
    postprocessing_classes:
        Classes listed in ``postprocessing.json`` for largest-connected-component filtering.
    seed:
        Seed of the weights.
    modalities:
        Name of each input channel (``_0000``, ``_0001``, ...); ``"CT"`` gets nnU-Net's CT normalisation,
        any other name z-scoring.

    Returns
    -------
    pathlib.Path
        ``<results_dir>/nnUNet/<configuration>/<task>/<trainer>__<plans identifier>``.
    """
    import torch
    from nnunet.training.network_training.nnUNetTrainerV2 import nnUNetTrainerV2

    if configuration not in V1_CONFIGURATIONS:
        raise ValueError(f"configuration must be one of {V1_CONFIGURATIONS}, got {configuration!r}")
    if trainer != "nnUNetTrainerV2":
        raise ValueError(f"only nnUNetTrainerV2 folders can be built, got {trainer!r}")
    if not modalities:
        raise ValueError("name at least one input channel in modalities")
    plans, stage = _v1_plans(task, configuration, num_classes, base_num_features, num_pool, plans_identifier,
                             modalities)
    folder = Path(results_dir) / "nnUNet" / configuration / task / f"{trainer}__{plans_identifier}"
    folder.mkdir(parents=True, exist_ok=True)
    suffix = "_plans_2D.pkl" if configuration == "2d" else "_plans_3D.pkl"
    plans_file = f"/nnUNet_preprocessed/{task}/{plans_identifier}{suffix}"
    with open(folder / "plans.pkl", "wb") as handle:
        pickle.dump(plans, handle)
    (folder / "postprocessing.json").write_text(json.dumps({
        "for_which_classes": [int(c) for c in postprocessing_classes],
        "dc_per_class_raw": {}, "dc_per_class_pp_all": {},
        "min_valid_object_sizes": str({int(c): 0 for c in postprocessing_classes}),
    }, indent=2))
    for index, fold in enumerate(folds):
        fold_dir = folder / f"fold_{fold}"
        fold_dir.mkdir(exist_ok=True)
        torch.manual_seed(seed * 1000 + index)
        with contextlib.redirect_stdout(io.StringIO()):
            net_trainer = nnUNetTrainerV2(plans_file, fold, output_folder=str(folder),
                                          dataset_directory=f"/nnUNet_preprocessed/{task}", batch_dice=True,
                                          stage=stage, unpack_data=True, deterministic=False, fp16=False)
            net_trainer.process_plans(deepcopy(plans))
            net_trainer.initialize(training=False)
            net_trainer.network.cpu()
            net_trainer.save_checkpoint(str(fold_dir / "model_final_checkpoint.model"))
        for log in fold_dir.glob("training_log_*.txt"):
            log.unlink()
    return folder

