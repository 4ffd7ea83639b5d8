"""The in-memory hand-off of images between steps gives the outputs of the file hand-off (``--keep-work``, where
every step writes its NIfTI work files and the next step reads them)."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from mhubio.synthetic import write_ct_series
from tests.helpers import read_report, run_mhub
from tests.radiomics_helpers import make_ct_with_seg

GENERATED = {"SOPInstanceUID", "SeriesInstanceUID", "InstanceCreationDate", "InstanceCreationTime", "ContentDate",
             "ContentTime", "SeriesDate", "SeriesTime", "StructureSetDate", "StructureSetTime", "TrackingUID",
             "DimensionOrganizationUID", "ReferencedSegmentationInstanceUID", "ContributionDateTime",
             "MediaStorageSOPInstanceUID", "UID"}
"""Values minted per run (UIDs, dates and times)."""


def _runs(model: str, input_dir: Path, tmp_path: Path, workflow: str = "default") -> tuple[Path, Path]:
    """The output folders of a run in memory and a run through work files (whose work folder is checked)."""
    outputs = []
    for mode in ("memory", "files"):
        out, work = tmp_path / f"out-{workflow}-{mode}", tmp_path / f"work-{workflow}-{mode}"
        extra = ["--work-dir", work, "--keep-work"] if mode == "files" else []
        done = run_mhub("run", "--model", model, "--workflow", workflow, "--input", input_dir, "--output", out,
                        *extra)
        assert done.returncode == 0, done.stdout
        assert {s["status"] for s in read_report(out)["series"]} == {"done"}
        outputs.append(out)
    return outputs[0], outputs[1]


def _content(dataset: pydicom.Dataset) -> object:
    """The dataset as nested values without the values minted per run."""
    def value(element: pydicom.DataElement) -> object:
        if element.VR == "SQ":
            return [_content(item) for item in element.value]
        return element.value

    return {element.keyword or str(element.tag): value(element) for element in dataset
            if element.keyword not in GENERATED}


def _same_dicom_outputs(memory: Path, files: Path, pattern: str) -> None:
    found = sorted(memory.rglob(pattern))
    assert found, pattern
    for path in found:
        other = files / path.relative_to(memory)
        assert _content(pydicom.dcmread(path)) == _content(pydicom.dcmread(other)), path.name


@pytest.mark.parametrize(("workflow", "pattern"), [("default", "*.seg.dcm"), ("rtstruct", "*.rtstruct.dcm")])
def test_thresholder_outputs_equal_the_file_hand_off(tmp_path, workflow, pattern):
    write_ct_series(tmp_path / "in", shape=(30, 80, 72), seed=21)
    memory, files = _runs("thresholder", tmp_path / "in", tmp_path, workflow)
    _same_dicom_outputs(memory, files, pattern)
    work = {p.name for p in (tmp_path / f"work-{workflow}-files").rglob("*.nii")}
    assert {"NiftiConverter.nifti.nii", "Thresholder.seg.nii"} <= work


def test_radiomics_outputs_equal_the_file_hand_off(tmp_path):
    make_ct_with_seg(tmp_path / "in", seed=12)
    memory, files = _runs("pyradiomics", tmp_path / "in", tmp_path)
    (table,) = sorted(memory.rglob("*.radiomics.csv"))
    assert table.read_bytes() == (files / table.relative_to(memory)).read_bytes()
    _same_dicom_outputs(memory, files, "*.radiomics.sr.dcm")
    assert any(p.name.endswith(".nii") for p in (tmp_path / "work-default-files").rglob("*"))
