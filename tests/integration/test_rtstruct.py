"""RT Structure Sets out (real CT, checked by dciodvfy and rt-utils) and in (rt-utils' through the radiomics model)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from scipy import ndimage

from mhubio.core.algorithm import AlgorithmFamily
from mhubio.core.data import AlgorithmInfo
from mhubio.dicom.scan import scan_folder
from mhubio.rtstruct import encode_rtstruct, read_rois
from mhubio.rtstruct.to_seg import NON_SPECIFIC_VOLUME
from mhubio.seg.decode import segment_mask
from mhubio.segdb import get_segment
from mhubio.synthetic import write_ct_series
from tests.helpers import REAL_CT, dciodvfy_errors, read_report, run_mhub, tool
from tests.radiomics_helpers import ct_image

rt_utils = pytest.importorskip("rt_utils")
# rt-utils 1.2.7 sets the transfer syntax the pydicom 2 way; pydicom 3 still honours it, with a deprecation warning
pytestmark = pytest.mark.filterwarnings("ignore:'FileDataset.is_:DeprecationWarning")

SEGMENTS = {1: "BODY", 2: "LUNG", 3: "HEART"}


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float(np.logical_and(a, b).sum()) / float(a.sum() + b.sum())


def real_ct_label_map(folder: Path) -> tuple[sitk.Image, list[pydicom.Dataset]]:
    """Body (above -500 HU, holes filled), lungs (air inside the body) and a box in the mediastinum."""
    (series,) = scan_folder(folder).series.values()
    headers = list(series.headers())
    image = sitk.ReadImage([str(i.path) for i in series.sorted_instances()])
    hu = sitk.GetArrayFromImage(image)
    body = np.stack([ndimage.binary_fill_holes(s) for s in ndimage.binary_opening(hu > -500, iterations=2)])
    lungs = ndimage.binary_opening(body & (hu < -400), iterations=2)
    labels = np.zeros(hu.shape, dtype=np.uint8)
    labels[body] = 1
    labels[lungs] = 2
    labels[50:70, 230:280, 230:290] = 3
    label_map = sitk.GetImageFromArray(labels)
    label_map.CopyInformation(image)
    return label_map, headers


@pytest.mark.slow
@pytest.mark.skipif(not REAL_CT.is_dir(), reason=f"the real CT is not at {REAL_CT}")
def test_rtstruct_of_the_real_ct_validates_and_reads_back_in_rt_utils(tmp_path):
    label_map, headers = real_ct_label_map(REAL_CT)
    algorithm = AlgorithmInfo("Test segmenter", "1.0", AlgorithmFamily.ARTIFICIAL_INTELLIGENCE)
    result = encode_rtstruct(label_map, headers, SEGMENTS, algorithm)
    path = tmp_path / "structures.rtstruct.dcm"
    result.dataset.save_as(path, enforce_file_format=True)
    assert dciodvfy_errors(path) == []

    dataset = pydicom.dcmread(path)
    (frame,) = dataset.ReferencedFrameOfReferenceSequence
    assert frame.FrameOfReferenceUID == headers[0].FrameOfReferenceUID
    (series,) = frame.RTReferencedStudySequence[0].RTReferencedSeriesSequence
    assert series.SeriesInstanceUID == headers[0].SeriesInstanceUID
    assert {i.ReferencedSOPInstanceUID for i in series.ContourImageSequence} == {h.SOPInstanceUID for h in headers}
    positions = {h.SOPInstanceUID: float(h.ImagePositionPatient[2]) for h in headers}
    for roi in dataset.ROIContourSequence:
        for contour in roi.ContourSequence[:50]:  # each contour lies on the image it references
            z = np.asarray(contour.ContourData, dtype=float)[2::3]
            assert np.allclose(z, positions[contour.ContourImageSequence[0].ReferencedSOPInstanceUID], atol=1e-3)

    expected = sitk.GetArrayFromImage(label_map)
    rois = read_rois(dataset)
    for roi, (value, segment_id) in zip(rois, SEGMENTS.items(), strict=True):
        definition = get_segment(segment_id)
        assert (roi.name, roi.segment_id, roi.color) == (definition.label, segment_id, definition.color)
        assert (roi.codes.category, roi.codes.type) == (definition.category, definition.type)
        assert np.array_equal(roi.mask(label_map), expected == value)  # our reader: voxel for voxel

    second = rt_utils.RTStructBuilder.create_from(str(REAL_CT), str(path))
    for value, segment_id in SEGMENTS.items():
        theirs = np.moveaxis(second.get_roi_mask_by_name(get_segment(segment_id).label), -1, 0)
        assert dice(theirs, expected == value) >= 0.95, segment_id


def test_rtstruct_workflow_writes_the_structure_set_beside_the_seg(tmp_path):
    series = write_ct_series(tmp_path / "in", shape=(16, 48, 48), seed=3)
    done = run_mhub("run", "--model", "thresholder", "--workflow", "rtstruct", "--input", tmp_path / "in",
                    "--output", tmp_path / "out")
    assert done.returncode == 0, done.stdout
    folder = tmp_path / "out" / series.series_uid
    path = folder / "thresholder.rtstruct.dcm"
    assert dciodvfy_errors(path) == []
    seg = hd.seg.segread(folder / "thresholder.seg.dcm")
    rois = read_rois(pydicom.dcmread(path))
    assert [r.name for r in rois] == [seg.get_segment_description(n).segment_label for n in seg.segment_numbers]
    grid = scan_folder(tmp_path / "in").series[series.series_uid].reference_image()
    for number, roi in zip(seg.segment_numbers, rois, strict=True):
        seg_mask = sitk.GetArrayFromImage(segment_mask(seg, number, grid)).astype(bool)
        assert np.array_equal(roi.mask(grid), seg_mask)
    (entry,) = read_report(tmp_path / "out")["series"]
    assert f"{series.series_uid}/thresholder.rtstruct.dcm" in [o["path"] for o in entry["outputs"]]


def rt_utils_structure_set(folder: Path, ct: Path, masks: dict[str, np.ndarray]) -> Path:
    """An RT Structure Set written by rt-utils for the series in ``ct`` (masks in slice, row, column order)."""
    builder = rt_utils.RTStructBuilder.create_new(dicom_series_path=str(ct))
    for name, mask in masks.items():
        builder.add_roi(mask=np.moveaxis(mask, 0, -1), name=name)
    path = folder / "rt-utils.dcm"
    builder.save(str(path))
    return path


@pytest.mark.slow
def test_rt_utils_structure_set_is_measured_by_the_radiomics_model(tmp_path):
    featureextractor = pytest.importorskip("radiomics.featureextractor")
    series = write_ct_series(tmp_path / "in" / "ct", shape=(20, 48, 48), spacing=(2.0, 2.0, 3.0), seed=5)
    image = ct_image(series)
    z, y, x = np.mgrid[:20, :48, :48]
    masks = {
        "GTV-1": (z - 10) ** 2 / 16 + (y - 20) ** 2 / 36 + (x - 18) ** 2 / 49 <= 1,
        "Heart_auto": (abs(z - 9) <= 3) & (abs(y - 30) <= 5) & (abs(x - 30) <= 6),
    }
    path = rt_utils_structure_set(tmp_path / "in", series.directory, masks)
    structure_set = pydicom.dcmread(path)
    heart = get_segment("HEART")
    observation = next(o for o in structure_set.RTROIObservationsSequence if o.ReferencedROINumber == 2)
    observation.RTROIIdentificationCodeSequence = [hd.sr.CodedConcept.from_code(heart.type)]
    observation.SegmentedPropertyCategoryCodeSequence = [hd.sr.CodedConcept.from_code(heart.category)]
    structure_set.save_as(path)

    done = run_mhub("run", "--model", "pyradiomics", "--workflow", "rtstruct", "--input", tmp_path / "in",
                    "--output", tmp_path / "out")
    assert done.returncode == 0, done.stdout
    folder = tmp_path / "out" / series.series_uid
    seg_path, sr_path = folder / "pyradiomics.rtstruct-rois.seg.dcm", folder / "pyradiomics.radiomics.sr.dcm"
    assert dciodvfy_errors(seg_path) == [] and dciodvfy_errors(sr_path) == []

    seg = hd.seg.segread(seg_path)
    gtv, organ = (seg.get_segment_description(n) for n in seg.segment_numbers)
    assert gtv.segment_label == "GTV-1"  # no code: the name stays text, the codes say "non-specific"
    assert gtv.segmented_property_category == NON_SPECIFIC_VOLUME == gtv.segmented_property_type
    assert organ.segmented_property_type == heart.type and organ.segment_label == heart.label  # named by its code

    table = {s["segment_id"]: s["features"] for s in json.loads((folder / "pyradiomics.radiomics.json").read_text())
             ["segments"]}
    assert sorted(table) == ["GTV-1", "HEART"]
    groups = hd.sr.srread(sr_path).content.get_volumetric_roi_measurement_groups()
    assert sorted(g.tracking_identifier for g in groups) == ["GTV-1", heart.label]
    for group in groups:
        (number,) = group.referenced_segment.referenced_segment_numbers
        assert seg.get_segment_description(number).segment_label == group.tracking_identifier
    back = subprocess.run([tool("tid1500reader"), "--inputDICOM", str(sr_path), "--outputMetadata",
                           str(tmp_path / "back.json")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False)
    assert back.returncode == 0, back.stdout
    findings = {g["TrackingIdentifier"]: g["Finding"]["CodeMeaning"]
                for g in json.loads((tmp_path / "back.json").read_text())["Measurements"]}
    assert findings == {"GTV-1": NON_SPECIFIC_VOLUME.meaning, heart.label: heart.type.meaning}
    extractor = featureextractor.RadiomicsFeatureExtractor()
    extractor.disableAllFeatures()
    extractor.enableFeaturesByName(shape=["VoxelVolume", "SurfaceArea", "Sphericity", "Maximum3DDiameter"])
    for number, (name, drawn) in zip(seg.segment_numbers, [("GTV-1", masks["GTV-1"]), ("HEART", masks["Heart_auto"])],
                                     strict=True):
        mask = segment_mask(seg, number, image)
        assert dice(sitk.GetArrayFromImage(mask).astype(bool), drawn) >= 0.95, name
        theirs = extractor.execute(image, mask, label=1)
        for key, value in theirs.items():
            if key.startswith("original_shape_"):
                assert table[name][key.removeprefix("original_")] == pytest.approx(float(value), rel=1e-6), key
