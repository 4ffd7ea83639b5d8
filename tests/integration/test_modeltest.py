"""``mhub test``: passes on the committed references, fails clearly on altered ones."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest

from mhubio.core.config import models_root
from mhubio.modeltest import ModelTestCase, dice, load_test_cases, run_case
from tests.helpers import run_mhub


def test_thresholder_matches_reference():
    done = run_mhub("test", "thresholder")
    assert done.returncode == 0, done.stdout
    assert "PASS thresholder [default] 1 file(s) compared" in done.stdout


def _altered_case(tmp_path) -> ModelTestCase:
    (case,) = load_test_cases(models_root() / "thresholder")
    reference = tmp_path / "reference"
    shutil.copytree(case.reference, reference)
    return ModelTestCase(case.workflow, case.sample, reference)


def _seg_file(folder):
    (path,) = folder.rglob("*.seg.dcm")
    return path


def test_altered_segment_mask_fails(tmp_path):
    case = _altered_case(tmp_path)
    path = _seg_file(case.reference)
    source = pydicom.dcmread(path)
    frames = source.pixel_array  # blank every frame of segment 2 (LUNG) in the reference
    numbers = [
        f.SegmentIdentificationSequence[0].ReferencedSegmentNumber for f in source.PerFrameFunctionalGroupsSequence
    ]
    frames[[n == 2 for n in numbers]] = 0
    source.PixelData = np.packbits(frames.astype(np.uint8).reshape(-1), bitorder="little").tobytes()
    source.save_as(path)
    result = run_case("thresholder", case)
    assert not result.passed
    assert any("segment 2 (LUNG) Dice 0.0000 < 0.99" in p for p in result.problems), result.problems


def test_altered_codes_and_missing_file_fail(tmp_path):
    case = _altered_case(tmp_path)
    path = _seg_file(case.reference)
    ds = pydicom.dcmread(path)
    ds.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0].CodeValue = "10200004"
    ds.save_as(path)
    result = run_case("thresholder", case)
    assert any("segments differ" in p for p in result.problems), result.problems
    path.rename(path.with_name("other.seg.dcm"))
    result = run_case("thresholder", case)
    assert any(p.startswith("missing output") for p in result.problems)
    assert any(p.startswith("unexpected output") for p in result.problems)


def test_dice():
    a = np.zeros((4, 4, 4), bool)
    b = a.copy()
    assert dice(a, b) == 1.0
    a[0, 0, :2] = True
    b[0, 0, 1:3] = True
    assert dice(a, b) == pytest.approx(0.5)
