"""GPU check of the deep-learning path: CUDA torch, CUDA == CPU results, and GPU time per full-size series.

Run natively from a virtual environment with CUDA torch on a machine with an NVIDIA GPU::

    (from the repository root: the script imports tests/support)
    python -m venv gpu-venv && gpu-venv/bin/pip install -e ".[nnunet]" -c constraints-gpu.txt
    PYTHONPATH=. gpu-venv/bin/python benchmarks/gpu_check.py --json gpu_check.json

Three parts, all written to the JSON file (and summarised on stdout):

1. ``torch``: version, CUDA build, whether CUDA is usable, the GPU's name and memory.
2. ``demo``: ``mhub run --model demo_nnunet`` on one generated CT series, once with ``NnunetV2Runner.device``
   set to ``cuda`` and once to ``cpu``; the two SEGs are decoded on the CT grid and compared per segment
   (Dice >= 0.999 required); each run report must name the device that ran.
3. ``fullsize``: an nnU-Net v2 network with random weights built from a plans file of the shape of a
   TotalSegmentator 1.5 mm part model (3d_fullres, patch 128^3, features 32..320 in six stages, 24 classes),
   run as the runner runs it (``predict_single_npy_array``: preprocessing, sliding window without mirroring,
   resampling back) on a 300-slice CT of 512 x 512 at 0.8 mm; time per series, time inside the network and
   the share outside it, peak GPU memory.

``--device cpu`` is the CPU branch (the reference device of part 2 is then the CPU as well), and ``--small``
shrinks the CT and the network so that the branch runs in seconds; both exist for the test suite and for
machines without a GPU. The exit status is 0 when every check passed, 1 otherwise; nothing is asserted on
times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEMO_MODEL = "demo_nnunet"
DICE_MIN = 0.999


@dataclass(frozen=True)
class Sizes:
    """Sizes of the generated data and of the full-size network."""

    demo_shape: tuple[int, int, int]
    ct_shape: tuple[int, int, int]
    ct_spacing: tuple[float, float, float]
    features: tuple[int, ...]
    patch: tuple[int, int, int]
    classes: int


#: TotalSegmentator part model (Dataset291..295, 3d_fullres at 1.5 mm) on a 300-slice CT.
FULL = Sizes((64, 128, 128), (300, 512, 512), (1.5, 0.8, 0.8), (32, 64, 128, 256, 320, 320), (128, 128, 128), 24)
#: The same code paths in seconds on a CPU.
SMALL = Sizes((16, 64, 64), (16, 32, 32), (6.0, 6.0, 6.0), (4, 8, 16), (16, 16, 16), 3)


def check_torch() -> dict[str, Any]:
    """Versions and CUDA state of the installed torch."""
    import torch

    info: dict[str, Any] = {"torch": torch.__version__, "cuda_build": torch.version.cuda,
                            "cuda_available": torch.cuda.is_available()}
    if info["cuda_available"]:
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                    capability=f"{props.major}.{props.minor}", cudnn=torch.backends.cudnn.version())
    return info


def _mhub_run(input_dir: Path, output_dir: Path, device: str) -> dict[str, Any]:
    env = {**os.environ, "MHUB_MODELS_DIR": os.environ.get("MHUB_MODELS_DIR", str(REPO / "models"))}
    command = [sys.executable, "-m", "mhubio", "run", "--model", DEMO_MODEL, "--input", str(input_dir),
               "--output", str(output_dir), "--set", f"NnunetV2Runner.device={device}", "--quiet"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"mhub run on {device} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    report = json.loads((output_dir / "mhub_report.json").read_text())
    devices = sorted({a["parameters"].get("device") for a in report["algorithms"].values()} - {None})
    return {"seconds": round(seconds, 2), "devices": devices}


def _segments(seg_path: Path, reference) -> dict[str, np.ndarray]:
    import highdicom as hd
    import SimpleITK as sitk

    from mhubio.seg.decode import decode_segments

    decoded = decode_segments(hd.seg.segread(seg_path), reference)
    return {d.segment_id: sitk.GetArrayFromImage(d.mask).astype(bool) for d in decoded}


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice of two masks; 1.0 when both are empty."""
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def compare_demo(work: Path, device: str, shape: tuple[int, int, int]) -> dict[str, Any]:
    """Run the demo model on ``device`` and on the CPU on the same generated CT; Dice per segment."""
    import SimpleITK as sitk

    from mhubio.synthetic import write_ct_series

    input_dir = work / "demo_input"
    write_ct_series(input_dir / "ct", shape=shape, seed=7)
    runs = {name: _mhub_run(input_dir, work / f"demo_{name}", dev) for name, dev in (("test", device), ("cpu", "cpu"))}
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(input_dir / "ct")))
    reference = reader.Execute()
    (seg_test,) = (work / "demo_test").glob(f"*/{DEMO_MODEL}.seg.dcm")
    (seg_cpu,) = (work / "demo_cpu").glob(f"*/{DEMO_MODEL}.seg.dcm")
    test, cpu = _segments(seg_test, reference), _segments(seg_cpu, reference)
    empty = np.zeros(reference.GetSize()[::-1], dtype=bool)
    scores = {
        name: round(dice(test.get(name, empty), cpu.get(name, empty)), 6) for name in sorted(set(test) | set(cpu))
    }
    devices_ok = runs["test"]["devices"] == [device] and runs["cpu"]["devices"] == ["cpu"]
    return {"device": device, "runs": runs, "dice": scores, "dice_min": min(scores.values(), default=1.0),
            "devices_reported": devices_ok,
            "passed": bool(scores) and min(scores.values()) >= DICE_MIN and devices_ok}


