"""The CPU branch of ``benchmarks/gpu_check.py`` (no GPU here): the same code paths with ``--device cpu --small``."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("nnunetv2")

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "gpu_check.py"


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_cuda_requested_without_cuda_fails_with_the_fix(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = tmp_path / "r.json"
    assert _load().main(["--device", "cuda", "--json", str(out)]) == 1
    result = json.loads(out.read_text())
    assert result["passed"] is False and "constraints-gpu.txt" in result["error"]
    assert result["torch"]["cuda_available"] is False and "demo" not in result


def test_dice():
    import numpy as np

    dice = _load().dice
    a = np.zeros((4, 4), bool)
    b = a.copy()
    assert dice(a, b) == 1.0
    a[0, :2], b[0, 1:3] = True, True
    assert dice(a, b) == 0.5


@pytest.mark.slow
def test_cpu_branch_runs_demo_and_fullsize_and_writes_json(tmp_path):
    out = tmp_path / "result.json"
    module = _load()
    assert module.main(["--device", "cpu", "--small", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    demo, full = result["demo"], result["fullsize"]
    assert result["passed"] and demo["passed"] and full["passed"]
    assert set(demo["dice"]) >= {"LEFT_LUNG", "RIGHT_LUNG", "HEART"} and demo["dice_min"] == 1.0
    assert demo["runs"]["test"]["devices"] == demo["runs"]["cpu"]["devices"] == ["cpu"]
    assert full["output_shape_zyx"] == list(module.SMALL.ct_shape)
    assert full["network"]["features"] == list(module.SMALL.features) and full["network"]["parameters"] > 0
    # 16 x 32 x 32 voxels, 16^3 patches at step 0.5: 1 x 3 x 3 windows, two timed runs
    assert [r["network_calls"] for r in full["runs"]] == [9, 9]
    assert 0.0 <= full["share_outside_network"] <= 1.0
