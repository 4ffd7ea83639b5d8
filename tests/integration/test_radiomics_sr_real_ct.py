"""The thresholder + radiomics chain on the real CT (134 slices): the SEG names the thresholder truthfully and the
radiomics SR is one other readers can afford (PixelMed's validator in a 2 GB heap) and link to the SEG segments."""

from __future__ import annotations

import highdicom as hd
import pydicom
import pytest
from pydicom.sr.codedict import codes

from tests.helpers import REAL_CT, dciodvfy_errors, pixelmed_sr_validation, read_report, run_mhub
from tests.radiomics_helpers import THRESHOLDER_WITH_RADIOMICS

pytest.importorskip("radiomics")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """SEG and radiomics SR of the thresholder chain run on the real CT."""
    if not REAL_CT.is_dir():
        pytest.skip("shared real CT not present")
    folder = tmp_path_factory.mktemp("real_ct_sr")
    config = folder / "thresholder_radiomics.yml"
    config.write_text(THRESHOLDER_WITH_RADIOMICS)
    out = folder / "out"
    done = run_mhub("run", "--config", config, "--input", REAL_CT, "--output", out, "--quiet")
    assert done.returncode == 0, done.stdout
    (series,) = read_report(out)["series"]
    folder = out / series["series_uid"]
    return folder / "thresholder.seg.dcm", folder / "thresholder.radiomics.sr.dcm"


@pytest.mark.slow
def test_thresholder_seg_states_classical_family_and_automatic_type(outputs):
    seg = pydicom.dcmread(outputs[0], stop_before_pixels=True)
    assert len(seg.SegmentSequence) == 3
    for segment in seg.SegmentSequence:
        assert segment.SegmentAlgorithmType == "AUTOMATIC"
        assert segment.SegmentAlgorithmName == "MHub HU Thresholder"
        (identification,) = segment.SegmentationAlgorithmIdentificationSequence
        (family,) = identification.AlgorithmFamilyCodeSequence
        assert (family.CodingSchemeDesignator, family.CodeValue, family.CodeMeaning) == ("DCM", "123105",
                                                                                          "Histogram Analysis")
        assert codes.cid7162.HistogramAnalysis.value == family.CodeValue
        assert identification.AlgorithmName == "MHub HU Thresholder"


@pytest.mark.slow
def test_measurement_groups_carry_the_tracking_uids_of_the_seg_segments(outputs):
    seg = pydicom.dcmread(outputs[0], stop_before_pixels=True)
    seg_uids = {int(s.SegmentNumber): str(s.TrackingUID) for s in seg.SegmentSequence}
    groups = hd.sr.srread(outputs[1]).content.get_volumetric_roi_measurement_groups()
    assert len(groups) == 3
    linked = {g.referenced_segment.referenced_segment_numbers[0]: g.tracking_uid for g in groups}
    assert linked == seg_uids


@pytest.mark.slow
def test_image_library_lists_each_slice_once_with_shared_context_once(outputs):
    sr = pydicom.dcmread(outputs[1])
    (library,) = [i for i in sr.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "111028"]
    (group,) = library.ContentSequence
    entries = [i for i in group.ContentSequence if i.ValueType == "IMAGE"]
    shared = [i for i in group.ContentSequence if i.ValueType != "IMAGE"]
    assert len(entries) == len({e.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for e in entries}) == 134
    shared_names = {i.ConceptNameCodeSequence[0].CodeMeaning for i in shared}
    assert {"Modality", "Frame of Reference UID", "Pixel Data Rows", "Pixel Data Columns"} <= shared_names
    for entry in entries:
        own = {i.ConceptNameCodeSequence[0].CodeMeaning for i in entry.get("ContentSequence", [])}
        assert own and not own & shared_names  # the slice position, nothing stated on the group
    assert (sr.CompletionFlag, sr.VerificationFlag, sr.PreliminaryFlag) == ("COMPLETE", "UNVERIFIED", "FINAL")
    assert dciodvfy_errors(outputs[1]) == []


@pytest.mark.slow
def test_pixelmed_validates_it_within_a_2_gb_heap(outputs):
    output = pixelmed_sr_validation(outputs[1], heap="2g")
    assert "OutOfMemoryError" not in output
    assert "Found Root Template TID_1500 (MeasurementReport)" in output
    assert "Root Template Validation Complete" in output
    assert [line for line in output.splitlines() if line.startswith("Error:")] == []
