"""Train the demo nnU-Net v2 model on synthetic CT phantoms, on the CPU, in a few minutes.

DEMO ONLY, NOT A CLINICAL MODEL: the phantoms are analytic shapes (``mhubio.synthetic``); the model learns them
and nothing about real anatomy.

Steps, all with nnU-Net v2's own code except the plans (written by ``mhubio.testing.nnunet`` to get a tiny
network and a coarse grid instead of the planner's GPU-sized defaults):

1. phantoms of varied size and spacing -> raw dataset (``imagesTr``, ``labelsTr``, ``dataset.json``);
2. nnU-Net fingerprint (intensity statistics for the CT normalisation) and preprocessing;
3. ``nnUNetTrainer`` on fold ``all`` for a few short epochs on the CPU;
4. the trained model folder (dataset.json, plans.json, fold_all/checkpoint_final.pth without the optimizer
   state, which inference does not use) is copied to ``models/demo_nnunet/weights``.

Usage::

    python models/demo_nnunet/train_demo.py [--work DIR] [--epochs 25] [--cases 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

MODEL_DIR = Path(__file__).resolve().parent
DATASET = "Dataset901_DemoPhantom"
CLASSES = {"left_lung": "LEFT_LUNG", "right_lung": "RIGHT_LUNG", "heart": "HEART", "aorta": "AORTA"}
"""nnU-Net class name -> segment id of the phantom; label values follow this order (1..4)."""
TARGET_SPACING = (5.0, 3.0, 3.0)
PATCH_SIZE = (16, 48, 48)
FEATURES = (4, 8, 16, 32)


def write_raw_dataset(raw: Path, cases: int) -> None:
    """Phantoms of varied field of view and spacing, labels remapped to the demo classes."""
    from mhubio.synthetic import make_ct_phantom
    from mhubio.testing.nnunet import nnunet_v2_dataset_json

    rng = np.random.default_rng(901)
    folder = raw / DATASET
    (folder / "imagesTr").mkdir(parents=True)
    (folder / "labelsTr").mkdir()
    for case in range(cases):
        slices, size = int(rng.integers(32, 61)), int(rng.choice([96, 112, 128]))
        spacing = (float(rng.uniform(0.7, 1.3)),) * 2 + (float(rng.choice([2.5, 3.0, 5.0])),)
        phantom = make_ct_phantom((slices, size, size), spacing, seed=case)
        labels = np.zeros_like(phantom.labels)
        for value, segment in enumerate(CLASSES.values(), start=1):
            labels[phantom.mask(segment)] = value
        for array, path in ((phantom.image, folder / "imagesTr" / f"phantom_{case:03d}_0000.nii.gz"),
                            (labels, folder / "labelsTr" / f"phantom_{case:03d}.nii.gz")):
            image = sitk.GetImageFromArray(array)
            image.SetSpacing(phantom.spacing)
            sitk.WriteImage(image, str(path), True)
    labels = {name: value for value, name in enumerate(CLASSES, start=1)}
    dataset_json = nnunet_v2_dataset_json(labels, num_training=cases)
    dataset_json["name"] = "Demo phantom (synthetic CT; demo only, not a clinical model)"
    (folder / "dataset.json").write_text(json.dumps(dataset_json, indent=2))


def plan_and_preprocess(raw: Path, preprocessed: Path) -> dict:
    """Fingerprint and preprocess with nnU-Net; the plans are the tiny ones of ``mhubio.testing``."""
    from nnunetv2.experiment_planning.dataset_fingerprint.fingerprint_extractor import DatasetFingerprintExtractor
    from nnunetv2.preprocessing.preprocessors.default_preprocessor import DefaultPreprocessor

    from mhubio.testing.nnunet import nnunet_v2_plans

    DatasetFingerprintExtractor(DATASET, num_processes=1).run()
    fingerprint = json.loads((preprocessed / DATASET / "dataset_fingerprint.json").read_text())
    intensities = fingerprint["foreground_intensity_properties_per_channel"]["0"]
    plans = nnunet_v2_plans(DATASET, "3d_fullres", TARGET_SPACING, PATCH_SIZE, FEATURES,
                            intensity_properties=intensities)
    shutil.copy(raw / DATASET / "dataset.json", preprocessed / DATASET / "dataset.json")
    (preprocessed / DATASET / "nnUNetPlans.json").write_text(json.dumps(plans, indent=2))
    DefaultPreprocessor().run(DATASET, "3d_fullres", "nnUNetPlans", num_processes=1)
    return plans


def train(plans: dict, preprocessed: Path, epochs: int, iterations: int) -> Path:
    """Train ``nnUNetTrainer`` on fold ``all``; returns the trained model folder."""
    import torch
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    torch.manual_seed(901)
    dataset_json = json.loads((preprocessed / DATASET / "dataset.json").read_text())
    trainer = nnUNetTrainer({**plans, "continue_training": False}, "3d_fullres", "all", dataset_json,
                            device=torch.device("cpu"))
    trainer.num_epochs = epochs
    trainer.num_iterations_per_epoch = iterations
    trainer.num_val_iterations_per_epoch = max(2, iterations // 10)
    trainer.run_training()
    return Path(trainer.output_folder_base)


def install(trained: Path, destination: Path) -> Path:
    """Copy the files inference needs; drop the optimizer state from the checkpoint."""
    import torch

    target = destination / DATASET / trained.name
    if target.exists():
        shutil.rmtree(target)
    (target / "fold_all").mkdir(parents=True)
    for name in ("dataset.json", "plans.json"):
        shutil.copy(trained / name, target / name)
    checkpoint = torch.load(trained / "fold_all" / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    checkpoint["optimizer_state"] = None
    checkpoint["grad_scaler_state"] = None
    torch.save(checkpoint, target / "fold_all" / "checkpoint_final.pth")
    return target


def main() -> int:
    """Train and install the demo model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=15, help="training iterations per epoch")
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--destination", type=Path, default=MODEL_DIR / "weights")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mhub-demo-train-"))
    raw, preprocessed, results = work / "nnUNet_raw", work / "nnUNet_preprocessed", work / "nnUNet_results"
    # nnU-Net reads its folders from the environment when its modules are imported.
    os.environ.update(nnUNet_raw=str(raw), nnUNet_preprocessed=str(preprocessed), nnUNet_results=str(results),
                      nnUNet_n_proc_DA="0", nnUNet_compile="false")
    sys.path.insert(0, str(MODEL_DIR.parents[1]))
    from mhubio.modules.runners.nnunet_common import skip_primus_trainers

    skip_primus_trainers()
    start = time.perf_counter()
    write_raw_dataset(raw, args.cases)
    plans = plan_and_preprocess(raw, preprocessed)
    trained = train(plans, preprocessed, args.epochs, args.iterations)
    target = install(trained, args.destination)
    print(f"demo model trained in {time.perf_counter() - start:.0f} s and installed in {target}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
