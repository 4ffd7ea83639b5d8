"""The radiomics SR against the field's validators and readers: dciodvfy, dsrdump, PixelMed, dcmqi, highdicom."""

from __future__ import annotations

import json
import subprocess

import highdicom as hd
import pydicom
import pytest
from pydicom.valuerep import format_number_as_ds

from mhubio.radiomics import coded_features, extract_features
from mhubio.sr.radiomics import encode_radiomics_sr
from mhubio.sr.segments import segment_coding
from tests.helpers import dciodvfy_errors, pixelmed_sr_validation, tool
from tests.radiomics_helpers import make_ct_with_seg

pytest.importorskip("radiomics")

@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """Synthetic CT + SEG (every phantom organ), the features and our SR of them."""
    folder = tmp_path_factory.mktemp("validation")
    data = make_ct_with_seg(folder, seed=5)
    result = extract_features(data.image, data.labels, data.segments)
    numbers = {data.segments[v]: n for v, n in data.segment_numbers.items()}
    encoded = encode_radiomics_sr(result.segments, data.seg, data.headers, algorithm_name="pyradiomics",
                                  algorithm_version=result.algorithm_version, segment_numbers=numbers)
    path = folder / "ours.sr.dcm"
    encoded.dataset.save_as(path, enforce_file_format=True)
    return data, result, path, folder


