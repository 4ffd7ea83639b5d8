"""Folder scanning: grouping, file classification, robustness against bad files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread, dcmwrite
from pydicom.dataset import FileMetaDataset
from pydicom.fileset import FileSet

from mhubio.core.forking import can_fork
from mhubio.dicom import scan as scan_module
from mhubio.dicom.scan import scan_folder
from mhubio.synthetic import FileNaming, write_ct_series

SHAPE = (12, 32, 32)


@pytest.fixture
def two_series(tmp_path: Path):
    first = write_ct_series(tmp_path / "in" / "a" / "b", shape=SHAPE, seed=1, file_names=FileNaming.RANDOM)
    second = write_ct_series(tmp_path / "in", shape=(15, 32, 32), seed=2, series_number=2)
    return tmp_path / "in", first, second


def test_groups_series_in_any_layout(two_series):
    root, first, second = two_series
    result = scan_folder(root)
    assert set(result.series) == {first.series_uid, second.series_uid}
    assert set(result.series[first.series_uid].files) == set(first.files)
    assert len(result.series[second.series_uid]) == 15
    assert result.n_instances == 27
    assert result.non_dicom == [] and result.unreadable == [] and result.rejected_files == []


def test_reads_the_headers_the_framework_needs(tmp_path: Path):
    series = write_ct_series(tmp_path, shape=SHAPE, seed=3, series_number=4)
    scanned = scan_folder(tmp_path).series[series.series_uid]
    first = next(i for i in scanned.instances if i.path == series.files[0])
    reference = dcmread(series.files[0])
    assert first.sop_instance_uid == reference.SOPInstanceUID
    assert first.study_instance_uid == series.study_uid
    assert first.frame_of_reference_uid == series.frame_of_reference_uid
    assert first.modality == "CT" and first.series_number == 4 and first.instance_number == 1
    assert first.image_position == tuple(float(v) for v in reference.ImagePositionPatient)
    assert first.image_orientation == tuple(float(v) for v in reference.ImageOrientationPatient)
    assert first.pixel_spacing == tuple(float(v) for v in reference.PixelSpacing)
    assert (first.rows, first.columns) == (32, 32)
    assert first.image_type[:2] == ("ORIGINAL", "PRIMARY")
    assert first.transfer_syntax_uid == reference.file_meta.TransferSyntaxUID


def test_non_dicom_files_are_listed_not_fatal(tmp_path: Path):
    write_ct_series(tmp_path, shape=SHAPE, seed=4)
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "fake.dcm").write_bytes(b"\x08\x00" + b"garbage" * 20)
    (tmp_path / "short").write_bytes(b"abc")
    result = scan_folder(tmp_path)
    assert sorted(p.name for p in result.non_dicom) == ["fake.dcm", "notes.txt", "short"]
    assert len(result.series) == 1


def test_empty_and_truncated_files_are_unreadable_with_reason(tmp_path: Path):
    series = write_ct_series(tmp_path, shape=SHAPE, seed=5)
    (tmp_path / "empty").write_bytes(b"")
    data = series.files[3].read_bytes()
    series.files[3].write_bytes(data[: len(data) - 100])
    header_only = tmp_path / "cut_in_header"
    header_only.write_bytes(data[:400])
    reasons = {p.name: r for p, r in scan_folder(tmp_path).unreadable}
    assert reasons["empty"] == "empty file (0 bytes)"
    assert reasons[series.files[3].name].startswith("truncated file")
    assert header_only.name in reasons


def test_truncated_compressed_file_is_unreadable(tmp_path: Path):
    series = write_ct_series(tmp_path, shape=SHAPE, seed=6, transfer_syntax="1.2.840.10008.1.2.5")
    data = series.files[2].read_bytes()
    series.files[2].write_bytes(data[: len(data) - 50])
    result = scan_folder(tmp_path)
    assert [p for p, _ in result.unreadable] == [series.files[2]]
    assert len(result.series[series.series_uid]) == SHAPE[0] - 1


def test_blank_uids_are_rejected_naming_the_uid(tmp_path: Path):
    series = write_ct_series(tmp_path, shape=SHAPE, seed=7)
    keywords = ["SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID"]
    for path, keyword in zip(series.files[:3], keywords, strict=True):
        ds = dcmread(path)
        setattr(ds, keyword, "")
        ds.save_as(path)
    rejected = {p: r for p, r in scan_folder(tmp_path).rejected_files}
    assert rejected[series.files[0]] == "missing or empty UIDs: SOPInstanceUID"
    assert rejected[series.files[1]] == "missing or empty UIDs: SeriesInstanceUID"
    assert rejected[series.files[2]] == "missing or empty UIDs: StudyInstanceUID"


def test_invalid_geometry_value_is_rejected(tmp_path: Path):
    series = write_ct_series(tmp_path, shape=SHAPE, seed=8)
    ds = dcmread(series.files[0])
    ds.PixelSpacing = [0.8]
    ds.save_as(series.files[0])
    rejected = dict(scan_folder(tmp_path).rejected_files)
    assert "PixelSpacing" in rejected[series.files[0]]


def test_duplicate_copy_is_indexed_once(tmp_path: Path):
    series = write_ct_series(tmp_path, shape=SHAPE, seed=9)
    shutil.copyfile(series.files[0], tmp_path / "zz_copy")
    result = scan_folder(tmp_path)
    assert len(result.series[series.series_uid]) == SHAPE[0]
    [(path, reason)] = result.rejected_files
    assert path.name == "zz_copy" and "duplicate SOPInstanceUID" in reason


def test_files_without_preamble_are_read(tmp_path: Path):
    series = write_ct_series(tmp_path, shape=SHAPE, seed=10)
    for path in series.files:
        ds = dcmread(path)
        ds.preamble = None
        ds.file_meta = FileMetaDataset()
        dcmwrite(path, ds, implicit_vr=True, little_endian=True)
    assert series.files[0].read_bytes()[128:132] != b"DICM"
    result = scan_folder(tmp_path)
    assert len(result.series[series.series_uid]) == SHAPE[0]


def test_dicomdir_is_ignored(tmp_path: Path):
    series = write_ct_series(tmp_path / "src", shape=SHAPE, seed=14)
    file_set = FileSet()
    for path in series.files:
        file_set.add(dcmread(path))
    file_set.write(tmp_path / "media")
    result = scan_folder(tmp_path / "media")
    [(path, reason)] = result.ignored
    assert path.name == "DICOMDIR" and "DICOMDIR" in reason
    assert len(result.series[series.series_uid]) == SHAPE[0]
    assert result.rejected_files == [] and result.unreadable == []


def test_permission_denied_is_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    series = write_ct_series(tmp_path, shape=SHAPE, seed=11)
    victim = series.files[2]
    original_open = Path.open

    def guarded_open(self: Path, *args, **kwargs):
        if self == victim:
            raise PermissionError(13, "Permission denied", str(self))
        return original_open(self, *args, **kwargs)

    monkeypatch.setattr(scan_module.Path, "open", guarded_open)
    result = scan_folder(tmp_path)
    assert result.unreadable == [(victim, "permission denied")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_chmod_000_file_and_folder_are_unreadable(tmp_path: Path):
    series = write_ct_series(tmp_path / "in", shape=SHAPE, seed=12)
    locked_dir = tmp_path / "in" / "locked"
    locked_dir.mkdir()
    os.chmod(series.files[0], 0)
    os.chmod(locked_dir, 0)
    try:
        result = scan_folder(tmp_path / "in")
    finally:
        os.chmod(locked_dir, 0o755)
        os.chmod(series.files[0], 0o644)
    reasons = dict(result.unreadable)
    assert reasons[series.files[0]] == "permission denied"
    assert reasons[locked_dir] == "unreadable folder: permission denied"


def test_missing_root_is_an_error(tmp_path: Path):
    with pytest.raises(NotADirectoryError, match="does not exist"):
        scan_folder(tmp_path / "nope")


def test_empty_folder_gives_empty_result(tmp_path: Path):
    result = scan_folder(tmp_path)
    assert result.series == {} and result.n_instances == 0


def test_corrupted_files_never_stop_the_scan(tmp_path: Path):
    """Every truncation point and random byte damage of a valid file is classified, never raised."""
    series = write_ct_series(tmp_path / "src", shape=(2, 32, 32), seed=13)
    original = series.files[0].read_bytes()
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    rng = np.random.default_rng(0)
    for cut in range(0, len(original), 37):
        (damaged / f"cut{cut:05d}").write_bytes(original[:cut])
    for k in range(150):
        data = np.frombuffer(original, dtype=np.uint8).copy()
        positions = rng.integers(128, data.size, size=int(rng.integers(1, 20)))
        data[positions] = rng.integers(0, 256, size=positions.size)
        (damaged / f"noise{k:03d}").write_bytes(data.tobytes())
    result = scan_folder(damaged)
    classified = (result.n_instances + len(result.non_dicom) + len(result.unreadable)
                  + len(result.rejected_files) + len(result.ignored))
    assert classified == result.n_files == len(list(damaged.iterdir()))
    assert any(name.startswith("cut") for name in (p.name for p, _ in result.unreadable))


def test_special_files_are_not_opened(tmp_path: Path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    reasons = {p.name: r for p, r in scan_folder(tmp_path).unreadable}
    assert reasons["pipe"] == "not a regular file"
    assert reasons["dangling"].startswith("cannot be read")


_PIDS_DIR: Path | None = None
_INDEX_FILE = scan_module.index_file


def _index_noting_process(path: Path) -> scan_module.FileOutcome:
    assert _PIDS_DIR is not None
    (_PIDS_DIR / str(os.getpid())).touch()
    return _INDEX_FILE(path)


@pytest.mark.skipif(not can_fork(), reason="processes are not forked on this platform")
def test_headers_are_parsed_on_other_processes_with_the_same_result(two_series, tmp_path: Path, monkeypatch):
    global _PIDS_DIR
    root = two_series[0]
    monkeypatch.setattr(scan_module, "SCAN_BLOCK_FILES", 4)
    in_process = scan_folder(root)
    monkeypatch.setattr(scan_module, "index_file", _index_noting_process)
    _PIDS_DIR = tmp_path / "pids"
    _PIDS_DIR.mkdir()
    try:
        on_processes = scan_folder(root, processes=2)
    finally:
        _PIDS_DIR = None
    pids = {int(p.name) for p in (tmp_path / "pids").iterdir()}
    assert pids and os.getpid() not in pids
    assert on_processes == in_process and on_processes.n_instances == 27


def test_values_that_repeat_across_a_series_are_held_once(tmp_path: Path, monkeypatch):
    series = write_ct_series(tmp_path, shape=SHAPE, seed=6)
    ds = dcmread(series.files[3])
    ds.ImageOrientationPatient = ["1", "-0", "0", "0", "1", "0"]
    ds.save_as(series.files[3])
    monkeypatch.setattr(scan_module, "_shared_values", {})
    instances = scan_folder(tmp_path).series[series.series_uid].instances
    for name in ("series_instance_uid", "study_instance_uid", "modality", "pixel_spacing", "image_type",
                 "slice_thickness", "rescale_slope", "rescale_intercept"):
        assert getattr(instances[0], name) is not None, name
        assert len({id(getattr(i, name)) for i in instances}) == 1, name
    assert not hasattr(instances[0], "__dict__")  # slots: no per-entry dictionary
    by_path = {i.path: i for i in instances}
    assert repr(by_path[series.files[3]].image_orientation) == "(1.0, -0.0, 0.0, 0.0, 1.0, 0.0)"
    assert repr(by_path[series.files[4]].image_orientation) == "(1.0, 0.0, 0.0, 0.0, 1.0, 0.0)"
    assert len({id(i.image_orientation) for i in instances}) == 2
    assert len({i.sop_instance_uid for i in instances}) == SHAPE[0]


def test_the_shared_values_are_bounded(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(scan_module, "_SHARED_LIMIT", 5)
    monkeypatch.setattr(scan_module, "_shared_values", {})
    series = write_ct_series(tmp_path, shape=SHAPE, seed=7)
    for path in series.files:
        ds = dcmread(path)
        ds.AcquisitionTime = f"1200{ds.InstanceNumber:02d}"
        ds.save_as(path)
    scanned = scan_folder(tmp_path).series[series.series_uid]
    assert len(scan_module._shared_values) <= 5
    assert sorted(i.acquisition_time for i in scanned.instances) == [f"1200{n:02d}" for n in range(1, 13)]


@pytest.mark.parametrize("processes", [1, 2])
def test_progress_is_reported_per_block_and_at_the_end(tmp_path: Path, processes: int):
    series = write_ct_series(tmp_path, shape=(150, 8, 8), seed=12)
    calls: list[tuple[int, int]] = []
    result = scan_folder(tmp_path, processes=processes, progress=lambda parsed, total: calls.append((parsed, total)))
    assert calls == [(0, 150), (64, 150), (128, 150), (150, 150)]
    assert result.series[series.series_uid].files == scan_folder(tmp_path).series[series.series_uid].files
