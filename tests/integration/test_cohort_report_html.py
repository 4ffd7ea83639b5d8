"""``mhub_report.html``: written by every run, self-contained, rendered by headless Chromium without network."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from mhubio.synthetic import write_ct_series
from tests.helpers import REPO, run_mhub

pytestmark = pytest.mark.slow

ARTEFACTS = Path(os.environ.get("MHUB_TEST_ARTEFACTS", REPO / "test-artefacts"))


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def run_out(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report")
    for seed in range(3):
        write_ct_series(root / "in" / f"s{seed}", shape=(12, 40, 40), seed=seed, series_number=seed + 1)
    write_ct_series(root / "in" / "short", shape=(2, 40, 40), seed=9, series_number=9)
    done = run_mhub("run", "--model", "thresholder", "--input", root / "in", "--output", root / "out", "-q")
    assert done.returncode == 0, done.stdout
    return root / "out"


def test_report_is_one_offline_file(run_out):
    html = (run_out / "mhub_report.html").read_text(encoding="utf-8")
    assert not re.search(r"<script|<link|<img|<iframe|\bsrc=|url\(|@import", html, flags=re.I)
    assert not re.findall(r"(?:href)=\"(?:https?:)?//", html)
    assert html.count("<svg") >= 5
    for uid in (p.name for p in run_out.glob("1.*")):
        assert f'href="{uid}/thresholder.seg.dcm"' in html
    assert "<td>min_slices</td>" in html  # the QC rejection is counted by its check


def test_report_renders_in_headless_chromium_without_network(run_out, tmp_path):
    chromium = _chromium()
    page = (run_out / "mhub_report.html").as_uri()
    shot = tmp_path / "mhub_report.png"
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
              f"--user-data-dir={tmp_path / 'profile'}", "--proxy-server=http://127.0.0.1:9",
              "--proxy-bypass-list=<-loopback>", "--disable-background-networking"]
    dom = subprocess.run([*common, "--dump-dom", page], capture_output=True, text=True, timeout=120, check=True)
    assert "Measurements per segment" in dom.stdout and "<svg" in dom.stdout
    subprocess.run([*common, f"--screenshot={shot}", "--window-size=1200,1800", page], capture_output=True,
                   timeout=120, check=True)
    pixels = sitk.GetArrayFromImage(sitk.ReadImage(str(shot)))
    assert pixels.shape[:2] == (1800, 1200)
    assert np.count_nonzero(pixels[..., :3].min(axis=-1) < 200) > 1000  # text, tables and bars were drawn
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTEFACTS / shot.name)
