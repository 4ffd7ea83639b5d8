"""OHIF draws a SEG made by the zoo over its CT: real CT pulled from Orthanc, thresholder SEG pushed back, viewer shot.

Needs Orthanc with DICOMweb, Chromium, node and npm (the OHIF site and puppeteer-core are fetched into .cache/ohif
once); skipped with the reason when one is missing.
"""

from __future__ import annotations

import pydicom
import pytest

from mhubio.cli import main
from mhubio.core.exitcodes import ExitCode
from tests.dicomweb.orthanc import PASSWORD, USER, start_orthanc
from tests.helpers import REAL_CT, read_report
from tests.viewer.ohif import chromium, ensure_ohif, screenshot, serve_viewer
from tests.viewer.overlay import check_segments, displayed_slice, load_ct, sample_viewport

pytestmark = pytest.mark.slow


@pytest.fixture
def orthanc(tmp_path):
    server = start_orthanc(tmp_path / "orthanc")
    yield server
    server.stop()


def test_ohif_draws_the_thresholder_seg_over_the_real_ct(orthanc, tmp_path, monkeypatch, capsys):
    if not REAL_CT.is_dir():
        pytest.skip(f"the real CT is not at {REAL_CT}")
    chromium()
    site = ensure_ohif()
    ct_files = sorted(REAL_CT.glob("*.dcm"))
    orthanc.upload(ct_files)
    study = pydicom.dcmread(ct_files[0], stop_before_pixels=True).StudyInstanceUID
    for name, value in orthanc.env().items():
        monkeypatch.setenv(name, value)

    code = main(["run", "--model", "thresholder", "--input", f"{orthanc.dicomweb}/studies/{study}",
                 "--output", str(tmp_path / "out"), "--push", orthanc.dicomweb, "--quiet"])
    assert code == ExitCode.SUCCESS, capsys.readouterr().err
    (pushed,) = read_report(tmp_path / "out")["dicomweb_push"]["files"]
    assert pushed["status"] == "stored"
    seg_path = tmp_path / "out" / pushed["path"]
    seg = pydicom.dcmread(seg_path, stop_before_pixels=True)

    with serve_viewer(site, orthanc.dicomweb, (USER, PASSWORD)) as origin:
        url = f"{origin}/viewer?StudyInstanceUIDs={study}&initialSeriesInstanceUID={seg.SeriesInstanceUID}"
        shot = screenshot(url, tmp_path / "ohif.png")
    assert shot["clicked"] == "Yes", shot  # OHIF offered the SEG and it was opened
    assert shot["canvas"] is not None, shot

    sop_uids, volume, spacing = load_ct(REAL_CT)
    sampled = sample_viewport(tmp_path / "ohif.png", shot["canvas"], volume.shape[1:], spacing)
    index = displayed_slice(sampled, volume)
    checks = check_segments(seg_path, sop_uids, sampled, index)
    present = [c for c in checks if c.mask_pixels >= 200]
    assert present, checks
    for check in present:
        assert check.drawn >= 100, check  # the segment colour is on screen...
        assert check.inside_fraction >= 0.9, check  # ...where the label map has the segment
        assert check.far_outside <= check.drawn // 1000, check  # ...and not far from any segment
    drawn = sum(c.drawn for c in present)
    assert sum(c.inside for c in present) >= 0.95 * drawn, checks
