"""BodyPartRegressionRunner and the BPR SR encoders in a workflow run, and on their own."""

from __future__ import annotations

import json
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from mhubio.bpr.inference import BodyPartRegressor
from mhubio.core.data import DataItem, Instance
from mhubio.core.errors import WeightsError
from mhubio.core.exitcodes import ExitCode
from mhubio.core.filetypes import FileType
from mhubio.core.logs import ProgressPrinter
from mhubio.core.module import ModelInfo, RunContext
from mhubio.core.runner import RunOptions, run_workflow
from mhubio.modules.encoders.bpr_sr_encoder import BprLandmarkSREncoder, BprRegionSREncoder
from mhubio.modules.runners.body_part_regression import BodyPartRegressionRunner
from mhubio.synthetic import write_ct_series
from tests.support.bpr import result_from_curve, write_model_folder

REPO = Path(__file__).resolve().parents[2]

@pytest.fixture()
def random_model(tmp_path) -> Path:
    return write_model_folder(tmp_path / "weights" / "bpreg")


@pytest.mark.slow
def test_shipped_workflow_loads_model_once_and_writes_outputs(tmp_path, random_model) -> None:
    inputs = tmp_path / "input"
    series = [
        write_ct_series(inputs / f"s{k}", shape=(12, 48, 48), spacing=(4.0, 4.0, 5.0), seed=k, slice_order=order)
        for k, order in enumerate(["ascending", "descending"])
    ]
    before = BodyPartRegressor.load_count
    report = run_workflow(
        REPO / "models" / "bpreg" / "config" / "default.yml",
        RunOptions(inputs, tmp_path / "output", overrides=[f"BodyPartRegressionRunner.model_dir={random_model}"]),
        ProgressPrinter(quiet=True),
    )
    assert report.exit_code == ExitCode.SUCCESS, report.error
    assert BodyPartRegressor.load_count == before + 1
    for written in series:
        out = tmp_path / "output" / written.series_uid
        document = json.loads((out / "bpreg.bpreg.json").read_text())
        assert len(document["cleaned slice scores"]) == 12
        region_sr = hd.sr.srread(out / "bpreg.bpr-regions.sr.dcm")
        referenced = {
            g.source_images[0].referenced_sop_instance_uid
            for g in region_sr.content.get_image_measurement_groups()
        }
        assert referenced <= set(written.sop_instance_uids)


def instance_with_ct(tmp_path: Path, n: int = 40) -> tuple[Instance, DataItem, list[str]]:
    series = write_ct_series(tmp_path / "ct", shape=(n, 16, 16), spacing=(2.0, 2.0, 2.5), seed=5)
    instance = Instance(series.series_uid, {"SeriesInstanceUID": series.series_uid, "Modality": "CT"}, tmp_path / "w")
    instance.workdir.mkdir()
    ct = instance.add(DataItem(FileType.DICOM, series.directory, {"mod": "ct"}, files=tuple(series.files)))
    return instance, ct, series.sop_instance_uids


def context(tmp_path: Path, model_directory: Path | None = None) -> RunContext:
    return RunContext(tmp_path, tmp_path / "out", tmp_path, ModelInfo("bpreg", "1.1.0", model_directory))


def test_runner_without_recorded_checksum_fails_preflight(tmp_path) -> None:
    params = BodyPartRegressionRunner.Params()
    runner = BodyPartRegressionRunner("run", params, context(tmp_path, REPO / "models" / "bpreg"))
    with pytest.raises(WeightsError, match="no sha256"):
        runner.preflight()


def test_runner_with_missing_model_files_fails_preflight(tmp_path) -> None:
    params = BodyPartRegressionRunner.Params(model_dir=str(tmp_path))
    with pytest.raises(WeightsError, match="model.pt"):
        BodyPartRegressionRunner("run", params, context(tmp_path)).preflight()


@pytest.mark.parametrize("encoder_class, kind", [(BprLandmarkSREncoder, "landmarks"), (BprRegionSREncoder, "regions")])
def test_encoder_writes_sr_referencing_the_series(tmp_path, encoder_class, kind) -> None:
    instance, ct, uids = instance_with_ct(tmp_path)
    curve = 28.0 + np.arange(40) * 2.5 * 0.11
    scores = DataItem(FileType.JSON, tmp_path / "bpreg.json", {"type": "bpreg"})
    result_from_curve(curve, 2.5).save_json(scores.path)
    encoder = encoder_class("enc", encoder_class.Params(), context(tmp_path))
    output = DataItem(FileType.DICOMSR, tmp_path / f"{kind}.sr.dcm", {"kind": f"bpr-{kind}"})
    encoder.process(instance, {"bpreg": scores, "source": ct}, {"sr": output})
    sr = pydicom.dcmread(output.path)
    assert sr.SeriesNumber == (101 if kind == "landmarks" else 100)
    assert sr.SeriesDescription == f"BPR {kind[:-1]} annotations"
    groups = hd.sr.srread(output.path).content.get_image_measurement_groups()
    assert groups and {g.source_images[0].referenced_sop_instance_uid for g in groups} <= set(uids)
    assert output.algorithm.name == "bpreg"
    assert not instance.warnings


def test_landmark_encoder_warns_when_no_landmark_is_inside(tmp_path) -> None:
    instance, ct, _ = instance_with_ct(tmp_path)
    scores = DataItem(FileType.JSON, tmp_path / "bpreg.json", {"type": "bpreg"})
    result_from_curve(np.full(40, 120.0) + np.arange(40) * 0.01, 2.5).save_json(scores.path)
    output = DataItem(FileType.DICOMSR, tmp_path / "landmarks.sr.dcm", {"kind": "bpr-landmarks"})
    encoder = BprLandmarkSREncoder("enc", BprLandmarkSREncoder.Params(), context(tmp_path))
    encoder.process(instance, {"bpreg": scores, "source": ct}, {"sr": output})
    assert not output.path.exists()
    assert "no BPR landmark SR written" in instance.warnings[0]
