"""Body part regression on an enhanced multi-frame CT: the scores equal those of the same slices as single-frame
images, and the landmark and region SRs reference the multi-frame image frame by frame (dciodvfy-valid)."""

from __future__ import annotations

import json
from pathlib import Path

import highdicom as hd
import numpy as np
import pytest
from pydicom import Dataset, dcmread

from mhubio.core.exitcodes import ExitCode
from mhubio.core.logs import ProgressPrinter
from mhubio.core.runner import RunOptions, run_workflow
from mhubio.geometry import sort_datasets
from mhubio.sr.bpr import encode_landmark_sr, encode_region_sr
from mhubio.synthetic import write_ct_series
from tests.helpers import REPO, dciodvfy_errors
from tests.support.bpr import result_from_curve, write_model_folder
from tests.support.enhanced import MultiFrameKind, write_multi_frame

SR_KINDS = ("bpr-landmarks", "bpr-regions")


def _run(input_dir: Path, out: Path, model: Path) -> Path:
    report = run_workflow(
        REPO / "models" / "bpreg" / "config" / "default.yml",
        RunOptions(input_dir, out, overrides=[f"BodyPartRegressionRunner.model_dir={model}"]),
        ProgressPrinter(quiet=True),
    )
    assert report.exit_code == ExitCode.SUCCESS, report.error
    (folder,) = [p for p in out.iterdir() if p.is_dir() and not p.name.startswith("mhub_")]
    return folder


def _groups(sr_path: Path, position_of) -> list[tuple[float, list[tuple[str, str]]]]:
    """(z of the referenced slice, finding site codes) of every measurement group."""
    found = []
    for group in hd.sr.srread(sr_path).content.get_image_measurement_groups():
        (source,) = group.source_images
        sites = [(s.value.value, s.value.scheme_designator) for s in group.finding_sites]
        found.append((position_of(source), sites))
    return found


def _positions(series_files: list[Path], image: Dataset):
    """Functions from an SR group's source image to the z of its slice: single-frame, and multi-frame."""
    z_of_sop = {str(ds.SOPInstanceUID): float(ds.ImagePositionPatient[2])
                for ds in (dcmread(f, stop_before_pixels=True) for f in series_files)}
    z_of_frame = {number: float(item.PlanePositionSequence[0].ImagePositionPatient[2])
                  for number, item in enumerate(image.PerFrameFunctionalGroupsSequence, start=1)}

    def single(source) -> float:
        return z_of_sop[source.referenced_sop_instance_uid]

    def frame(source) -> float:
        assert source.referenced_sop_instance_uid == image.SOPInstanceUID
        (number,) = source.referenced_frame_numbers
        return z_of_frame[number]

    return single, frame


def _check_multi_frame_sr(sr_path: Path, single_sr: Path, image: Dataset, series_files: list[Path]) -> None:
    """The multi-frame SR is valid, references the image once as evidence, and its groups are the single-frame
    SR's groups at the same slice positions."""
    single, frame = _positions(series_files, image)
    assert dciodvfy_errors(sr_path) == []
    expected = _groups(single_sr, single)
    assert expected and _groups(sr_path, frame) == expected
    evidence = dcmread(sr_path).CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert [str(i.ReferencedSOPInstanceUID) for i in evidence.ReferencedSOPSequence] == [image.SOPInstanceUID]


@pytest.mark.parametrize(("kind", "order"), [(MultiFrameKind.LEGACY_CT, "descending"),
                                             (MultiFrameKind.ENHANCED_CT, "ascending")])
def test_bpr_model_on_multi_frame_ct_equals_the_single_frame_run(tmp_path, kind, order):
    model = write_model_folder(tmp_path / "weights" / "bpreg", seed=3)
    series = write_ct_series(tmp_path / "single", shape=(14, 48, 48), spacing=(4.0, 4.0, 5.0), seed=8,
                             slice_order=order)
    image = write_multi_frame(series.files, tmp_path / "multi" / "image.dcm", kind)
    single, multi = (_run(tmp_path / "single", tmp_path / "out-single", model),
                     _run(tmp_path / "multi", tmp_path / "out-multi", model))
    scores = [json.loads((folder / "bpreg.bpreg.json").read_text()) for folder in (single, multi)]
    assert scores[0]["cleaned slice scores"] == pytest.approx(scores[1]["cleaned slice scores"], abs=1e-5)
    assert scores[0]["mhubio"] == scores[1]["mhubio"]
    for kind_name in SR_KINDS:  # a random-weight model may put no landmark inside the scan
        assert (single / f"bpreg.{kind_name}.sr.dcm").exists() == (multi / f"bpreg.{kind_name}.sr.dcm").exists()
    _check_multi_frame_sr(multi / "bpreg.bpr-regions.sr.dcm", single / "bpreg.bpr-regions.sr.dcm", image,
                          list(series.files))


@pytest.mark.parametrize("encode", [encode_landmark_sr, encode_region_sr], ids=["landmarks", "regions"])
def test_sr_of_a_multi_frame_ct_references_frames_at_the_single_frame_positions(tmp_path, encode):
    series = write_ct_series(tmp_path / "single", shape=(40, 16, 16), spacing=(2.0, 2.0, 2.5), seed=5,
                             slice_order="descending")
    image = write_multi_frame(series.files, tmp_path / "multi" / "image.dcm", MultiFrameKind.ENHANCED_CT)
    result = result_from_curve(28.0 + np.arange(40) * 2.5 * 0.11, 2.5)
    headers = sort_datasets([dcmread(f, stop_before_pixels=True) for f in series.files])
    paths = []
    for name, sources in (("single", headers), ("multi", [dcmread(tmp_path / "multi" / "image.dcm",
                                                                    stop_before_pixels=True)])):
        paths.append(tmp_path / f"{name}.sr.dcm")
        encode(result, sources, "BPR", "1.1.0", 101).save_as(paths[-1], enforce_file_format=True)
    _check_multi_frame_sr(paths[1], paths[0], image, list(series.files))
