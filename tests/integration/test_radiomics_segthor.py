"""The nnunet_segthor radiomics workflow (paper 000 chain: SegTHOR SEG + shape SR) with a tiny untrained model."""

from __future__ import annotations

import highdicom as hd
import pytest
import SimpleITK as sitk

from mhubio.radiomics import DEFAULT_SHAPE_FEATURES, coded_features
from mhubio.synthetic import write_ct_series
from tests.helpers import dciodvfy_errors, read_report, run_mhub
from tests.support.nnunet import write_nnunet_v1_model

featureextractor = pytest.importorskip("radiomics.featureextractor")
pytest.importorskip("nnunet")

SEGTHOR = {1: "ESOPHAGUS", 2: "HEART", 3: "TRACHEA", 4: "AORTA"}


def test_segthor_radiomics_workflow_reports_the_runner_label_map(tmp_path):
    results = write_nnunet_v1_model(tmp_path / "results", 4, task="Task055_SegTHOR", configuration="3d_fullres",
                                    folds=(0,), postprocessing_classes=(1, 2, 3, 4))
    assert results.exists()
    series = write_ct_series(tmp_path / "in", shape=(24, 64, 64), spacing=(2.0, 2.0, 3.0), seed=31)
    out, work = tmp_path / "out", tmp_path / "work"
    done = run_mhub("run", "--model", "nnunet_segthor", "--workflow", "radiomics", "--input", series.directory,
                    "--output", out, "--work-dir", work, "--keep-work",
                    "--set", "NnunetV1Runner.weights=null",
                    "--set", f"NnunetV1Runner.results_folder={tmp_path / 'results'}",
                    "--set", "NnunetV1Runner.folds=[0]", "--set", "NnunetV1Runner.use_mirroring=false")
    assert done.returncode == 0, done.stdout
    (result,) = read_report(out)["series"]
    folder = out / series.series_uid
    assert {o["path"].split("/")[-1] for o in result["outputs"]} == {
        "nnunet_segthor.seg.dcm", "nnunet_segthor.radiomics.sr.dcm", "nnunet_segthor.radiomics.csv"}
    sr_path = folder / "nnunet_segthor.radiomics.sr.dcm"
    assert dciodvfy_errors(sr_path) == []

    image = sitk.ReadImage(str(next(work.rglob("NiftiConverter.nifti.nii*"))))
    labels = sitk.ReadImage(str(next(work.rglob("NnunetV1Runner.segmentation.nii*"))))
    labels.CopyInformation(image)
    seg = hd.seg.segread(folder / "nnunet_segthor.seg.dcm")
    value_of = {segment_id: value for value, segment_id in SEGTHOR.items()}
    keys = {(c.quantity.scheme_designator, c.quantity.value): c.key for c in coded_features()}
    extractor = featureextractor.RadiomicsFeatureExtractor()
    extractor.disableAllFeatures()
    extractor.enableFeaturesByName(shape=list(DEFAULT_SHAPE_FEATURES))
    groups = hd.sr.srread(sr_path).content.get_volumetric_roi_measurement_groups()
    assert groups
    for group in groups:
        assert group.referenced_segment.referenced_sop_instance_uid == seg.SOPInstanceUID
        (number,) = group.referenced_segment.referenced_segment_numbers
        segment_id = seg.get_segment_description(number).tracking_id
        mask = sitk.Cast(labels == value_of[segment_id], sitk.sitkUInt8)
        truth = extractor.execute(image, mask, label=1)
        for measurement in group.get_measurements():
            key = keys[(measurement.name.scheme_designator, measurement.name.value)]
            assert measurement.value == pytest.approx(float(truth[f"original_{key}"]), rel=1e-6), (segment_id, key)
