"""End to end: the pyradiomics model (CT + SEG in) and radiomics as a step after a segmentation model."""

from __future__ import annotations

import csv
import json
import subprocess

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from mhubio.core.algorithm import AlgorithmFamily, AlgorithmType
from mhubio.core.data import AlgorithmInfo
from mhubio.geometry import reference_image
from mhubio.radiomics import coded_features
from mhubio.seg import SegOptions, encode_segmentation, load_source_images
from mhubio.segdb import get_segment, to_segment_description
from mhubio.synthetic import write_ct_series
from tests.helpers import REAL_CT, REPO, dciodvfy_errors, read_report, run_mhub, tool
from tests.radiomics_helpers import (
    THRESHOLDER_WITH_RADIOMICS,
    CtWithSeg,
    label_image,
    make_ct_with_seg,
    pyradiomics_shape,
)

pytest.importorskip("radiomics.featureextractor")

# The shared real CT sits beside the main checkout; from a worktree (wt/<branch>) it is one level further up.
REAL_CT_DIR = next((p for p in (REAL_CT, REPO.parents[1] / "shared" / "data" / REAL_CT.name) if p.is_dir()), REAL_CT)


def sr_features(path) -> dict[str, dict[str, float]]:
    """Segment label -> feature key -> value, read back from an SR with highdicom."""
    keys = {(c.quantity.scheme_designator, c.quantity.value): c.key for c in coded_features()}
    out = {}
    for group in hd.sr.srread(path).content.get_volumetric_roi_measurement_groups():
        out[group.tracking_identifier] = {
            keys[(m.name.scheme_designator, m.name.value)]: m.value for m in group.get_measurements()
        }
    return out


def run_model(input_dir, out, *extra):
    done = run_mhub("run", "--model", "pyradiomics", "--input", input_dir, "--output", out, *extra)
    return done, read_report(out)


def check_against_ground_truth(data: CtWithSeg, by_label: dict[str, dict[str, float]], expected_ids) -> None:
    assert sorted(by_label) == sorted(get_segment(i).label for i in expected_ids)
    for segment_id in expected_ids:
        mask = label_image(data.series.phantom.mask(segment_id), data.image)
        truth = pyradiomics_shape(data.image, mask)
        got = by_label[get_segment(segment_id).label]
        assert got.keys() == truth.keys()
        for key, value in truth.items():
            assert got[key] == pytest.approx(value, rel=1e-6), (segment_id, key)


def test_ct_and_seg_give_sr_and_tables_with_pyradiomics_values(tmp_path):
    data = make_ct_with_seg(tmp_path / "in", seed=11)
    done, report = run_model(tmp_path / "in", tmp_path / "out")
    assert done.returncode == 0, done.stdout
    (series,) = report["series"]
    assert series["status"] == "done" and series["series_uid"] == data.series.series_uid
    folder = tmp_path / "out" / data.series.series_uid
    sr_path = folder / "pyradiomics.radiomics.sr.dcm"
    assert sorted(o["path"] for o in series["outputs"]) == sorted(
        f"{data.series.series_uid}/pyradiomics.radiomics.{s}" for s in ("csv", "json", "sr.dcm")
    )
    assert dciodvfy_errors(sr_path) == []
    from_sr = sr_features(sr_path)
    check_against_ground_truth(data, from_sr, list(data.segments.values()))

    table = json.loads((folder / "pyradiomics.radiomics.json").read_text())
    with open(folder / "pyradiomics.radiomics.csv", newline="") as handle:
        rows = {row["segment_id"]: row for row in csv.DictReader(handle)}
    assert sorted(rows) == sorted(data.segments.values())
    for entry in table["segments"]:
        label = get_segment(entry["segment_id"]).label
        for key, value in entry["features"].items():
            assert from_sr[label][key] == value
            assert float(rows[entry["segment_id"]][key]) == value
    assert table["algorithm"] == {"name": "pyradiomics", "version": "3.0.1"}


