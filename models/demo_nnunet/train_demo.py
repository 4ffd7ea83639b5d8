"""Train the demo nnU-Net v2 model on synthetic CT phantoms, on the CPU, in a few minutes.

DEMO ONLY, NOT A CLINICAL MODEL: the phantoms are analytic shapes (``mhubio.synthetic``); the model learns them
and nothing about real anatomy.

Steps:

1. phantoms of varied size and spacing -> nnU-Net raw dataset (``imagesTr``, ``labelsTr``, ``dataset.json``);
2. nnU-Net's fingerprint extractor (intensity statistics for the CT normalisation) and tiny plans from
   ``tests.support.nnunet`` (the 2d configuration: a PlainConvUNet with 8-64 features on 64 x 64 patches of a
   2.5 mm grid, instead of the planner's GPU-sized defaults; 2-D training is what a shared CPU can do in
   minutes);
3. every case preprocessed by nnU-Net's ``DefaultPreprocessor.run_case``, the code inference uses;
4. the network built from the plans by nnU-Net (``get_network_from_plans``) and trained with nnU-Net's Dice +
   cross-entropy loss, Adam and random patches. ``nnUNetTrainer`` itself (SGD, heavy augmentation, deep
   supervision, 250 iterations per epoch) needs far more than a few CPU minutes on this data;
5. the model folder of fold ``all`` (dataset.json, plans.json, fold_all/checkpoint_final.pth in the format of
   ``nnUNetTrainer.save_checkpoint``) is written to ``models/demo_nnunet/weights``.

Usage::

    PYTHONPATH=. python models/demo_nnunet/train_demo.py [--iterations 300] [--cases 8] [--work DIR]
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
CONFIGURATION = "2d"
TARGET_SPACING = (2.5, 2.5)
PATCH_SIZE = (64, 64)
FEATURES = (8, 16, 32, 64)


def write_raw_dataset(raw: Path, cases: int) -> None:
    """Phantoms of varied field of view and spacing, labels remapped to the demo classes."""
    from mhubio.synthetic import make_ct_phantom
    from tests.support.nnunet import nnunet_v2_dataset_json

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


def plan_and_preprocess(raw: Path, preprocessed: Path) -> tuple[dict, dict, list[tuple[np.ndarray, np.ndarray]]]:
    """Fingerprint with nnU-Net, tiny plans, and every case preprocessed as inference will."""
    from nnunetv2.experiment_planning.dataset_fingerprint.fingerprint_extractor import DatasetFingerprintExtractor
    from nnunetv2.preprocessing.preprocessors.default_preprocessor import DefaultPreprocessor
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    from tests.support.nnunet import nnunet_v2_plans

    DatasetFingerprintExtractor(DATASET, num_processes=1).run()
    fingerprint = json.loads((preprocessed / DATASET / "dataset_fingerprint.json").read_text())
    intensities = fingerprint["foreground_intensity_properties_per_channel"]["0"]
    plans = nnunet_v2_plans(DATASET, CONFIGURATION, TARGET_SPACING, PATCH_SIZE, FEATURES,
                            intensity_properties=intensities)
    dataset_json = json.loads((raw / DATASET / "dataset.json").read_text())
    manager = PlansManager(plans)
    configuration = manager.get_configuration(CONFIGURATION)
    preprocessor = DefaultPreprocessor(verbose=False)
    cases = []
    for image in sorted((raw / DATASET / "imagesTr").glob("*_0000.nii.gz")):
        label = raw / DATASET / "labelsTr" / image.name.replace("_0000.nii.gz", ".nii.gz")
        data, seg, _ = preprocessor.run_case([str(image)], str(label), manager, configuration, dataset_json)
        cases.append((data.astype(np.float32), np.maximum(seg, 0).astype(np.int64)))
    return plans, dataset_json, cases


def _random_patches(cases: list[tuple[np.ndarray, np.ndarray]], batch: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """2-D patches (one axial slice) of ``PATCH_SIZE``, padded where a slice is smaller; half on foreground."""
    images, labels = [], []
    for _ in range(batch):
        data, seg = cases[int(rng.integers(len(cases)))]
        pad = [(0, 0), (0, 0)] + [(0, max(0, p - s)) for p, s in zip(PATCH_SIZE, data.shape[2:], strict=True)]
        data = np.pad(data, pad, constant_values=float(data.min()))
        seg = np.pad(seg, pad)
        if rng.random() < 0.5:
            foreground = np.argwhere(seg[0] > 0)
            z, *centre = foreground[int(rng.integers(len(foreground)))]
            corner = [
                int(np.clip(c - p // 2, 0, s - p)) for c, p, s in zip(centre, PATCH_SIZE, data.shape[2:], strict=True)
            ]
        else:
            z = int(rng.integers(data.shape[1]))
            corner = [int(rng.integers(0, s - p + 1)) for p, s in zip(PATCH_SIZE, data.shape[2:], strict=True)]
        window = (slice(None), int(z), *(slice(c, c + p) for c, p in zip(corner, PATCH_SIZE, strict=True)))
        images.append(data[window])
        labels.append(seg[window])
    return np.stack(images), np.stack(labels)


def train(plans: dict, cases: list[tuple[np.ndarray, np.ndarray]], iterations: int, batch: int) -> dict:
    """Train the plans' network on random patches; returns its state dict."""
    import torch
    from nnunetv2.training.loss.compound_losses import DC_and_CE_loss
    from nnunetv2.training.loss.dice import MemoryEfficientSoftDiceLoss
    from nnunetv2.utilities.get_network_from_plans import get_network_from_plans

    torch.manual_seed(901)
    rng = np.random.default_rng(901)
    arch = plans["configurations"][CONFIGURATION]["architecture"]
    network = get_network_from_plans(arch["network_class_name"], arch["arch_kwargs"], arch["_kw_requires_import"],
                                     1, len(CLASSES) + 1, deep_supervision=False)
    loss_fn = DC_and_CE_loss({"batch_dice": False, "smooth": 1e-5, "do_bg": False, "ddp": False}, {},
                             weight_ce=1, weight_dice=1, dice_class=MemoryEfficientSoftDiceLoss)
    optimizer = torch.optim.AdamW(network.parameters(), lr=3e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, total_steps=iterations)
    network.train()
    start = time.perf_counter()
    for step in range(1, iterations + 1):
        images, labels = _random_patches(cases, batch, rng)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(network(torch.from_numpy(images)), torch.from_numpy(labels))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 12)
        optimizer.step()
        schedule.step()
        if step % 25 == 0 or step == iterations:
            seconds = time.perf_counter() - start
            print(f"iteration {step}/{iterations}: loss {loss.item():.3f} ({seconds:.0f} s)", flush=True)
    return network.state_dict()


