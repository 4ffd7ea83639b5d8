"""Cohort tables: values equal the SEG, SR and JSON outputs; paper-style DuckDB queries; no PHI in Parquet."""

from __future__ import annotations

import csv
from pathlib import Path

import highdicom as hd
import numpy as np
import pyarrow.parquet as pq
import pydicom
import pytest

from mhubio.cohort.layout import TABLES_DIR_NAME
from mhubio.radiomics import SegmentFeatures
from mhubio.seg import load_source_images
from mhubio.sr.bpr import encode_landmark_sr, encode_region_sr
from mhubio.sr.radiomics import encode_radiomics_sr
from mhubio.synthetic import write_ct_series
from mhubio.tables.query import query
from tests.helpers import read_report, run_mhub
from tests.radiomics_helpers import ct_image, label_image, write_seg
from tests.support.bpr import result_from_curve

pytestmark = pytest.mark.slow

SHAPE = (12, 48, 48)
COLLECTIONS = {"A": (0, 1), "B": (2, 3)}
HEART = "HEART"


def _seg_volumes(path: Path) -> dict[int, float]:
    """Segment number -> volume in mm3, recomputed with highdicom."""
    seg = hd.seg.segread(path)
    volumes = {}
    for number in seg.get_segment_numbers():
        volume = seg.get_volume(segment_numbers=[number], combine_segments=False)
        volumes[number] = float(np.count_nonzero(volume.array)) * float(np.prod(volume.spacing))
    return volumes


@pytest.fixture(scope="module")
def phantom_out(tmp_path_factory):
    """An output folder written by 'other tools': phantom SEGs (four series, two collections), a radiomics SR of
    one, BPR region and landmark SRs and JSON of two (one covering the whole chest, one the mid-chest only)."""
    root = tmp_path_factory.mktemp("phantoms")
    out = root / "out"
    truth: dict[str, dict] = {}
    for collection, seeds in COLLECTIONS.items():
        for seed in seeds:
            series = write_ct_series(root / "in" / f"s{seed}", shape=SHAPE, seed=seed, series_number=seed + 1)
            folder = out / series.series_uid
            folder.mkdir(parents=True)
            labels = label_image(series.phantom.labels, ct_image(series))
            write_seg(labels, series, series.phantom.label_names, folder / "phantom.seg.dcm")
            voxel = float(np.prod(series.spacing))
            heart = float(np.count_nonzero(series.phantom.mask(HEART))) * voxel
            truth[series.series_uid] = {"collection": collection, "heart_mm3": heart, "series": series}
    uids = list(truth)
    first = truth[uids[0]]["series"]
    seg = pydicom.dcmread(out / first.series_uid / "phantom.seg.dcm", stop_before_pixels=True)
    heart_number = next(int(s.SegmentNumber) for s in seg.SegmentSequence if s.SegmentLabel.upper() == "HEART")
    features = [SegmentFeatures(HEART, 4, {"shape_MeshVolume": 51234.5, "shape_Sphericity": 0.8125})]
    sr = encode_radiomics_sr(features, seg, load_source_images(first.files), algorithm_name="pyradiomics",
                             algorithm_version="3.0.1", segment_numbers={HEART: heart_number})
    sr.dataset.save_as(out / first.series_uid / "phantom.radiomics.sr.dcm", enforce_file_format=True)
    _qualitative_sr(seg, heart_number, first).save_as(out / first.series_uid / "reader.qualitative.sr.dcm",
                                                      enforce_file_format=True)
    z = SHAPE[0]
    for uid, (low, high) in zip(uids[:2], [(25.0, 75.0), (48.0, 58.0)], strict=True):
        series = truth[uid]["series"]
        slope = (high - low) / ((z - 1) * series.spacing[2])
        result = result_from_curve(list(np.linspace(low, high, z)), series.spacing[2], slope_mean=slope)
        headers = load_source_images(series.files)
        encode_region_sr(result, headers, "BPR", "1.1.0", 100).save_as(
            out / uid / "bpreg.bpr-regions.sr.dcm", enforce_file_format=True)
        encode_landmark_sr(result, headers, "BPR", "1.1.0", 101).save_as(
            out / uid / "bpreg.bpr-landmarks.sr.dcm", enforce_file_format=True)
        result.save_json(out / uid / "bpreg.bpreg.json")
        truth[uid]["bpr"] = result
    done = run_mhub("table", out, "--rebuild")
    assert done.returncode == 0, done.stdout
    return out, truth


PRESENT = hd.sr.CodedConcept("52101004", "SCT", "Present")
CALCIFICATION = hd.sr.CodedConcept("18115005", "SCT", "Pathologic calcification")


