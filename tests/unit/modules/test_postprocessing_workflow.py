"""Post-processing steps inside a real workflow run: chained, organized, and failing loudly."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from mhubio.core.exitcodes import ExitCode
from mhubio.core.logs import ProgressPrinter
from mhubio.core.runner import RunOptions, run_workflow

IMPORTER = textwrap.dedent(
    '''
    import numpy as np
    import SimpleITK as sitk
    from pathlib import Path
    from mhubio.core.data import DataItem, Instance
    from mhubio.core.filetypes import FileType
    from mhubio.core.module import Importer, ImportResult, Output

    KIDNEY = {1: "KIDNEY", 2: "KIDNEY_CYST", 3: "KIDNEY_TUMOR"}

    class LabelMapImporter(Importer):
        """One instance per input_dir/*.npy label map, declared with the kidney label table."""
        outputs = {"seg": Output(FileType.NIFTI, {"mod": "seg", "model": "bamf", "roi": ",".join(KIDNEY.values())})}
        def import_instances(self, input_dir):
            instances = []
            for path in sorted(Path(input_dir).glob("*.npy")):
                uid = path.stem
                inst = Instance(uid, {"SeriesInstanceUID": uid, "Modality": "CT", "SeriesNumber": "1"},
                                self.context.work_dir / uid)
                inst.workdir.mkdir(parents=True, exist_ok=True)
                image = sitk.GetImageFromArray(np.load(path))
                image.SetSpacing((0.8, 0.8, 2.0))
                target = inst.workdir / "seg.nii.gz"
                sitk.WriteImage(image, str(target))
                inst.add(DataItem(FileType.NIFTI, target, {"mod": "seg", "model": "bamf"}, labels=KIDNEY,
                                  producer=self.step_id))
                instances.append(inst)
            return ImportResult(instances, files_scanned=len(instances))
    '''
)

WORKFLOW = textwrap.dedent(
    """
    general: {model: kidneyfake, version: "1.0"}
    execute:
      - LabelMapImporter
      - KeepLargestComponents: {labels: [KIDNEY, KIDNEY_CYST, KIDNEY_TUMOR], k: 2, union: true}
      - ZeroEdgeSlices: {count: 1, labels: [KIDNEY_CYST]}
      - module: DataOrganizer
        params: {targets: {"nifti:mod=seg:processed=ZeroEdgeSlices": "{SeriesInstanceUID}/kidney.nii.gz"}}
    """
)


@pytest.fixture()
def model_dir(tmp_path, monkeypatch):
    root = tmp_path / "models"
    (root / "kidneyfake" / "config").mkdir(parents=True)
    (root / "kidneyfake" / "modules").mkdir()
    (root / "kidneyfake" / "modules" / "importer.py").write_text(IMPORTER)
    (root / "kidneyfake" / "config" / "default.yml").write_text(WORKFLOW)
    monkeypatch.setenv("MHUB_MODELS_DIR", str(root))
    return root / "kidneyfake"


def kidneys() -> np.ndarray:
    vol = np.zeros((12, 12, 12), dtype=np.uint8)
    vol[1:5, 0:4, 0:4] = 1
    vol[1:5, 0:4, 4:6] = 3
    vol[7:10, 8:11, 8:11] = 1
    vol[7, 8, 11] = 2
    vol[0:2, 10:12, 0:2] = 2  # false positive in the first slice
    vol[11, 11, 11] = 1  # false positive in the last slice
    return vol


def run(model_dir: Path, tmp_path: Path, cases: dict[str, np.ndarray]):
    input_dir, output_dir = tmp_path / "in", tmp_path / "out"
    input_dir.mkdir()
    for uid, array in cases.items():
        np.save(input_dir / f"{uid}.npy", array)
    options = RunOptions(input_dir, output_dir, work_dir=tmp_path / "work")
    report = run_workflow(model_dir / "config" / "default.yml", options, ProgressPrinter(quiet=True))
    return report, json.loads((output_dir / "mhub_report.json").read_text()), output_dir


def test_chained_steps_write_the_expected_label_map(model_dir, tmp_path):
    report, data, out = run(model_dir, tmp_path, {"1.1": kidneys()})
    assert report.exit_code == ExitCode.SUCCESS, data
    result = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "1.1" / "kidney.nii.gz")))
    expected = kidneys()
    expected[0:2, 10:12, 0:2] = 0
    expected[11, 11, 11] = 0
    np.testing.assert_array_equal(result, expected)
    log = (out / "mhub_logs" / "1.1.log").read_text()
    assert "KeepLargestComponents: voxels per label 1=KIDNEY: 92 -> 91; 2=KIDNEY_CYST: 9 -> 1" in log
    assert "ZeroEdgeSlices: voxels per label unchanged" in log


def test_mis_wired_series_fails_loudly_and_others_go_on(model_dir, tmp_path):
    wrong = kidneys()
    wrong[5, 5, 5] = 7  # a value the label table does not declare: not this model's label map
    report, data, out = run(model_dir, tmp_path, {"1.1": kidneys(), "1.2": wrong})
    assert report.exit_code == ExitCode.PARTIAL_FAILURE
    failed = data["series"][1]
    assert failed["status"] == "failed" and failed["failed_step"] == "KeepLargestComponents"
    assert "values [7]" in failed["error"] and "1=KIDNEY" in failed["error"]
    assert (out / "1.1" / "kidney.nii.gz").is_file() and not (out / "1.2").exists()


def test_unknown_segment_id_stops_the_run_before_any_data(model_dir, tmp_path):
    (model_dir / "config" / "default.yml").write_text(WORKFLOW.replace("[KIDNEY_CYST]", "[KIDNY_CYST]"))
    input_dir = tmp_path / "in"
    input_dir.mkdir()
    options = RunOptions(input_dir, tmp_path / "out")
    report = run_workflow(model_dir / "config" / "default.yml", options, ProgressPrinter(quiet=True))
    assert report.exit_code == ExitCode.CONFIG_ERROR
    assert "did you mean 'KIDNEY_CYST'" in report.error


def test_label_missing_from_the_label_table_fails_every_series(model_dir, tmp_path):
    (model_dir / "config" / "default.yml").write_text(WORKFLOW.replace("[KIDNEY_CYST]", "[LIVER]"))
    report, data, out = run(model_dir, tmp_path, {"1.1": kidneys(), "1.2": kidneys()})
    assert report.exit_code == ExitCode.ALL_FAILED
    assert {s["failed_step"] for s in data["series"]} == {"ZeroEdgeSlices"}
    assert "label 'LIVER' is not in the label table" in data["series"][0]["error"]
