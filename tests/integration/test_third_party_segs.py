"""SEGs written by other tools (dcmqi, highdicom) through the pyradiomics model: every segment measured with
its own codes (legacy SRT codes mapped to SCT), values equal pyradiomics' own on the same mask, SR valid."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from scipy import ndimage

from mhubio.segdb import get_segment, to_segment_description
from mhubio.synthetic import SyntheticSeries, write_ct_series
from tests.helpers import dciodvfy_errors, tool
from tests.integration.test_radiomics_model import run_model
from tests.radiomics_helpers import SMALL_SHAPE, SMALL_SPACING, ct_image, label_image, pyradiomics_shape

pytest.importorskip("radiomics.featureextractor")

SR_NAME = "pyradiomics.radiomics.sr.dcm"
ALGORITHM = hd.AlgorithmIdentificationSequence("Other tool", hd.sr.CodedConcept("123110", "DCM",
                                               "Artificial Intelligence"), "1")


@dataclass
class Case:
    """A CT series written once, its image and three masks: liver (without the lesion), lesion, heart."""

    series: SyntheticSeries
    image: sitk.Image
    masks: dict[str, np.ndarray]

    @property
    def headers(self) -> list[pydicom.Dataset]:
        return [pydicom.dcmread(f) for f in self.series.files]

    def input_folder(self, folder: Path) -> Path:
        """A fresh input folder holding (links to) the CT files."""
        (folder / "ct").mkdir(parents=True)
        for path in self.series.files:
            (folder / "ct" / path.name).symlink_to(path)
        return folder

    def mask_image(self, array: np.ndarray) -> sitk.Image:
        return label_image(array, self.image)


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> Case:
    series = write_ct_series(tmp_path_factory.mktemp("ct") / "ct", shape=SMALL_SHAPE, spacing=SMALL_SPACING, seed=31)
    liver = series.phantom.mask("LIVER")
    columns = np.nonzero(liver.any(axis=(0, 1)))[0]
    lesion = liver.copy()
    lesion[..., : int(np.median(columns))] = False
    return Case(series, ct_image(series), {"liver": liver & ~lesion, "lesion": lesion,
                                           "heart": series.phantom.mask("HEART")})


def highdicom_seg(case: Case, pixels: np.ndarray, descriptions, segmentation_type: str = "BINARY",
                  sources: slice = slice(None), **options) -> hd.seg.Segmentation:
    return hd.seg.Segmentation(
        source_images=case.headers[sources], pixel_array=pixels[sources], segmentation_type=segmentation_type,
        segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=40,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="Other tool", manufacturer_model_name="Test",
        software_versions="1", device_serial_number="1", **options,
    )


def registry_descriptions(*segment_ids: str) -> list[hd.seg.SegmentDescription]:
    return [to_segment_description(get_segment(s), n, ALGORITHM) for n, s in enumerate(segment_ids, start=1)]


# dicom3tools 2022 predates the Label Map Segmentation SOP Class (2024): it takes the SR's correct references to
# a LABELMAP SEG for references to a non-segmentation object, one error per referenced segment.
LABELMAP_UNKNOWN_TO_DCIODVFY = ("Error - Shall not be present for Referenced SOP Class that is not segmentation - "
                                "attribute <ReferencedSegmentNumber>")


def measured(tmp_path: Path, input_dir: Path, *extra: str, labelmap: bool = False
             ) -> tuple[dict, hd.sr.EnhancedSR, Path]:
    """Run the model; the series entry of the report, the SR (validated by dciodvfy and dcmqi) and its path."""
    done, report = run_model(input_dir, tmp_path / "out", *extra)
    assert done.returncode == 0, done.stdout
    (series,) = report["series"]
    assert report["skipped_series"] == []
    assert [(s["modality"], s["read_by"]) for s in report["input_series"]] == [("SEG", "SegImporter")]
    assert "0 skipped" in done.stdout and "skipped series" not in done.stdout
    path = tmp_path / "out" / series["series_uid"] / SR_NAME
    sr = hd.sr.srread(path)
    if labelmap:
        done = subprocess.run([tool("dciodvfy"), str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, check=False)
        errors = [line for line in done.stdout.splitlines() if line.startswith("Error")]
        assert errors == [LABELMAP_UNKNOWN_TO_DCIODVFY] * len(groups_by_label(sr)), done.stdout
    else:
        assert dciodvfy_errors(path) == []
    back = subprocess.run([tool("tid1500reader"), "--inputDICOM", str(path), "--outputMetadata",
                           str(tmp_path / "back.json")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False)
    assert back.returncode == 0, back.stdout
    groups = json.loads((tmp_path / "back.json").read_text())["Measurements"]
    assert all(len(g["measurementItems"]) == 14 for g in groups)
    return series, sr, path


def groups_by_label(sr: hd.sr.EnhancedSR) -> dict[str, hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations]:
    return {g.tracking_identifier: g for g in sr.content.get_volumetric_roi_measurement_groups()}


def values(group) -> dict[str, float]:
    from mhubio.radiomics import coded_features

    keys = {(c.quantity.scheme_designator, c.quantity.value): c.key for c in coded_features()}
    return {keys[(m.name.scheme_designator, m.name.value)]: m.value for m in group.get_measurements()}


def assert_pyradiomics_values(case: Case, group, mask: np.ndarray) -> None:
    truth = pyradiomics_shape(case.image, case.mask_image(mask))
    got = values(group)
    assert got.keys() == truth.keys()
    for key, value in truth.items():
        assert got[key] == pytest.approx(value, rel=1e-6), key


def code_of(concept) -> tuple[str, str]:
    return (concept.scheme_designator, concept.value)


def schemes(dataset: pydicom.Dataset) -> set[str]:
    """Every CodingSchemeDesignator anywhere in ``dataset``."""
    found: set[str] = set()

    def visit(ds: pydicom.Dataset, _element: pydicom.DataElement) -> None:
        if _element.keyword == "CodingSchemeDesignator":
            found.add(str(_element.value))

    dataset.walk(visit)
    return found


def srt_code(value: str, meaning: str) -> dict[str, str]:
    return {"CodeValue": value, "CodingSchemeDesignator": "SRT", "CodeMeaning": meaning}


def test_dcmqi_seg_with_legacy_srt_codes(case, tmp_path):
    """dcmqi itkimage2segimage from a NIfTI label map and a JSON coded in SNOMED RT, as many public SEGs are."""
    labels = np.zeros(case.series.phantom.shape, np.uint8)
    for value, name in enumerate(("liver", "heart", "lesion"), start=1):
        labels[case.masks[name]] = value
    sitk.WriteImage(case.mask_image(labels), str(tmp_path / "labels.nii.gz"))
    anatomy = srt_code("T-D000A", "Anatomical Structure")
    segments = [
        {"labelID": 1, "SegmentDescription": "Liver", "SegmentAlgorithmType": "MANUAL",
         "SegmentedPropertyCategoryCodeSequence": anatomy,
         "SegmentedPropertyTypeCodeSequence": srt_code("T-62000", "Liver")},
        {"labelID": 2, "SegmentDescription": "Heart", "SegmentAlgorithmType": "MANUAL",
         "SegmentedPropertyCategoryCodeSequence": anatomy,
         "SegmentedPropertyTypeCodeSequence": srt_code("T-32000", "Heart")},
        {"labelID": 3, "SegmentDescription": "Lesion", "SegmentAlgorithmType": "MANUAL",
         "SegmentedPropertyCategoryCodeSequence": srt_code("M-01000", "Morphologically Altered Structure"),
         "SegmentedPropertyTypeCodeSequence": srt_code("M-03000", "Mass"),
         "AnatomicRegionSequence": srt_code("T-62000", "Liver")},
    ]
    metadata = {"ContentCreatorName": "Reader", "ClinicalTrialSeriesID": "1", "ClinicalTrialTimePointID": "1",
                "SeriesDescription": "dcmqi SEG", "SeriesNumber": "300", "InstanceNumber": "1",
                "BodyPartExamined": "", "segmentAttributes": [segments]}
    (tmp_path / "meta.json").write_text(json.dumps(metadata))
    input_dir = case.input_folder(tmp_path / "in")
    done = subprocess.run([tool("itkimage2segimage"), "--inputImageList", str(tmp_path / "labels.nii.gz"),
                           "--inputDICOMDirectory", str(input_dir / "ct"), "--outputDICOM",
                           str(input_dir / "seg.dcm"), "--inputMetadata", str(tmp_path / "meta.json")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert done.returncode == 0, done.stdout
    seg = pydicom.dcmread(input_dir / "seg.dcm", stop_before_pixels=True)
    assert {str(s.SegmentedPropertyTypeCodeSequence[0].CodingSchemeDesignator) for s in seg.SegmentSequence} == {
        "SRT"}

    series, sr, path = measured(tmp_path, input_dir)
    assert series["notes"]["seg_input"][0]["segments"] == {"1": "LIVER", "2": "HEART", "3": "segment-3"}
    mappings = {(m["segment"], m["role"]): (m["from"], m["to"]) for m in series["notes"]["code_mappings"]}
    assert mappings == {
        (1, "category"): ("SRT T-D000A", "SCT 123037004"), (1, "type"): ("SRT T-62000", "SCT 10200004"),
        (2, "category"): ("SRT T-D000A", "SCT 123037004"), (2, "type"): ("SRT T-32000", "SCT 80891009"),
        (3, "category"): ("SRT M-01000", "SCT 49755003"), (3, "type"): ("SRT M-03000", "SCT 4147007"),
        (3, "region"): ("SRT T-62000", "SCT 10200004"),
    }
    assert "SRT" not in schemes(pydicom.dcmread(path))
    groups = groups_by_label(sr)
    assert sorted(groups) == ["Heart", "Lesion", "Liver"]
    assert code_of(groups["Liver"].finding_type) == ("SCT", "10200004")
    assert groups["Liver"].finding_type.meaning == get_segment("LIVER").type.meaning
    assert code_of(groups["Heart"].finding_type) == ("SCT", "80891009")
    lesion = groups["Lesion"]
    assert code_of(lesion.finding_type) == ("SCT", "4147007")
    assert [code_of(s.value) for s in lesion.finding_sites] == [("SCT", "10200004")]
    assert code_of(lesion.finding_category) == ("SCT", "49755003")
    for label, name in (("Liver", "liver"), ("Heart", "heart"), ("Lesion", "lesion")):
        assert_pyradiomics_values(case, groups[label], case.masks[name])


def test_highdicom_seg_with_codes_the_registry_does_not_know(case, tmp_path):
    mass = hd.seg.SegmentDescription(
        1, "Mass", hd.sr.CodedConcept("49755003", "SCT", "Morphologically Abnormal Structure"),
        hd.sr.CodedConcept("4147007", "SCT", "Mass"), hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC, ALGORITHM,
        anatomic_regions=[hd.sr.CodedConcept("10200004", "SCT", "Liver")])
    blob = hd.seg.SegmentDescription(
        2, "Blob", hd.sr.CodedConcept("85756007", "SCT", "Tissue"), hd.sr.CodedConcept("B-1", "99MHUBTEST", "Blob"),
        hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC, ALGORITHM)
    pixels = np.stack([case.masks["lesion"], case.masks["heart"]], axis=-1).astype(np.uint8)
    input_dir = case.input_folder(tmp_path / "in")
    highdicom_seg(case, pixels, [mass, blob]).save_as(input_dir / "seg.dcm")
    series, sr, _ = measured(tmp_path, input_dir)
    assert series["notes"]["seg_input"][0]["segments"] == {"1": "segment-1", "2": "segment-2"}
    assert "code_mappings" not in series["notes"]
    groups = groups_by_label(sr)
    assert code_of(groups["Mass"].finding_type) == ("SCT", "4147007")
    assert [code_of(s.value) for s in groups["Mass"].finding_sites] == [("SCT", "10200004")]
    assert code_of(groups["Blob"].finding_type) == ("99MHUBTEST", "B-1")
    assert code_of(groups["Blob"].finding_category) == ("SCT", "85756007")
    assert_pyradiomics_values(case, groups["Mass"], case.masks["lesion"])
    assert_pyradiomics_values(case, groups["Blob"], case.masks["heart"])
    table = json.loads((tmp_path / "out" / series["series_uid"] / "pyradiomics.radiomics.json").read_text())
    assert [s["segment_id"] for s in table["segments"]] == ["segment-1", "segment-2"]


def test_labelmap_seg(case, tmp_path):
    labels = case.masks["liver"].astype(np.uint8) + 2 * case.masks["heart"].astype(np.uint8)
    input_dir = case.input_folder(tmp_path / "in")
    highdicom_seg(case, labels, registry_descriptions("LIVER", "HEART"), "LABELMAP").save_as(input_dir / "seg.dcm")
    series, sr, _ = measured(tmp_path, input_dir, labelmap=True)
    assert series["notes"]["seg_input"][0]["segmentation_type"] == "LABELMAP"
    assert series["notes"]["seg_input"][0]["segments"] == {"1": "LIVER", "2": "HEART"}
    groups = groups_by_label(sr)
    assert_pyradiomics_values(case, groups["Liver"], case.masks["liver"])
    assert_pyradiomics_values(case, groups["Heart"], case.masks["heart"])


def test_fractional_seg_is_thresholded_at_the_configured_value(case, tmp_path):
    liver = case.masks["liver"] | case.masks["lesion"]
    halo = ndimage.binary_dilation(liver) & ~liver
    probability = np.zeros(liver.shape, np.float32)
    probability[liver], probability[halo] = 0.8, 0.4
    heart = np.where(case.masks["heart"], 0.6, 0.0).astype(np.float32)
    pixels = np.stack([probability, heart], axis=-1)
    input_dir = case.input_folder(tmp_path / "in")
    highdicom_seg(case, pixels, registry_descriptions("LIVER", "HEART"), "FRACTIONAL",
                  max_fractional_value=200).save_as(input_dir / "seg.dcm")

    series, sr, _ = measured(tmp_path, input_dir)
    (seg_input,) = series["notes"]["seg_input"]
    assert (seg_input["segmentation_type"], seg_input["fractional_threshold"]) == ("FRACTIONAL", 0.5)
    assert_pyradiomics_values(case, groups_by_label(sr)["Liver"], liver)
    assert_pyradiomics_values(case, groups_by_label(sr)["Heart"], case.masks["heart"])

    series, sr, _ = measured(tmp_path / "low", input_dir, "--set", "SegImporter.fractional_threshold=0.3")
    assert series["notes"]["seg_input"][0]["fractional_threshold"] == 0.3
    assert_pyradiomics_values(case, groups_by_label(sr)["Liver"], liver | halo)


def test_seg_covering_a_slab_of_the_series(case, tmp_path):
    slab = slice(6, 15)
    pixels = np.stack([case.masks["liver"], case.masks["heart"]], axis=-1).astype(np.uint8)
    input_dir = case.input_folder(tmp_path / "in")
    highdicom_seg(case, pixels, registry_descriptions("LIVER", "HEART"), sources=slab).save_as(input_dir / "seg.dcm")
    series, sr, _ = measured(tmp_path, input_dir)
    groups = groups_by_label(sr)
    for label, name in (("Liver", "liver"), ("Heart", "heart")):
        expected = np.zeros_like(case.masks[name])
        expected[slab] = case.masks[name][slab]
        assert expected.any() and not np.array_equal(expected, case.masks[name])
        assert_pyradiomics_values(case, groups[label], expected)