def test_a_missing_organ_leaves_the_other_names_in_place(tmp_path):
    data = make_ct_with_seg(tmp_path / "in", seed=12, drop=("HEART", "LIVER"), keep_empty=True)
    done, report = run_model(tmp_path / "in", tmp_path / "out")
    assert done.returncode == 0, done.stdout
    (series,) = report["series"]
    warnings = " ".join(series["warnings"])
    assert "no radiomics features for HEART" in warnings and "no radiomics features for LIVER" in warnings
    sr_path = tmp_path / "out" / data.series.series_uid / "pyradiomics.radiomics.sr.dcm"
    present = [i for i in data.segments.values() if i not in ("HEART", "LIVER")]
    check_against_ground_truth(data, sr_features(sr_path), present)
    groups = hd.sr.srread(sr_path).content.get_volumetric_roi_measurement_groups()
    seg = hd.seg.segread(data.seg_path)
    for group in groups:
        (number,) = group.referenced_segment.referenced_segment_numbers
        assert seg.get_segment_description(number).segment_label == group.tracking_identifier


def test_series_without_seg_fails_alone(tmp_path):
    make_ct_with_seg(tmp_path / "in", seed=13)
    lonely = write_ct_series(tmp_path / "in" / "other", shape=(12, 32, 32), seed=14, series_number=5)
    done, report = run_model(tmp_path / "in", tmp_path / "out")
    assert done.returncode == 4, done.stdout
    failed = [s for s in report["series"] if s["status"] == "failed"]
    assert [s["series_uid"] for s in failed] == [lonely.series_uid]
    assert f"no DICOM SEG in the input folder references series {lonely.series_uid}" in json.dumps(failed)


def test_two_segs_for_one_series_need_a_choice(tmp_path):
    data = make_ct_with_seg(tmp_path / "in", seed=15, keep=("HEART", "AORTA"))
    first = tmp_path / "in" / "seg.dcm"
    later = make_ct_with_seg(tmp_path / "later", seed=15, keep=("HEART",))
    seg = hd.seg.segread(later.seg_path)
    seg.SeriesTime = "235959"
    seg.save_as(tmp_path / "in" / "later_seg.dcm")
    done, report = run_model(tmp_path / "in", tmp_path / "out")
    assert done.returncode == 5, done.stdout
    assert "2 SEGs reference series" in json.dumps(report["series"])
    done, report = run_model(tmp_path / "in", tmp_path / "out2", "--set", "SegImporter.on_multiple=latest")
    assert done.returncode == 0, done.stdout
    by_label = sr_features(tmp_path / "out2" / data.series.series_uid / "pyradiomics.radiomics.sr.dcm")
    assert sorted(by_label) == ["Heart"]
    assert first.exists()


def test_overlapping_seg_segments_each_get_their_features(tmp_path):
    data = make_ct_with_seg(tmp_path / "in", seed=16, keep=("LEFT_LUNG",))
    phantom = data.series.phantom
    lungs = np.isin(phantom.labels, [phantom.label_value("LEFT_LUNG"), phantom.label_value("RIGHT_LUNG")])
    left = phantom.mask("LEFT_LUNG")
    headers = data.headers
    algorithm = hd.AlgorithmIdentificationSequence("Overlap test", hd.sr.CodedConcept("123110", "DCM",
                                                   "Artificial Intelligence"), "1")
    descriptions = [to_segment_description(get_segment("LUNG"), 1, algorithm),
                    to_segment_description(get_segment("LEFT_LUNG"), 2, algorithm)]
    seg = hd.seg.Segmentation(
        source_images=headers, pixel_array=np.stack([lungs, left], axis=-1).astype(np.uint8),
        segmentation_type="BINARY", segment_descriptions=descriptions, series_instance_uid=hd.UID(),
        series_number=30, sop_instance_uid=hd.UID(), instance_number=1, manufacturer="Test",
        manufacturer_model_name="Overlap", software_versions="1", device_serial_number="1",
    )
    data.seg_path.unlink()
    seg.save_as(tmp_path / "in" / "overlap.dcm")
    done, report = run_model(tmp_path / "in", tmp_path / "out", "--set", "SegImporter.write_label_map=true")
    assert done.returncode == 0, done.stdout
    (series,) = report["series"]
    assert any("overlaps" in w for w in series["warnings"])
    by_label = sr_features(tmp_path / "out" / data.series.series_uid / "pyradiomics.radiomics.sr.dcm")
    voxel = float(np.prod(data.series.spacing))
    assert by_label["Lung"]["shape_VoxelVolume"] == pytest.approx(np.count_nonzero(lungs) * voxel)
    assert by_label["Left lung"]["shape_VoxelVolume"] == pytest.approx(np.count_nonzero(left) * voxel)


