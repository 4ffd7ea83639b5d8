"""Limits before decoding: scan depth and file count, the weights unpacker's caps, codestream sizes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from mhubio.core.errors import InputLimitError, WeightsError
from mhubio.dicom.codestream import CodestreamError, FrameHeader, check_codestream, codestream_size
from mhubio.dicom.limits import declared_pixel_bytes
from mhubio.dicom.scan import scan_folder
from mhubio.dicom.series import DicomInstance
from mhubio.dicom.walk import ScanLimits
from mhubio.weights.archive import unpack
from mhubio.weights.manifest import ArchiveFormat


def nested(root: Path, depth: int) -> Path:
    root.mkdir()
    folder = root
    for _ in range(depth):  # one level at a time: pathlib's mkdir(parents=True) recurses
        folder = folder / "d"
        folder.mkdir()
    (folder / "note.txt").write_text("deep\n")
    return folder


def remove_nested(root: Path, deepest: Path) -> None:
    """Remove a tree made by :func:`nested` bottom-up: pytest's recursive clean-up of old temporary folders
    cannot remove one deeper than Python's recursion limit."""
    for child in deepest.iterdir():
        child.unlink()
    folder = deepest
    while folder != root.parent:
        folder.rmdir()
        folder = folder.parent


def test_scan_is_iterative_beyond_the_recursion_limit(tmp_path: Path):
    deepest = nested(tmp_path / "in", 1200)
    try:
        result = scan_folder(tmp_path / "in", ScanLimits(max_depth=2000))
    finally:
        remove_nested(tmp_path / "in", deepest)
    assert result.n_files == 1 and len(result.non_dicom) == 1


def test_scan_refuses_a_folder_deeper_than_the_limit(tmp_path: Path):
    nested(tmp_path / "in", 5)
    assert scan_folder(tmp_path / "in", ScanLimits(max_depth=5)).n_files == 1
    with pytest.raises(InputLimitError, match="deeper than 4 levels"):
        scan_folder(tmp_path / "in", ScanLimits(max_depth=4))


def test_scan_refuses_more_files_than_the_limit(tmp_path: Path):
    for k in range(6):
        (tmp_path / f"f{k}").write_text("x")
    assert scan_folder(tmp_path, ScanLimits(max_files=6)).n_files == 6
    with pytest.raises(InputLimitError, match="more than 5 files"):
        scan_folder(tmp_path, ScanLimits(max_files=5))


def test_scan_does_not_follow_folder_links(tmp_path: Path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "loop").symlink_to(tmp_path / "in")
    (tmp_path / "in" / "a.txt").write_text("x")
    result = scan_folder(tmp_path / "in", ScanLimits(max_depth=3))
    assert result.n_files == 2  # the file and the link itself (not a folder to descend into)


def zip_of_zeros(path: Path, size: int) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model/weights.bin", bytes(size))
    return path


def test_unpacker_refuses_a_compression_bomb_and_removes_what_it_wrote(tmp_path: Path):
    archive = zip_of_zeros(tmp_path / "bomb.zip", 4 << 20)
    (tmp_path / "dest").mkdir()
    with pytest.raises(WeightsError, match="compression bomb"):
        unpack(archive, ArchiveFormat.ZIP, tmp_path / "dest", max_ratio=100)
    assert [p for p in (tmp_path / "dest").rglob("*") if p.is_file()] == []


def test_unpacker_caps_the_total_size(tmp_path: Path):
    archive = zip_of_zeros(tmp_path / "big.zip", 3 << 20)
    (tmp_path / "dest").mkdir()
    with pytest.raises(WeightsError, match="more than"):
        unpack(archive, ArchiveFormat.ZIP, tmp_path / "dest", max_bytes=1 << 20)
    written = unpack(archive, ArchiveFormat.ZIP, tmp_path / "dest", max_bytes=4 << 20)
    assert [p.stat().st_size for p in written] == [3 << 20]


def test_declared_bytes_count_every_frame_and_sample():
    instance = DicomInstance(Path("x"), "1.1", "1.2", "1.3", rows=512, columns=512, number_of_frames=3,
                             samples_per_pixel=3, bits_allocated=8)
    assert declared_pixel_bytes(instance) == 512 * 512 * 3 * 3 * 4


def jpeg_with_sof(height: int, width: int) -> bytes:
    app0 = b"\xff\xe0\x00\x10" + b"JFIF\x00" + bytes(9)
    sof = b"\xff\xc3\x00\x0b\x10" + height.to_bytes(2, "big") + width.to_bytes(2, "big") + b"\x01\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xda\x00\x08" + bytes(6)


def test_jpeg_frame_header_is_read_past_application_segments():
    assert codestream_size("1.2.840.10008.1.2.4.70", jpeg_with_sof(300, 200)) == (300, 200)


def test_codestream_size_mismatch_is_refused_before_decoding():
    from pydicom.encaps import encapsulate

    data = encapsulate([jpeg_with_sof(40000, 40000)])
    with pytest.raises(CodestreamError, match="40000 x 40000"):
        check_codestream("1.2.840.10008.1.2.4.70", data, FrameHeader(32, 32))
    check_codestream("1.2.840.10008.1.2.4.70", encapsulate([jpeg_with_sof(32, 32)]), FrameHeader(32, 32))


def test_jpeg_without_frame_header_is_refused():
    with pytest.raises(CodestreamError, match="SOF"):
        codestream_size("1.2.840.10008.1.2.4.70", b"\xff\xd8\xff\xda\x00\x08" + bytes(6))