def _write_ct(path: Path, shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> None:
    """A CT-like volume (body ellipse, organs, noise) as NIfTI; shape and spacing in (z, y, x)."""
    import SimpleITK as sitk

    rng = np.random.default_rng(0)
    z, y, x = np.ogrid[:shape[0], :shape[1], :shape[2]]
    cy, cx = shape[1] / 2, shape[2] / 2
    body = ((y - cy) / (0.42 * shape[1])) ** 2 + ((x - cx) / (0.46 * shape[2])) ** 2 <= 1
    organ = ((y - cy * 0.9) / (0.1 * shape[1])) ** 2 + ((x - cx * 1.2) / (0.12 * shape[2])) ** 2 + \
        ((z - shape[0] / 2) / (0.3 * shape[0])) ** 2 <= 1
    volume = np.where(body, 30.0, -1000.0) + np.where(organ, 60.0, 0.0)
    volume = (volume + rng.normal(0, 15, size=shape)).astype(np.int16)
    image = sitk.GetImageFromArray(volume)
    image.SetSpacing(tuple(float(s) for s in spacing[::-1]))
    sitk.WriteImage(image, str(path))


def time_fullsize(work: Path, device: str, sizes: Sizes) -> dict[str, Any]:
    """Time the runner's nnU-Net v2 prediction of one series with a full-size random-weights network."""
    import torch

    from mhubio.modules.runners.nnunet_common import skip_primus_trainers
    from tests.support.nnunet import write_nnunet_v2_model

    folder = write_nnunet_v2_model(
        work / "results", {f"class_{i}": i for i in range(1, sizes.classes + 1)},
        dataset_name="Dataset291_RandomTotalSegmentatorPart", configuration="3d_fullres",
        spacing=(1.5, 1.5, 1.5) if sizes is FULL else (6.0, 6.0, 6.0), patch_size=sizes.patch,
        features=sizes.features)
    ct = work / "ct.nii.gz"
    _write_ct(ct, sizes.ct_shape, sizes.ct_spacing)

    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    skip_primus_trainers()
    torch_device = torch.device(device)
    predictor = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=False,
                                perform_everything_on_device=True, device=torch_device, verbose=False,
                                verbose_preprocessing=False, allow_tqdm=False)
    predictor.initialize_from_trained_model_folder(str(folder), use_folds=(0,), checkpoint_name="checkpoint_final.pth")
    network_seconds = [0.0]
    calls = [0]
    started = [0.0]

    def sync() -> None:
        if torch_device.type == "cuda":
            torch.cuda.synchronize()

    def before(module, args) -> None:
        sync()
        started[0] = time.perf_counter()

    def after(module, args, output) -> None:
        sync()
        network_seconds[0] += time.perf_counter() - started[0]
        calls[0] += 1

    predictor.network.register_forward_pre_hook(before)
    predictor.network.register_forward_hook(after)
    reader = predictor.plans_manager.image_reader_writer_class()
    data, properties = reader.read_images([str(ct)])
    if torch_device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    runs = []
    for _ in range(2):  # the first run includes cuDNN autotuning and allocator warm-up
        network_seconds[0], calls[0] = 0.0, 0
        sync()
        start = time.perf_counter()
        segmentation = predictor.predict_single_npy_array(data, properties)
        sync()
        runs.append({"seconds": round(time.perf_counter() - start, 3), "network_seconds": round(network_seconds[0], 3),
                     "network_calls": calls[0]})
    last = runs[-1]
    result = {
        "device": device, "ct_shape_zyx": list(sizes.ct_shape), "ct_spacing_zyx_mm": list(sizes.ct_spacing),
        "network": {"features": list(sizes.features), "patch": list(sizes.patch), "classes": sizes.classes,
                    "parameters": sum(p.numel() for p in predictor.network.parameters())},
        "runs": runs, "seconds_per_series": last["seconds"],
        "share_outside_network": round(1 - last["network_seconds"] / last["seconds"], 3) if last["seconds"] else None,
        "output_shape_zyx": list(segmentation.shape),
        "passed": tuple(segmentation.shape) == tuple(sizes.ct_shape),
    }
    if torch_device.type == "cuda":
        result["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                        help="device under test (cpu: the CPU branch, for machines without a GPU)")
    parser.add_argument("--small", action="store_true", help="small CT and network: seconds on a CPU")
    parser.add_argument("--json", type=Path, default=Path("gpu_check.json"), help="result file")
    parser.add_argument("--skip-fullsize", action="store_true", help="only the torch and demo checks")
    args = parser.parse_args(argv)
    sizes = SMALL if args.small else FULL
    result: dict[str, Any] = {"device": args.device, "small": args.small, "torch": check_torch()}
    if args.device == "cuda" and not result["torch"]["cuda_available"]:
        result["error"] = ("CUDA is not usable: install the CUDA build of torch (pip install -c constraints-gpu.txt) "
                           "and run on a machine with an NVIDIA GPU and driver, or use --device cpu")
    else:
        with tempfile.TemporaryDirectory(prefix="mhub-gpu-check-") as tmp:
            work = Path(tmp)
            result["demo"] = compare_demo(work, args.device, sizes.demo_shape)
            if not args.skip_fullsize:
                result["fullsize"] = time_fullsize(work, args.device, sizes)
    parts = [result[k]["passed"] for k in ("demo", "fullsize") if k in result]
    result["passed"] = "error" not in result and bool(parts) and all(parts)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    tmp_json = args.json.with_name(f".{args.json.name}.tmp")
    tmp_json.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp_json, args.json)
    print(json.dumps({k: result.get(k) for k in ("torch", "error", "passed")}, indent=1))
    if "demo" in result:
        print(f"demo nnU-Net v2 {args.device} vs cpu: min Dice {result['demo']['dice_min']}, "
              f"devices reported: {result['demo']['devices_reported']}")
    if "fullsize" in result:
        f = result["fullsize"]
        print(f"full-size network on {args.device}: {f['seconds_per_series']} s per series, "
              f"{f['share_outside_network']:.0%} outside the network")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
