"""Fuzzing the input boundary: scanner, series QC, volume reader and SEG header reader.

Every target must end in its documented outcome (a listed file issue, a QC result, a
``VolumeReadError``, a ``StepError``), never in another exception, never decode more than
the declared budget, and never accept values that make no sense.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, JPEGLSLossless, RLELossless

from mhubio.core.errors import StepError
from mhubio.dicom.qc import QCConfig, run_qc
from mhubio.dicom.scan import scan_files, scan_folder
from mhubio.dicom.series import DicomSeries
from mhubio.dicom.uid import is_valid_uid
from mhubio.dicom.volume import VolumeReadError, read_series_image
from mhubio.modules.importers.seg_importer import read_seg_header
from mhubio.synthetic.ct import write_ct_series

REGRESSIONS = Path(__file__).parent / "regressions"


def _seg_header() -> bytes:
    from io import BytesIO

    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import SegmentationStorage

    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = SegmentationStorage, "1.2.3.4"
    ds.SeriesInstanceUID, ds.StudyInstanceUID, ds.FrameOfReferenceUID = "1.2.3.5", "1.2.3.6", "1.2.3.7"
    ds.Modality, ds.SeriesDate, ds.SeriesTime = "SEG", "20240101", "120000"
    reference = Dataset()
    reference.SeriesInstanceUID = "1.2.3.8"
    ds.ReferencedSeriesSequence = [reference]
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = SegmentationStorage, "1.2.3.4"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.preamble = b"\0" * 128
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


SEG_HEADER = _seg_header()
SYNTAXES = (ExplicitVRLittleEndian, RLELossless, JPEGLSLossless, JPEG2000Lossless)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("fuzz_seeds")
    return {
        syntax: list(write_ct_series(root / syntax, shape=(4, 32, 32), spacing=(0.8, 0.8, 2.5), seed=k,
                                     transfer_syntax=syntax).files)
        for k, syntax in enumerate(SYNTAXES)
    }


def mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    buffer = bytearray(data)
    for position, value in edits:
        buffer[position % len(buffer)] = value
    return bytes(buffer[:cut] if cut else buffer)


# Most edits hit the header (the first 1.5 KB), some the pixel data.
EDITS = st.lists(st.tuples(st.integers(0, 1500) | st.integers(0, 1 << 20), st.integers(0, 255)), max_size=24)
CUTS = st.none() | st.integers(1, 1 << 16)


def scan_and_read(folder: Path) -> None:
    """Scan ``folder``, QC and read every series: only documented outcomes are allowed."""
    scanned = scan_folder(folder)
    listed = len(scanned.non_dicom) + len(scanned.unreadable) + len(scanned.rejected_files) + len(scanned.ignored)
    assert listed + scanned.n_instances == scanned.n_files
    for series in scanned.series.values():
        result = run_qc(series, QCConfig(min_slices=1))  # short series too reach the volume reader
        if not result.passed:
            assert result.failed_check is not None and result.message
            continue
        accepted = result.accepted
        assert all(is_valid_uid(i.series_instance_uid) for i in accepted.instances)
        try:
            image = read_series_image(accepted)
        except VolumeReadError:
            continue
        assert all(math.isfinite(v) and v > 0 for v in image.GetSpacing())


@given(syntax=st.sampled_from(SYNTAXES), edits=EDITS, cut=CUTS)
def test_mutated_files_end_in_documented_outcomes(seeds, tmp_path_factory, syntax, edits, cut):
    folder = tmp_path_factory.mktemp("case")
    for k, source in enumerate(seeds[syntax]):
        data = source.read_bytes()
        (folder / source.name).write_bytes(mutate(data, edits, cut) if k == 1 else data)
    scan_and_read(folder)


FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=32) | st.sampled_from([0.0, -1.0, 1e-9, 1e30])
UIDS = st.sampled_from(["1.2.3", "1.2.03", "../x", "mhub_logs", "1." + "9" * 70, "", "1..2"]) | st.from_regex(
    r"[0-9.]{1,70}", fullmatch=True)


@given(
    position=st.tuples(FLOATS, FLOATS, FLOATS),
    orientation=st.tuples(*[FLOATS] * 6),
    spacing=st.tuples(FLOATS, FLOATS),
    matrix=st.tuples(st.integers(-2, 1 << 17), st.integers(-2, 1 << 17)),
    frames=st.integers(-3, 1 << 30),
    slope=st.none() | FLOATS,
    series_uid=UIDS,
)
def test_qc_rejects_by_name_or_passes_only_sane_values(seeds, position, orientation, spacing, matrix, frames,
                                                       slope, series_uid):
    template = scan_files(seeds[ExplicitVRLittleEndian]).series
    (series,) = template.values()
    first = replace(series.instances[0], image_position=position, image_orientation=orientation,
                    pixel_spacing=spacing, rows=matrix[0], columns=matrix[1], number_of_frames=frames,
                    rescale_slope=slope)
    instances = [replace(i, series_instance_uid=series_uid or "1") for i in (first, *series.instances[1:])]
    result = run_qc(DicomSeries(tuple(instances)), QCConfig(min_slices=1))
    if not result.passed:
        assert result.failed_check is not None
        return
    for instance in result.accepted.instances:
        values = (*instance.image_position, *instance.image_orientation, *instance.pixel_spacing)
        assert all(math.isfinite(v) for v in values) and min(instance.pixel_spacing) > 0
        assert instance.rescale_slope is None or (math.isfinite(instance.rescale_slope) and instance.rescale_slope)
        assert is_valid_uid(instance.series_instance_uid)


@given(edits=EDITS, cut=CUTS)
def test_seg_header_reader_raises_only_step_errors(tmp_path_factory, edits, cut):
    path = tmp_path_factory.mktemp("seg") / "seg.dcm"
    path.write_bytes(mutate(SEG_HEADER, edits, cut))
    try:
        header = read_seg_header(path)
    except StepError:
        return
    assert header.path == path


@pytest.mark.parametrize("case", sorted(p.name for p in REGRESSIONS.iterdir() if p.is_dir()))
def test_regression_corpus_replays(case: str, tmp_path: Path):
    """Every input folder that ever crashed a target ends in a documented outcome."""
    scan_and_read(REGRESSIONS / case)