def run_after_segmentation(input_dir, tmp_path):
    config = tmp_path / "thresholder_radiomics.yml"
    config.write_text(THRESHOLDER_WITH_RADIOMICS)
    out, work = tmp_path / "out", tmp_path / "work"
    done = run_mhub("run", "--config", config, "--input", input_dir, "--output", out, "--work-dir", work,
                    "--keep-work")
    assert done.returncode == 0, done.stdout
    (series,) = read_report(out)["series"]
    folder = out / series["series_uid"]
    sr_path = folder / "thresholder.radiomics.sr.dcm"
    assert dciodvfy_errors(sr_path) == []
    (ct_path,) = work.rglob("NiftiConverter.nifti.nii*")
    (labels_path,) = work.rglob("Thresholder.seg.nii*")
    image, labels = sitk.ReadImage(str(ct_path)), sitk.ReadImage(str(labels_path))
    by_label = sr_features(sr_path)
    assert sorted(by_label) == ["Body", "Bone", "Lung"]
    for value, segment_id in {1: "BODY", 2: "LUNG", 3: "BONE"}.items():
        truth = pyradiomics_shape(image, sitk.Cast(labels == value, sitk.sitkUInt8))
        for key, expected in truth.items():
            assert by_label[get_segment(segment_id).label][key] == pytest.approx(expected, rel=1e-6)
    seg = hd.seg.segread(folder / "thresholder.seg.dcm")
    sr = hd.sr.srread(sr_path)
    for group in sr.content.get_volumetric_roi_measurement_groups():
        assert group.referenced_segment.referenced_sop_instance_uid == seg.SOPInstanceUID
        (number,) = group.referenced_segment.referenced_segment_numbers
        assert seg.get_segment_description(number).segment_label == group.tracking_identifier
    return sr_path


def test_radiomics_after_a_segmentation_model(tmp_path):
    series = write_ct_series(tmp_path / "in", shape=(24, 64, 64), spacing=(2.0, 2.0, 3.0), seed=17)
    run_after_segmentation(series.directory, tmp_path)


def ellipsoid(reference: sitk.Image, center_mm, radii_mm) -> np.ndarray:
    """Boolean (z, y, x) mask of an axis-aligned ellipsoid in the patient space of ``reference``."""
    nx, ny, nz = reference.GetSize()
    axes = np.array(reference.GetDirection()).reshape(3, 3) * np.array(reference.GetSpacing())
    columns, rows = np.meshgrid(np.arange(nx), np.arange(ny))
    mask = np.zeros((nz, ny, nx), bool)
    for k in range(nz):
        points = np.array(reference.GetOrigin()) + np.stack([columns, rows, np.full_like(rows, k)], -1) @ axes.T
        mask[k] = (((points - np.array(center_mm)) / np.array(radii_mm)) ** 2).sum(axis=-1) <= 1.0
    return mask


