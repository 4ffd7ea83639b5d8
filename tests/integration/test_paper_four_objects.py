"""Paper 000's four objects per CT series: SegTHOR SEG, radiomics SR, BPR landmark SR, BPR region SR.

``nnunet_segthor`` (radiomics workflow, tiny untrained SegTHOR model) and ``bpreg`` (a test model whose score
rises with the slice's mean soft-tissue intensity, on a phantom whose intensity rises with z) run on the same
input folder into the same output folder.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import torch

from mhubio.bpr.model import BodyPartRegressionNet
from mhubio.synthetic import Phantom, make_ct_phantom, write_ct_series
from tests.helpers import dciodvfy_errors, read_report, run_mhub
from tests.support.bpr import write_model_folder
from tests.support.nnunet import write_nnunet_v1_model

pytest.importorskip("radiomics")
pytest.importorskip("nnunet")

FOUR = {"nnunet_segthor.seg.dcm", "nnunet_segthor.radiomics.sr.dcm",
        "bpreg.bpr-landmarks.sr.dcm", "bpreg.bpr-regions.sr.dcm"}


def _ramp_bpr_model(folder):
    """bpreg model folder whose network passes channel 0 straight through: score ~ mean positive intensity."""
    write_model_folder(folder)
    state = BodyPartRegressionNet().state_dict()
    for key, value in state.items():
        value.zero_()
        if key.endswith("weight") and value.ndim == 4:
            value[0, 0, value.shape[2] // 2, value.shape[3] // 2] = 1.0
    state["fc7.weight"][0, 0] = 100.0
    torch.save(state, folder / "model.pt")
    return folder


def _ramp_ct(folder):
    base = make_ct_phantom(shape=(40, 64, 64), spacing=(3.0, 3.0, 5.0), seed=5)
    z = np.arange(base.labels.shape[0], dtype=np.float32)[:, None, None]
    image = np.where(base.labels > 0, -200.0 + 25.0 * z, -1000.0).astype(np.float32)
    return write_ct_series(folder, seed=5, phantom=Phantom(image, base.labels, base.label_names, base.spacing))


@pytest.mark.slow
def test_segthor_and_bpreg_give_the_four_objects_in_one_folder(tmp_path):
    series = _ramp_ct(tmp_path / "in")
    results = write_nnunet_v1_model(tmp_path / "results", 4, task="Task055_SegTHOR", configuration="3d_fullres",
                                    folds=(0,), postprocessing_classes=(1, 2, 3, 4))
    assert results.exists()
    bpr_model = _ramp_bpr_model(tmp_path / "bpr")
    out = tmp_path / "out"
    segthor = run_mhub("run", "--model", "nnunet_segthor", "--workflow", "radiomics", "--input", series.directory,
                       "--output", out, "--set", "NnunetV1Runner.weights=null",
                       "--set", f"NnunetV1Runner.results_folder={tmp_path / 'results'}",
                       "--set", "NnunetV1Runner.folds=[0]", "--set", "NnunetV1Runner.use_mirroring=false")
    assert segthor.returncode == 0, segthor.stdout
    bpreg = run_mhub("run", "--model", "bpreg", "--input", series.directory, "--output", out,
                     "--set", f"BodyPartRegressionRunner.model_dir={bpr_model}")
    assert bpreg.returncode == 0, bpreg.stdout
    assert read_report(out)["model"]["name"] == "bpreg"

    folder = out / series.series_uid
    names = {p.name for p in folder.iterdir()}
    assert FOUR <= names, names
    source_uids = set(series.sop_instance_uids)
    for name in sorted(FOUR):
        path = folder / name
        assert dciodvfy_errors(path) == [], name
        ds = pydicom.dcmread(path)
        assert ds.StudyInstanceUID == series.study_uid
        referenced = {
            instance.ReferencedSOPInstanceUID
            for study in ds.get("CurrentRequestedProcedureEvidenceSequence", [])
            for ref_series in study.ReferencedSeriesSequence
            for instance in ref_series.ReferencedSOPSequence
            if ref_series.SeriesInstanceUID == series.series_uid
        } or {
            instance.ReferencedSOPInstanceUID
            for ref_series in ds.get("ReferencedSeriesSequence", [])
            for instance in ref_series.ReferencedInstanceSequence
        }
        assert referenced and referenced <= source_uids, name
    landmarks = pydicom.dcmread(folder / "bpreg.bpr-landmarks.sr.dcm")
    assert landmarks.SeriesDescription == "BPR landmark annotations"
    assert pydicom.dcmread(folder / "bpreg.bpr-regions.sr.dcm").SeriesDescription == "BPR region annotations"