def tid1500reader(path, out):
    done = subprocess.run([tool("tid1500reader"), "--inputDICOM", str(path), "--outputMetadata", str(out)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert done.returncode == 0, done.stdout
    return json.loads(out.read_text())


def _code(item: dict) -> tuple[str, str, str]:
    return (item["CodingSchemeDesignator"], item["CodeValue"], item["CodeMeaning"])


def test_dciodvfy_reports_no_errors(case):
    _, _, path, _ = case
    assert dciodvfy_errors(path) == []


def test_dsrdump_reads_it(case):
    _, _, path, _ = case
    done = subprocess.run([tool("dsrdump"), str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False)
    assert done.returncode == 0, done.stdout
    assert "Enhanced SR Document" in done.stdout
    assert done.stdout.count('CONTAINER:(,,"Measurement Group")') == len(case[1].segments)


@pytest.mark.slow
def test_pixelmed_finds_tid_1500_and_no_errors(case):
    _, _, path, _ = case
    output = pixelmed_sr_validation(path)
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert errors == []
    assert "Found Root Template TID_1500 (MeasurementReport)" in output
    assert "Root Template Validation Complete" in output


def test_dcmqi_reads_every_measurement(case):
    data, result, path, folder = case
    back = tid1500reader(path, folder / "ours.json")
    assert back["SeriesDescription"] == "Radiomics features"
    assert back["observerContext"]["DeviceObserverName"] == "pyradiomics"
    groups = back["Measurements"]
    assert [g["TrackingIdentifier"] for g in groups] == [
        pydicom.dcmread(data.seg_path).SegmentSequence[data.segment_numbers[s.label_value] - 1].SegmentLabel
        for s in result.segments
    ]
    seg_uid = pydicom.dcmread(data.seg_path, stop_before_pixels=True).SOPInstanceUID
    for group, features in zip(groups, result.segments, strict=True):
        assert group["segmentationSOPInstanceUID"] == seg_uid
        assert group["ReferencedSegment"] == data.segment_numbers[features.label_value]
        assert group["SourceSeriesForImageSegmentation"] == data.series.series_uid
        items = group["measurementItems"]
        assert len(items) == 14
        for item, code in zip(items, coded_features(), strict=True):
            assert _code(item["quantity"]) == (code.quantity.scheme_designator, code.quantity.value,
                                               code.quantity.meaning)
            assert _code(item["units"]) == (code.unit.scheme_designator, code.unit.value, code.unit.meaning)
            assert float(item["value"]) == pytest.approx(features.features[code.key], rel=1e-6)
            assert item["measurementAlgorithmIdentification"]["AlgorithmName"] == "pyradiomics"
            assert item["measurementAlgorithmIdentification"]["AlgorithmVersion"] == "3.0.1"


def _dcmqi_metadata(data, result, seg) -> dict:
    """The same numbers as a dcmqi tid1500writer JSON (values as DICOM DS strings, as dcmqi requires)."""

    def code(concept) -> dict:
        return {"CodeValue": concept.value, "CodingSchemeDesignator": concept.scheme_designator,
                "CodeMeaning": concept.meaning}

    groups = []
    for features in result.segments:
        coding = segment_coding(seg, data.segment_numbers[features.label_value])
        group = {
            "TrackingIdentifier": coding.label,
            "ReferencedSegment": coding.number,
            "SourceSeriesForImageSegmentation": data.series.series_uid,
            "segmentationSOPInstanceUID": seg.SOPInstanceUID,
            "Finding": code(coding.finding),
            # TID 1411 Finding Category (SCT 276214006); dcmqi writes and reads it as a qualitative evaluation
            "qualitativeEvaluations": [{"conceptCode": {"CodeValue": "276214006", "CodingSchemeDesignator": "SCT",
                                                        "CodeMeaning": "Finding category"},
                                        "conceptValue": code(coding.category)}],
        }
        if coding.finding_site is not None:
            group["FindingSite"] = code(coding.finding_site.value)
            if coding.finding_site.laterality is not None:
                group["Laterality"] = code(coding.finding_site.laterality)
        group["measurementItems"] = [
            {
                "value": format_number_as_ds(features.features[c.key]),
                "quantity": code(c.quantity),
                "units": code(c.unit),
                "measurementAlgorithmIdentification": {"AlgorithmName": "pyradiomics",
                                                       "AlgorithmVersion": result.algorithm_version},
            }
            for c in coded_features()
        ]
        groups.append(group)
    return {
        "SeriesDescription": "Radiomics features", "SeriesNumber": "902", "InstanceNumber": "1",
        "compositeContext": [data.seg_path.name], "imageLibrary": [f.name for f in data.series.files],
        "observerContext": {"ObserverType": "DEVICE", "DeviceObserverName": "pyradiomics",
                            "DeviceObserverModelName": result.algorithm_version},
        "VerificationFlag": "UNVERIFIED", "CompletionFlag": "COMPLETE",
        "procedureReported": {"CodeValue": "363679005", "CodingSchemeDesignator": "SCT",
                              "CodeMeaning": "Imaging procedure"},
        "Measurements": groups,
    }


def _comparable(group: dict) -> dict:
    return {k: v for k, v in group.items() if k != "TrackingUniqueIdentifier"}


@pytest.fixture(scope="module")
def dcmqi_sr(case):
    """dcmqi tid1500writer's encoding of the same numbers, image library and SEG."""
    data, result, _, folder = case
    seg = pydicom.dcmread(data.seg_path, stop_before_pixels=True)
    (folder / "dcmqi.json").write_text(json.dumps(_dcmqi_metadata(data, result, seg)))
    done = subprocess.run(
        [tool("tid1500writer"), "--inputMetadata", str(folder / "dcmqi.json"), "--inputImageLibraryDirectory",
         str(data.series.directory), "--inputCompositeContextDirectory", str(data.seg_path.parent),
         "--outputDICOM", str(folder / "dcmqi.sr.dcm")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert done.returncode == 0 and "Skipping" not in done.stdout, done.stdout
    return folder / "dcmqi.sr.dcm"


def test_matches_a_dcmqi_tid1500writer_encoding_item_for_item(case, dcmqi_sr):
    _, result, path, folder = case
    theirs = tid1500reader(dcmqi_sr, folder / "dcmqi_back.json")
    ours = tid1500reader(path, folder / "ours_back.json")
    assert len(theirs["Measurements"]) == len(ours["Measurements"]) == len(result.segments)
    for their_group, our_group in zip(theirs["Measurements"], ours["Measurements"], strict=True):
        assert _comparable(our_group) == _comparable(their_group)
    assert ours["imageLibrary"] == theirs["imageLibrary"]
    assert pydicom.dcmread(path).SOPClassUID == pydicom.dcmread(dcmqi_sr).SOPClassUID


def test_highdicom_reads_the_dcmqi_and_our_encoding_alike(case, dcmqi_sr):
    _, _, path, _ = case
    ours = hd.sr.srread(path).content.get_volumetric_roi_measurement_groups()
    theirs = hd.sr.srread(dcmqi_sr).content.get_volumetric_roi_measurement_groups()
    assert len(ours) == len(theirs)
    for our_group, their_group in zip(ours, theirs, strict=True):
        assert our_group.referenced_segment.referenced_segment_numbers == \
            their_group.referenced_segment.referenced_segment_numbers
        assert our_group.finding_type == their_group.finding_type
        for a, b in zip(our_group.get_measurements(), their_group.get_measurements(), strict=True):
            assert (a.name, a.unit) == (b.name, b.unit)
            assert a.value == pytest.approx(b.value, rel=1e-9)