@pytest.mark.slow
def test_pyradiomics_model_on_real_ct_with_a_seg(tmp_path):
    """Real CT (134 slices) + a SEG of two ellipsoid 'organs' and an empty one: SR validated, values exact.

    PixelMed validates the radiomics SR of this CT (with the shared-context image library) in
    test_radiomics_sr_real_ct.
    """
    if not REAL_CT_DIR.is_dir():
        pytest.skip("shared real CT not present")
    input_dir = tmp_path / "in"
    (input_dir / "ct").mkdir(parents=True)
    for path in sorted(REAL_CT_DIR.iterdir()):
        (input_dir / "ct" / path.name).symlink_to(path)
    headers = load_source_images(sorted(REAL_CT_DIR.glob("*.dcm")))
    reference = reference_image(headers)
    center = np.array(reference.TransformContinuousIndexToPhysicalPoint([s / 2 for s in reference.GetSize()]))
    array = np.zeros(reference.GetSize()[::-1], np.uint8)
    array[ellipsoid(reference, center + (-60, 20, 0), (70, 55, 45))] = 1
    array[ellipsoid(reference, center + (70, 40, -20), (25, 20, 35))] = 2
    labels = sitk.GetImageFromArray(array)
    labels.CopyInformation(reference)
    segments = {1: "LIVER", 2: "LEFT_KIDNEY", 3: "HEART"}
    algorithm = AlgorithmInfo("Ellipsoids", "1", AlgorithmFamily.MANUAL_PROCESSING, type=AlgorithmType.MANUAL)
    result = encode_segmentation(labels, headers, segments, algorithm, SegOptions(keep_empty=True))
    result.dataset.save_as(input_dir / "seg.dcm", enforce_file_format=True)

    out, work = tmp_path / "out", tmp_path / "work"
    done, report = run_model(input_dir, out, "--work-dir", work, "--keep-work")
    assert done.returncode == 0, done.stdout
    (series,) = report["series"]
    assert any("no radiomics features for HEART" in w for w in series["warnings"])
    sr_path = out / series["series_uid"] / "pyradiomics.radiomics.sr.dcm"
    assert dciodvfy_errors(sr_path) == []
    (ct_path,) = work.rglob("NiftiConverter.nifti.nii*")
    image = sitk.ReadImage(str(ct_path))
    by_label = sr_features(sr_path)
    assert sorted(by_label) == ["Left kidney", "Liver"]
    assert np.allclose(image.GetOrigin(), labels.GetOrigin(), atol=1e-3)  # NIfTI stores float32 geometry
    for value, segment_id in ((1, "LIVER"), (2, "LEFT_KIDNEY")):
        mask = sitk.Cast(labels == value, sitk.sitkUInt8)
        mask.CopyInformation(image)
        truth = pyradiomics_shape(image, mask)
        for key, expected in truth.items():
            assert by_label[get_segment(segment_id).label][key] == pytest.approx(expected, rel=1e-6)
    back = subprocess.run([tool("tid1500reader"), "--inputDICOM", str(sr_path), "--outputMetadata",
                           str(tmp_path / "back.json")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False)
    assert back.returncode == 0, back.stdout
    groups = json.loads((tmp_path / "back.json").read_text())["Measurements"]
    assert [len(g["measurementItems"]) for g in groups] == [14, 14]
    assert len(json.loads((tmp_path / "back.json").read_text())["imageLibrary"]) == 134


def test_a_seg_with_only_empty_segments_gives_warnings_not_outputs(tmp_path):
    data = make_ct_with_seg(tmp_path / "in", seed=18, keep=("HEART",), drop=("HEART",), keep_empty=True)
    done, report = run_model(tmp_path / "in", tmp_path / "out")
    assert done.returncode == 0, done.stdout
    (series,) = report["series"]
    assert series["status"] == "done" and series["outputs"] == []
    warnings = " | ".join(series["warnings"])
    assert "no radiomics features for HEART" in warnings
    assert "no radiomics SR written" in warnings
    assert not (tmp_path / "out" / data.series.series_uid).exists()


def test_a_seg_without_series_reference_is_paired_by_frame_of_reference(tmp_path):
    data = make_ct_with_seg(tmp_path / "in", seed=19, keep=("LIVER",))
    seg = pydicom.dcmread(data.seg_path)
    del seg.ReferencedSeriesSequence
    seg.save_as(data.seg_path)
    done, report = run_model(tmp_path / "in", tmp_path / "out")
    assert done.returncode == 0, done.stdout
    by_label = sr_features(tmp_path / "out" / data.series.series_uid / "pyradiomics.radiomics.sr.dcm")
    assert sorted(by_label) == ["Liver"]


def test_include_limits_the_segments_measured(tmp_path):
    data = make_ct_with_seg(tmp_path / "in", seed=20, keep=("HEART", "AORTA", "LIVER"))
    done, _ = run_model(tmp_path / "in", tmp_path / "out", "--set", "RadiomicsRunner.include=[HEART, LIVER]")
    assert done.returncode == 0, done.stdout
    by_label = sr_features(tmp_path / "out" / data.series.series_uid / "pyradiomics.radiomics.sr.dcm")
    assert sorted(by_label) == ["Heart", "Liver"]
    done, report = run_model(tmp_path / "in", tmp_path / "out2", "--set", "RadiomicsRunner.include=[SPLEEN]")
    assert done.returncode == 5, done.stdout
    assert "include names segments the segmentation does not have: SPLEEN" in json.dumps(report["series"])
