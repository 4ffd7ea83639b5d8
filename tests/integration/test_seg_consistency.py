"""A third-party SEG that does not describe its image series fails the series, naming the check."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from tests.helpers import read_report, run_mhub
from tests.radiomics_helpers import make_ct_with_seg

pytest.importorskip("radiomics.featureextractor")


def edit_seg(path: Path, change) -> None:
    seg = pydicom.dcmread(path)
    change(seg)
    seg.save_as(path, enforce_file_format=True)


def other_frame_of_reference(seg) -> None:
    seg.FrameOfReferenceUID = "1.2.3.4.5.6.7"


def shifted_away(seg) -> None:
    for frame in seg.PerFrameFunctionalGroupsSequence:
        x, y, z = (float(v) for v in frame.PlanePositionSequence[0].ImagePositionPatient)
        frame.PlanePositionSequence[0].ImagePositionPatient = [x, y, z + 5000.0]


def foreign_reference(seg) -> None:
    seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID = "1.2.3.999"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "check", "extra", "status"),
    [
        (other_frame_of_reference, "frame_of_reference", (), "failed"),
        (shifted_away, "overlap", (), "failed"),
        (foreign_reference, "referenced_instances", (), "failed"),
        (foreign_reference, "referenced_instances", ("--set", "SegImporter.on_missing_references=warn"), "done"),
    ],
    ids=["frame_of_reference", "overlap", "missing_reference_reject", "missing_reference_warn"],
)
def test_seg_checks_through_mhub_run(tmp_path: Path, change, check: str, extra: tuple[str, ...], status: str):
    data = make_ct_with_seg(tmp_path / "in", seed=5)
    edit_seg(data.seg_path, change)
    done = run_mhub("run", "--model", "pyradiomics", "--input", tmp_path / "in", "--output", tmp_path / "out", *extra)
    report = read_report(tmp_path / "out")
    (series,) = report["series"]
    assert series["status"] == status, done.stdout
    if status == "failed":
        assert done.returncode == 5
        assert series["failed_step"] == "SegImporter" and f"SEG check '{check}'" in series["error"]
    else:
        assert done.returncode == 0
        assert any(f"SEG check '{check}'" in w for w in series["warnings"])
