"""Each source file is parsed once for its index and once for its pixels through a whole run.

Every pydicom read goes through ``pydicom.filereader.read_partial``; the tests count its calls per file.
"""

from __future__ import annotations

import pickle
from collections import Counter
from pathlib import Path

import pydicom.filereader
import pytest

from mhubio.core.exitcodes import ExitCode
from mhubio.core.logs import ProgressPrinter
from mhubio.core.module import ModelInfo, RunContext
from mhubio.core.runner import RunOptions, run_workflow
from mhubio.modules.importers.dicom_importer import DicomImporter
from mhubio.synthetic import write_ct_series
from tests.helpers import REPO
from tests.radiomics_helpers import THRESHOLDER_WITH_RADIOMICS


@pytest.fixture()
def reads(monkeypatch) -> Counter:
    """(file, kind) -> number of parses, kind being ``index`` (selected tags), ``header`` or ``pixels``."""
    counts: Counter = Counter()
    original = pydicom.filereader.read_partial

    def counting(fileobj, stop_when=None, defer_size=None, force=False, specific_tags=None):
        kind = "index" if specific_tags is not None else "header" if stop_when is not None else "pixels"
        counts[(Path(getattr(fileobj, "name", "?")).resolve(), kind)] += 1
        return original(fileobj, stop_when, defer_size, force, specific_tags)

    monkeypatch.setattr(pydicom.filereader, "read_partial", counting)
    return counts


def per_file(reads: Counter, files) -> dict[Path, dict[str, int]]:
    out: dict[Path, dict[str, int]] = {Path(f).resolve(): {} for f in files}
    for (path, kind), count in reads.items():
        if path in out:
            out[path][kind] = count
    return out


@pytest.mark.parametrize("workflow", ["default", "seg_and_radiomics_sr"])
def test_each_source_file_is_indexed_once_and_decoded_once(tmp_path, reads, workflow) -> None:
    pytest.importorskip("radiomics.featureextractor")
    series = write_ct_series(tmp_path / "in", shape=(12, 32, 32), seed=21)
    if workflow == "default":
        config = REPO / "models" / "thresholder" / "config" / "default.yml"
    else:
        config = tmp_path / "workflow.yml"
        config.write_text(THRESHOLDER_WITH_RADIOMICS)
    report = run_workflow(config, RunOptions(series.directory, tmp_path / "out"), ProgressPrinter(quiet=True))
    assert report.exit_code == ExitCode.SUCCESS, report.error
    written = sorted(p.name for p in (tmp_path / "out" / series.series_uid).iterdir())
    assert "thresholder.seg.dcm" in written
    if workflow != "default":
        assert "thresholder.radiomics.sr.dcm" in written
    assert per_file(reads, series.files) == {Path(f).resolve(): {"index": 1, "pixels": 1} for f in series.files}


@pytest.mark.slow
def test_bpreg_sr_encoders_reuse_the_runner_read(tmp_path, reads) -> None:
    pytest.importorskip("torch")
    from tests.support.bpr import write_model_folder

    model = write_model_folder(tmp_path / "weights" / "bpreg")
    series = write_ct_series(tmp_path / "in", shape=(12, 48, 48), spacing=(4.0, 4.0, 5.0), seed=23)
    report = run_workflow(
        REPO / "models" / "bpreg" / "config" / "default.yml",
        RunOptions(series.directory, tmp_path / "out", overrides=[f"BodyPartRegressionRunner.model_dir={model}"]),
        ProgressPrinter(quiet=True),
    )
    assert report.exit_code == ExitCode.SUCCESS, report.error
    assert (tmp_path / "out" / series.series_uid / "bpreg.bpr-regions.sr.dcm").is_file()
    assert per_file(reads, series.files) == {Path(f).resolve(): {"index": 1, "pixels": 1} for f in series.files}


def test_the_indexed_series_survives_pickling(tmp_path) -> None:
    series = write_ct_series(tmp_path / "in", shape=(12, 16, 16), seed=22, slice_order="descending")
    importer = DicomImporter("DicomImporter", DicomImporter.Params(modalities=["CT"]),
                             RunContext(tmp_path, tmp_path / "out", tmp_path / "work", ModelInfo("t", "1")))
    [instance] = importer.import_instances(series.directory).instances
    indexed = instance.items[0].series
    assert indexed is not None
    indexed.headers()
    copy = pickle.loads(pickle.dumps(instance))
    moved = copy.items[0].dicom_series()
    assert moved.instances == indexed.instances
    assert moved.sorted_instances() == indexed.sorted_instances()
    assert moved.geometry == indexed.geometry
    assert "_headers" not in moved.__dict__
    assert [ds.SOPInstanceUID for ds in moved.headers()] == [ds.SOPInstanceUID for ds in indexed.headers()]
    instance.release_memory()
    assert "_headers" not in indexed.__dict__
    assert instance.items[0].series is None
    assert instance.items[0].dicom_series().sorted_instances() == indexed.sorted_instances()