def _qualitative_sr(seg: pydicom.Dataset, segment_number: int, series) -> hd.sr.EnhancedSR:
    """Another tool's TID 1500 SR: a qualitative evaluation of the heart segment."""
    group = hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="Heart finding"),
        referenced_segment=hd.sr.ReferencedSegment(
            sop_class_uid=seg.SOPClassUID, sop_instance_uid=seg.SOPInstanceUID, segment_number=segment_number,
            source_series=hd.sr.SourceSeriesForSegmentation(series.series_uid)),
        finding_type=hd.sr.CodedConcept("80891009", "SCT", "Heart"),
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(CALCIFICATION, PRESENT)],
    )
    observer = hd.sr.ObserverContext(
        observer_type=hd.sr.CodedConcept("121007", "DCM", "Device"),
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(uid=hd.UID()))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=hd.sr.CodedConcept("363679005", "SCT", "Imaging procedure"),
        imaging_measurements=[group])
    return hd.sr.EnhancedSR(evidence=[seg, *load_source_images(series.files)], content=report[0],
                            series_instance_uid=hd.UID(), series_number=50, sop_instance_uid=hd.UID(),
                            instance_number=1, manufacturer="Other tool")


def test_qualitative_evaluations_of_other_tools_are_findings(phantom_out):
    out, truth = phantom_out
    uid = next(iter(truth))
    rows = query(out, "SELECT SeriesInstanceUID, model, Quantity.CodeMeaning AS q, Value.CodeMeaning AS v, "
                      "segmentationSegmentNumber AS n FROM findings WHERE output LIKE '%qualitative%'").to_pylist()
    seg = pydicom.dcmread(out / uid / "phantom.seg.dcm", stop_before_pixels=True)
    heart = next(int(s.SegmentNumber) for s in seg.SegmentSequence if s.SegmentLabel.upper() == "HEART")
    assert rows == [{"SeriesInstanceUID": uid, "model": "reader", "q": CALCIFICATION.meaning, "v": PRESENT.meaning,
                     "n": heart}]


def test_rebuilt_volumes_equal_the_seg_read_with_highdicom(phantom_out):
    out, truth = phantom_out
    for uid in truth:
        rows = query(out, f"SELECT segmentationSegmentNumber AS n, value FROM measurements "
                          f"WHERE source = 'SEG' AND SeriesInstanceUID = '{uid}'").to_pylist()
        expected = _seg_volumes(out / uid / "phantom.seg.dcm")
        assert {r["n"]: r["value"] for r in rows} == pytest.approx(expected, rel=1e-9)


def test_features_equal_the_sr_read_with_highdicom(phantom_out):
    out, truth = phantom_out
    uid = next(iter(truth))
    sr = hd.sr.srread(out / uid / "phantom.radiomics.sr.dcm")
    (group,) = sr.content.get_volumetric_roi_measurement_groups()
    expected = {m.name.meaning: (float(m.value), m.unit.value) for m in group.get_measurements()}
    rows = query(out, "SELECT Quantity.CodeMeaning AS q, value, Units.CodeValue AS unit, "
                      "SegmentedPropertyType.CodeMeaning AS segment, segmentationSegmentNumber AS n "
                      "FROM measurements WHERE source = 'SR'").to_pylist()
    assert {r["q"]: (r["value"], r["unit"]) for r in rows} == expected
    assert {r["segment"] for r in rows} == {"Heart"}
    assert {r["n"] for r in rows} == {group.referenced_segment.referenced_segment_numbers[0]}


def test_landmarks_equal_the_bpreg_json(phantom_out):
    out, truth = phantom_out
    for uid, case in truth.items():
        if "bpr" not in case:
            continue
        rows = query(out, f"SELECT trackingIdentifier AS name, value FROM measurements "
                          f"WHERE source = 'JSON' AND SeriesInstanceUID = '{uid}'").to_pylist()
        expected = {name: p.expected_z for name, p in case["bpr"].landmark_positions.items()}
        assert expected and {r["name"]: r["value"] for r in rows} == pytest.approx(expected)