def install(plans: dict, dataset_json: dict, weights: dict, destination: Path, iterations: int) -> Path:
    """Write the trained model folder (fold ``all``) into ``destination``."""
    from tests.support.nnunet import save_nnunet_v2_checkpoint, v2_model_folder

    target = v2_model_folder(destination, DATASET, CONFIGURATION)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    (target / "plans.json").write_text(json.dumps(plans, indent=2))
    (target / "dataset.json").write_text(json.dumps(dataset_json, indent=2))
    save_nnunet_v2_checkpoint(target / "fold_all" / "checkpoint_final.pth", weights, plans, dataset_json,
                              CONFIGURATION, "all", epochs=iterations)
    return target


def main() -> int:
    """Train and install the demo model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed)")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--destination", type=Path, default=MODEL_DIR / "weights")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mhub-demo-train-"))
    raw, preprocessed = work / "nnUNet_raw", work / "nnUNet_preprocessed"
    # nnU-Net reads its folders from the environment when its modules are imported.
    os.environ.update(nnUNet_raw=str(raw), nnUNet_preprocessed=str(preprocessed),
                      nnUNet_results=str(work / "nnUNet_results"))
    sys.path.insert(0, str(MODEL_DIR.parents[1]))
    start = time.perf_counter()
    write_raw_dataset(raw, args.cases)
    plans, dataset_json, cases = plan_and_preprocess(raw, preprocessed)
    print(f"{len(cases)} cases written and preprocessed in {time.perf_counter() - start:.0f} s", flush=True)
    weights = train(plans, cases, args.iterations, args.batch)
    target = install(plans, dataset_json, weights, args.destination, args.iterations)
    print(f"demo model trained in {time.perf_counter() - start:.0f} s and installed in {target}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