def test_mean_heart_volume_by_collection(phantom_out, tmp_path):
    out, truth = phantom_out
    mapping = tmp_path / "collections.csv"
    with mapping.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["SeriesInstanceUID", "collection"])
        writer.writerows((uid, case["collection"]) for uid, case in truth.items())
    sql = (f"SELECT c.collection, avg(m.value) AS mean_heart_mm3 FROM measurements m "
           f"JOIN read_csv('{mapping}') c USING (SeriesInstanceUID) "
           f"WHERE m.source = 'SEG' AND m.SegmentedPropertyType.CodeMeaning = 'Heart' "
           f"AND m.Quantity.CodeMeaning = 'Volume' GROUP BY 1 ORDER BY 1")
    exported = tmp_path / "heart.csv"
    done = run_mhub("table", out, "--sql", sql, "--csv", exported)
    assert done.returncode == 0, done.stdout
    with exported.open() as handle:
        got = {row["collection"]: float(row["mean_heart_mm3"]) for row in csv.DictReader(handle)}
    expected = {
        name: float(np.mean([c["heart_mm3"] for c in truth.values() if c["collection"] == name]))
        for name in COLLECTIONS
    }
    assert got == pytest.approx(expected, rel=1e-9)


def test_series_whose_regions_cover_the_whole_chest(phantom_out):
    out, truth = phantom_out
    rows = query(out, """
        SELECT SeriesInstanceUID FROM findings
        WHERE Quantity.CodeMeaning = 'Finding Site' AND output LIKE '%bpr-regions%'
        GROUP BY 1
        HAVING bool_or(Value.CodeMeaning = 'Abdomen') AND bool_or(Value.CodeMeaning = 'Chest')
           AND bool_or(Value.CodeMeaning = 'Neck')
    """).to_pylist()
    whole, mid = list(truth)[:2]
    assert [r["SeriesInstanceUID"] for r in rows] == [whole]
    chest = query(out, "SELECT DISTINCT SeriesInstanceUID FROM findings WHERE Value.CodeMeaning = 'Chest'")
    assert set(chest.column("SeriesInstanceUID").to_pylist()) == {whole, mid}
    per_slice = query(out, f"SELECT count(DISTINCT referencedSOPInstanceUID) AS n FROM findings "
                           f"WHERE SeriesInstanceUID = '{whole}' AND output LIKE '%regions%'").to_pylist()
    assert per_slice[0]["n"] == SHAPE[0]


def test_run_tables_equal_the_run_outputs_and_a_rebuild(tmp_path):
    for seed in range(2):
        write_ct_series(tmp_path / "in" / f"s{seed}", shape=SHAPE, seed=seed, series_number=seed + 1)
    out = tmp_path / "out"
    done = run_mhub("run", "--model", "thresholder", "--input", tmp_path / "in", "--output", out, "-q")
    assert done.returncode == 0, done.stdout
    report = read_report(out)
    series = query(out, "SELECT SeriesInstanceUID, model, model_version, status, qc_decision FROM series "
                        "ORDER BY 1").to_pylist()
    assert [(s["SeriesInstanceUID"], s["status"]) for s in series] == sorted(
        (s["series_uid"], s["status"]) for s in report["series"])
    identities = {(s["model"], s["model_version"], s["qc_decision"]) for s in series}
    assert identities == {("thresholder", "1.0.0", "accepted")}
    measured = "SELECT SeriesInstanceUID, segmentationSegmentNumber, value FROM measurements ORDER BY 1, 2"
    run_rows = query(out, measured).to_pylist()
    for s in report["series"]:
        expected = _seg_volumes(out / s["outputs"][0]["path"])
        mine = [r for r in run_rows if r["SeriesInstanceUID"] == s["series_uid"]]
        got = {r["segmentationSegmentNumber"]: r["value"] for r in mine}
        assert got == pytest.approx(expected, rel=1e-9)
    assert run_mhub("table", out, "--rebuild").returncode == 0
    assert query(out, measured).to_pylist() == run_rows
    assert [p.name for p in (out / TABLES_DIR_NAME / "measurements").iterdir()] == ["rebuild.parquet"]


def test_parquet_holds_no_names_ids_or_dates(phantom_out):
    out, truth = phantom_out
    header = pydicom.dcmread(next(iter(truth.values()))["series"].files[0])
    secrets = {str(header.PatientName), str(header.PatientID), str(header.StudyDate), str(header.StudyTime)}
    secrets.discard("")
    for path in (out / TABLES_DIR_NAME).rglob("*.parquet"):
        text = repr(pq.read_table(path).to_pylist())
        assert not [s for s in secrets if s in text], path


def test_table_command_errors_are_usage_errors(phantom_out, tmp_path):
    out, _ = phantom_out
    missing = run_mhub("table", tmp_path / "missing")
    assert missing.returncode == 2 and "does not exist" in missing.stdout
    bad = run_mhub("table", out, "--sql", "SELECT nope FROM measurements")
    assert bad.returncode == 2 and "nope" in bad.stdout
    assert run_mhub("table", out, "--csv", tmp_path / "x.csv").returncode == 2
    assert not (tmp_path / "x.csv").exists()
    counts = run_mhub("table", out)
    assert counts.returncode == 0 and "measurements" in counts.stdout
