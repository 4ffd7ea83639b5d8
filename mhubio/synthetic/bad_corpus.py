"""A corpus of broken and awkward DICOM input folders with known expected outcomes.

:func:`write_ct_series` writes small but complete CT Image Storage series with full
control over every per-slice attribute; :func:`write_bad_corpus` uses it to write
one folder per :class:`BadCase`. Each case states which series must be processed,
which must be skipped and why (a :class:`~mhubio.dicom.qc.QCCheck`, or
:data:`CONVERSION_FAILURE` for series that pass QC but cannot be decoded), and the
expected exit code of ``mhub run`` on that folder.

Exit codes assumed here (see :data:`EXIT_CODES`): a run that processes at least
one series and fails none exits 0 even when other series were skipped by QC
(skipped series are listed in the run report); no DICOM or no eligible series
exits 3; some processed series failing exits 4; all failing exits 5.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    PYDICOM_IMPLEMENTATION_UID,
    RLELossless,
    UID,
    generate_uid,
)

from mhubio.dicom.qc import QCCheck

__all__ = [
    "AXIAL",
    "BadCase",
    "CONVERSION_FAILURE",
    "EXIT_CODES",
    "SyntheticSeries",
    "write_bad_corpus",
    "write_ct_series",
]

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
CONVERSION_FAILURE = "conversion"
EXIT_CODES = {
    "success": 0,
    "usage": 2,
    "no_eligible_series": 3,
    "some_failed": 4,
    "all_failed": 5,
}
_BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
_MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"

SliceEdit = Callable[[int, Dataset], Dataset | None]


@dataclass(frozen=True)
class SyntheticSeries:
    """A series written by :func:`write_ct_series`."""

    series_uid: str
    study_uid: str
    paths: tuple[Path, ...]


@dataclass(frozen=True)
class BadCase:
    """One input folder of the corpus and its expected outcome.

    Attributes
    ----------
    name
        Folder name, also the case identifier.
    path
        The input folder.
    description
        What is wrong with the folder.
    expected_processed_series
        SeriesInstanceUIDs that must be processed.
    expected_skipped
        SeriesInstanceUID -> the QC check that rejects it, or
        :data:`CONVERSION_FAILURE` when it passes QC but cannot be read.
    expected_exit_code
        Exit code of ``mhub run`` on ``path`` (see :data:`EXIT_CODES`).
    expected_warned_series
        Processed series whose QC status must be WARN.
    expected_file_issues
        Number of files per scan list: ``non_dicom``, ``unreadable``,
        ``rejected_files``, ``ignored`` (absent keys mean 0).
    """

    name: str
    path: Path
    description: str
    expected_processed_series: frozenset[str]
    expected_skipped: Mapping[str, QCCheck | str]
    expected_exit_code: int
    expected_warned_series: frozenset[str] = frozenset()
    expected_file_issues: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        overlap = self.expected_processed_series & set(self.expected_skipped)
        if overlap:
            raise ValueError(f"case {self.name}: series both processed and skipped: {overlap}")
        if not self.expected_warned_series <= self.expected_processed_series:
            raise ValueError(f"case {self.name}: warned series must be processed series")
        if self.expected_exit_code not in EXIT_CODES.values():
            raise ValueError(f"case {self.name}: unknown exit code {self.expected_exit_code}")


def write_ct_series(
    folder: Path,
    *,
    uid_seed: str,
    n_slices: int = 12,
    rows: int = 16,
    columns: int = 16,
    pixel_spacing: tuple[float, float] = (0.8, 0.7),
    slice_gap: float = 2.5,
    origin: tuple[float, float, float] = (-5.6, -6.4, -20.0),
    orientation: tuple[float, ...] = AXIAL,
    series_number: int = 1,
    study_uid: str | None = None,
    transfer_syntax_uid: str = ExplicitVRLittleEndian,
    name_pattern: str = "IM{index:04d}",
    preamble: bool = True,
    descending: bool = False,
    edit: SliceEdit | None = None,
) -> SyntheticSeries:
    """Write a small CT Image Storage series, one file per slice.

    Slice ``k`` lies at ``origin + k * slice_gap * normal``. Voxels hold an ellipse
    of 40 HU in -1000 HU air plus ``k`` HU, so the slice order is visible in the
    data; stored values are unsigned 12 bit with RescaleIntercept -1024.

    Parameters
    ----------
    folder
        Target folder (created).
    uid_seed
        Makes all UIDs deterministic; use a different seed per series.
    descending
        Number instances from the last slice (head first order) instead of the
        first one.
    transfer_syntax_uid
        Explicit VR Little Endian, Implicit VR Little Endian or a lossless
        compressed syntax (RLE, JPEG-LS, JPEG 2000).
    preamble
        Write a DICOM file (preamble, file meta) or a bare data set.
    edit
        Called as ``edit(k, dataset)`` before a slice is written; returns the
        dataset to write or ``None`` to leave the slice out.
    """
    folder.mkdir(parents=True, exist_ok=True)
    study_uid = study_uid or generate_uid(entropy_srcs=[uid_seed, "study"])
    series_uid = generate_uid(entropy_srcs=[uid_seed, "series"])
    frame_uid = generate_uid(entropy_srcs=[uid_seed, "frame"])
    row = np.asarray(orientation[:3], dtype=float)
    col = np.asarray(orientation[3:], dtype=float)
    normal = np.cross(row, col)
    paths: list[Path] = []
    for k in range(n_slices):
        position = np.asarray(origin, dtype=float) + k * slice_gap * normal
        number = n_slices - k if descending else k + 1
        dataset = _ct_slice(
            k,
            rows=rows,
            columns=columns,
            sop_uid=generate_uid(entropy_srcs=[uid_seed, "sop", str(k)]),
            series_uid=series_uid,
            study_uid=study_uid,
            frame_uid=frame_uid,
            series_number=series_number,
            instance_number=number,
            position=position,
            orientation=orientation,
            pixel_spacing=pixel_spacing,
            slice_thickness=slice_gap,
        )
        if edit is not None:
            edited = edit(k, dataset)
            if edited is None:
                continue
            dataset = edited
        path = folder / name_pattern.format(index=number, k=k)
        _write(dataset, path, transfer_syntax_uid, preamble)
        paths.append(path)
    return SyntheticSeries(series_uid=series_uid, study_uid=study_uid, paths=tuple(paths))


def _ct_slice(
    k: int,
    *,
    rows: int,
    columns: int,
    sop_uid: str,
    series_uid: str,
    study_uid: str,
    frame_uid: str,
    series_number: int,
    instance_number: int,
    position: np.ndarray,
    orientation: tuple[float, ...],
    pixel_spacing: tuple[float, float],
    slice_thickness: float,
) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240102"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "101500"
    ds.AcquisitionTime = f"1016{k % 60:02d}"
    ds.AccessionNumber = "SYN0001"
    ds.Modality = "CT"
    ds.Manufacturer = "mhubio synthetic"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "Synthetic CT"
    ds.SeriesDescription = f"synthetic series {series_number}"
    ds.PatientName = "Synthetic^Patient"
    ds.PatientID = "SYN-PATIENT"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.KVP = "120"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = series_number
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = instance_number
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    ds.ImagePositionPatient = [round(float(v), 6) for v in position]
    ds.ImageOrientationPatient = list(orientation)
    ds.SliceThickness = slice_thickness
    ds.SliceLocation = round(float(position[2]), 6)
    ds.PixelSpacing = list(pixel_spacing)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = columns
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.RescaleType = "HU"
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    set_pixels(ds, slice_pixels(k, rows, columns))
    return ds


def slice_pixels(k: int, rows: int, columns: int) -> np.ndarray:
    """Stored values (uint16) of synthetic slice ``k``: an ellipse of 40 + k HU in air."""
    i, j = np.mgrid[0:rows, 0:columns]
    inside = ((i - rows / 2) / (rows * 0.35)) ** 2 + ((j - columns / 2) / (columns * 0.4)) ** 2 <= 1
    hounsfield = np.where(inside, 40 + k, -1000) + (j % 4)
    return (hounsfield + 1024).astype(np.uint16)


def set_pixels(dataset: Dataset, stored: np.ndarray) -> None:
    """Replace the native pixel data (and Rows/Columns) of ``dataset``."""
    dataset.Rows, dataset.Columns = stored.shape
    dataset.PixelData = stored.astype(np.uint16).tobytes()


def _write(dataset: Dataset, path: Path, transfer_syntax_uid: str, preamble: bool) -> None:
    syntax = UID(transfer_syntax_uid)
    if syntax.is_compressed:
        stored = np.frombuffer(dataset.PixelData, dtype=np.uint16).reshape(
            dataset.Rows, dataset.Columns
        )
        dataset.compress(syntax, stored, generate_instance_uid=False)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    meta.TransferSyntaxUID = syntax
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    if preamble:
        dataset.file_meta = meta
        dataset.preamble = b"\x00" * 128
        dcmwrite(path, dataset, enforce_file_format=True)
    else:
        dcmwrite(
            path,
            dataset,
            implicit_vr=syntax == ImplicitVRLittleEndian,
            little_endian=True,
        )


def write_bad_corpus(root: Path) -> list[BadCase]:
    """Write every case of the corpus below ``root``, one folder per case.

    Returns
    -------
    list[BadCase]
        The cases with their expected outcomes, in a fixed order.
    """
    root.mkdir(parents=True, exist_ok=True)
    builders = [
        _good_single,
        _non_dicom_only,
        _good_with_non_dicom,
        _truncated_slice,
        _zero_byte_file,
        _missing_slice,
        _duplicated_position,
        _duplicated_file_copy,
        _two_orientations,
        _gantry_tilt,
        _localizer_inside_series,
        _localizer_series,
        _two_slice_series,
        _blank_uids,
        _missing_frame_of_reference,
        _two_series_one_folder,
        _empty_folder,
        _unreadable_permission,
        _mixed_good_and_bad,
        _compressed_series,
        _corrupt_compressed_pixels,
        _irregular_spacing_within_warn,
        _no_preamble,
        _dicomdir_and_nested_layout,
        _descending_instance_numbers,
        _mixed_matrix_and_pixel_spacing,
        _structured_report_beside_images,
        _multi_frame_instance,
    ]
    return [build(root / build.__name__.lstrip("_")) for build in builders]


def _case(
    path: Path,
    description: str,
    *,
    processed: set[str] | frozenset[str] = frozenset(),
    skipped: Mapping[str, QCCheck | str] | None = None,
    warned: set[str] | frozenset[str] = frozenset(),
    issues: Mapping[str, int] | None = None,
    exit_code: int | None = None,
) -> BadCase:
    if exit_code is None:
        exit_code = EXIT_CODES["success"] if processed else EXIT_CODES["no_eligible_series"]
    return BadCase(
        name=path.name,
        path=path,
        description=description,
        expected_processed_series=frozenset(processed),
        expected_skipped=dict(skipped or {}),
        expected_exit_code=exit_code,
        expected_warned_series=frozenset(warned),
        expected_file_issues=dict(issues or {}),
    )


def _good_single(path: Path) -> BadCase:
    good = write_ct_series(path, uid_seed=path.name)
    return _case(path, "one valid series", processed={good.series_uid})


def _non_dicom_only(path: Path) -> BadCase:
    path.mkdir(parents=True)
    (path / "notes.txt").write_text("not a DICOM file\n")
    (path / "image.dcm").write_text("a text file with a .dcm name\n")
    (path / "data.bin").write_bytes(bytes(range(256)) * 4)
    return _case(path, "only non-DICOM files", issues={"non_dicom": 3})


def _good_with_non_dicom(path: Path) -> BadCase:
    good = write_ct_series(path, uid_seed=path.name)
    (path / "README.txt").write_text("exported by a workstation\n")
    (path / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))
    return _case(
        path, "a valid series among non-DICOM files", processed={good.series_uid},
        issues={"non_dicom": 2},
    )


def _truncated_slice(path: Path) -> BadCase:
    series = write_ct_series(path, uid_seed=path.name)
    victim = series.paths[5]
    victim.write_bytes(victim.read_bytes()[:-200])
    return _case(
        path, "a middle slice truncated inside its pixel data (interrupted copy)",
        skipped={series.series_uid: QCCheck.REGULAR_SPACING}, issues={"unreadable": 1},
    )


def _zero_byte_file(path: Path) -> BadCase:
    good = write_ct_series(path, uid_seed=path.name)
    (path / "IM9999").write_bytes(b"")
    return _case(
        path, "a zero-byte file beside a valid series", processed={good.series_uid},
        issues={"unreadable": 1},
    )


def _missing_slice(path: Path) -> BadCase:
    series = write_ct_series(path, uid_seed=path.name, edit=lambda k, ds: None if k == 6 else ds)
    return _case(
        path, "one slice missing in the middle of the series",
        skipped={series.series_uid: QCCheck.REGULAR_SPACING},
    )


def _duplicated_position(path: Path) -> BadCase:
    def overlap(k: int, ds: Dataset) -> Dataset:
        if k == 7:
            ds.ImagePositionPatient = [-5.6, -6.4, -20.0 + 6 * 2.5]
        return ds

    series = write_ct_series(path, uid_seed=path.name, edit=overlap)
    return _case(
        path, "two different instances at the same position",
        skipped={series.series_uid: QCCheck.UNIQUE_POSITIONS},
    )


def _duplicated_file_copy(path: Path) -> BadCase:
    good = write_ct_series(path, uid_seed=path.name)
    shutil.copyfile(good.paths[3], path / "copy_of_IM0004")
    return _case(
        path, "one file copied twice under another name (same SOPInstanceUID)",
        processed={good.series_uid}, issues={"rejected_files": 1},
    )


def _two_orientations(path: Path) -> BadCase:
    def coronal(k: int, ds: Dataset) -> Dataset:
        if k >= 6:
            ds.ImageOrientationPatient = list(CORONAL)
        return ds

    series = write_ct_series(path, uid_seed=path.name, edit=coronal)
    return _case(
        path, "axial and coronal images in one series",
        skipped={series.series_uid: QCCheck.SINGLE_ORIENTATION},
    )


def _gantry_tilt(path: Path) -> BadCase:
    angle = np.deg2rad(12.0)
    tilted = (1.0, 0.0, 0.0, 0.0, float(np.cos(angle)), float(-np.sin(angle)))

    def along_z(k: int, ds: Dataset) -> Dataset:
        ds.ImagePositionPatient = [-5.6, -6.4, -20.0 + 2.5 * k]
        return ds

    series = write_ct_series(path, uid_seed=path.name, orientation=tilted, edit=along_z)
    return _case(
        path, "gantry tilt of 12 degrees: tilted planes stacked along z",
        skipped={series.series_uid: QCCheck.NO_TILT},
    )


def _localizer_inside_series(path: Path) -> BadCase:
    def scout(k: int, ds: Dataset) -> Dataset:
        if k == 0:
            ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
            ds.ImageOrientationPatient = list(CORONAL)
            ds.ImagePositionPatient = [-5.6, 0.0, 10.0]
        return ds

    series = write_ct_series(path, uid_seed=path.name, n_slices=13, edit=scout)
    return _case(
        path, "a localizer image inside an axial series (dropped with a warning)",
        processed={series.series_uid}, warned={series.series_uid},
    )


def _localizer_series(path: Path) -> BadCase:
    good = write_ct_series(path / "axial", uid_seed=path.name + "axial", series_number=2)

    def scout(k: int, ds: Dataset) -> Dataset:
        ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
        return ds

    localizer = write_ct_series(
        path / "scout", uid_seed=path.name + "scout", n_slices=2, orientation=CORONAL,
        edit=scout,
    )
    return _case(
        path, "a localizer series beside an axial series",
        processed={good.series_uid}, skipped={localizer.series_uid: QCCheck.NO_LOCALIZER},
    )


def _two_slice_series(path: Path) -> BadCase:
    series = write_ct_series(path, uid_seed=path.name, n_slices=2)
    return _case(path, "a series of two slices", skipped={series.series_uid: QCCheck.MIN_SLICES})


def _blank_uids(path: Path) -> BadCase:
    def blank(k: int, ds: Dataset) -> Dataset:
        ds.SeriesInstanceUID = ""
        if k == 0:
            ds.StudyInstanceUID = ""
        return ds

    write_ct_series(path, uid_seed=path.name, edit=blank)
    return _case(path, "blank SeriesInstanceUID in every file", issues={"rejected_files": 12})


def _missing_frame_of_reference(path: Path) -> BadCase:
    def drop(k: int, ds: Dataset) -> Dataset:
        del ds.FrameOfReferenceUID
        return ds

    series = write_ct_series(path, uid_seed=path.name, edit=drop)
    return _case(
        path, "no FrameOfReferenceUID", skipped={series.series_uid: QCCheck.REQUIRED_UIDS}
    )


def _two_series_one_folder(path: Path) -> BadCase:
    first = write_ct_series(path, uid_seed=path.name + "1", name_pattern="a{k:03d}")
    second = write_ct_series(
        path, uid_seed=path.name + "2", series_number=2, study_uid=first.study_uid,
        slice_gap=1.25, n_slices=20, name_pattern="b{k:03d}",
    )
    return _case(
        path, "two valid series of one study in one folder",
        processed={first.series_uid, second.series_uid},
    )


def _empty_folder(path: Path) -> BadCase:
    path.mkdir(parents=True)
    return _case(path, "an empty input folder")


def _unreadable_permission(path: Path) -> BadCase:
    """chmod 000 on a slice; root (CAP_DAC_OVERRIDE) still reads it, so probe."""
    series = write_ct_series(path, uid_seed=path.name)
    victim = series.paths[4]
    os.chmod(victim, 0)
    try:
        with victim.open("rb"):
            readable = True
    except PermissionError:
        readable = False
    if readable:
        return _case(
            path, "a slice with mode 000, readable anyway (running as root)",
            processed={series.series_uid},
        )
    return _case(
        path, "a slice with mode 000 (permission denied)",
        skipped={series.series_uid: QCCheck.REGULAR_SPACING}, issues={"unreadable": 1},
    )


def _mixed_good_and_bad(path: Path) -> BadCase:
    good = write_ct_series(path / "good", uid_seed=path.name + "good")
    gap = write_ct_series(
        path / "gap", uid_seed=path.name + "gap", series_number=2,
        edit=lambda k, ds: None if k == 3 else ds,
    )
    short = write_ct_series(path / "short", uid_seed=path.name + "short", n_slices=3,
                            series_number=3)
    (path / "report.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    return _case(
        path, "a valid series, a series with a gap, a 3-slice series and a PDF",
        processed={good.series_uid},
        skipped={gap.series_uid: QCCheck.REGULAR_SPACING, short.series_uid: QCCheck.MIN_SLICES},
        issues={"non_dicom": 1},
    )


def _compressed_series(path: Path) -> BadCase:
    # OpenJPEG's default of 6 resolution levels needs at least 32 x 32 pixels.
    written = [
        write_ct_series(path / name, uid_seed=path.name + name, series_number=n,
                        transfer_syntax_uid=syntax, rows=40, columns=36)
        for n, (name, syntax) in enumerate(
            [("rle", RLELossless), ("jpegls", JPEGLSLossless), ("j2k", JPEG2000Lossless)],
            start=1,
        )
    ]
    return _case(
        path, "valid series in RLE, JPEG-LS and JPEG 2000 lossless transfer syntaxes",
        processed={s.series_uid for s in written},
    )


def _corrupt_compressed_pixels(path: Path) -> BadCase:
    good = write_ct_series(path / "good", uid_seed=path.name + "good", series_number=1)
    broken = write_ct_series(
        path / "broken", uid_seed=path.name + "broken", series_number=2,
        transfer_syntax_uid=RLELossless,
    )
    victim = dcmread(broken.paths[4])
    # An RLE header announcing 15 segments with no data: no decoder accepts it.
    header = np.zeros(16, dtype="<u4")
    header[0] = 15
    victim.PixelData = encapsulate([header.tobytes() + bytes(8)])
    victim.save_as(broken.paths[4], enforce_file_format=True)
    return _case(
        path, "an RLE series whose slice 5 has undecodable pixel data, beside a valid one",
        processed={good.series_uid}, skipped={broken.series_uid: CONVERSION_FAILURE},
        exit_code=EXIT_CODES["some_failed"],
    )


def _irregular_spacing_within_warn(path: Path) -> BadCase:
    jitter = [0.0, 0.05, -0.04, 0.03, 0.0, -0.05, 0.04, 0.0, 0.02, -0.03, 0.05, 0.0]

    def shift(k: int, ds: Dataset) -> Dataset:
        ds.ImagePositionPatient = [-5.6, -6.4, -20.0 + 2.5 * k + jitter[k]]
        return ds

    series = write_ct_series(path, uid_seed=path.name, edit=shift)
    return _case(
        path, "slice positions jittered by up to 0.05 mm (within the warn tolerance)",
        processed={series.series_uid}, warned={series.series_uid},
    )


def _no_preamble(path: Path) -> BadCase:
    series = write_ct_series(
        path, uid_seed=path.name, preamble=False, transfer_syntax_uid=ImplicitVRLittleEndian,
        name_pattern="{index}",
    )
    return _case(path, "bare data sets without preamble or file meta", processed={series.series_uid})


def _dicomdir_and_nested_layout(path: Path) -> BadCase:
    series = write_ct_series(
        path / "DICOM" / "PA000000" / "ST000000" / "SE000000", uid_seed=path.name,
        name_pattern="IM{index:06d}",
    )
    directory = Dataset()
    directory.FileSetID = "SYNTHETIC"
    directory.FileSetConsistencyFlag = 0
    directory.DirectoryRecordSequence = []
    directory.file_meta = FileMetaDataset()
    directory.file_meta.MediaStorageSOPClassUID = _MEDIA_STORAGE_DIRECTORY
    directory.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[path.name])
    directory.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    directory.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    directory.preamble = b"\x00" * 128
    dcmwrite(path / "DICOMDIR", directory, enforce_file_format=True)
    return _case(
        path, "a media layout: DICOMDIR plus a deep folder tree of extensionless files",
        processed={series.series_uid}, issues={"ignored": 1},
    )


def _descending_instance_numbers(path: Path) -> BadCase:
    series = write_ct_series(path, uid_seed=path.name, descending=True, name_pattern="{index}.dcm")
    return _case(
        path, "instance numbers running head to feet (reverse of the position order)",
        processed={series.series_uid},
    )


def _mixed_matrix_and_pixel_spacing(path: Path) -> BadCase:
    def bigger(k: int, ds: Dataset) -> Dataset:
        if k == 3:
            set_pixels(ds, slice_pixels(k, 16, 20))
        return ds

    def finer(k: int, ds: Dataset) -> Dataset:
        if k == 3:
            ds.PixelSpacing = [0.6, 0.6]
        return ds

    matrix = write_ct_series(path / "matrix", uid_seed=path.name + "m", edit=bigger)
    spacing = write_ct_series(path / "spacing", uid_seed=path.name + "s", series_number=2,
                              edit=finer)
    return _case(
        path, "one slice with another matrix size; one slice with another pixel spacing",
        skipped={
            matrix.series_uid: QCCheck.CONSTANT_ROWS_COLUMNS,
            spacing.series_uid: QCCheck.CONSTANT_PIXEL_SPACING,
        },
    )


def _structured_report_beside_images(path: Path) -> BadCase:
    good = write_ct_series(path, uid_seed=path.name)
    report = Dataset()
    report.SOPClassUID = _BASIC_TEXT_SR
    report.SOPInstanceUID = generate_uid(entropy_srcs=[path.name, "sr"])
    report.StudyInstanceUID = good.study_uid
    report.SeriesInstanceUID = generate_uid(entropy_srcs=[path.name, "sr-series"])
    report.Modality = "SR"
    report.SeriesNumber = 99
    report.file_meta = FileMetaDataset()
    report.file_meta.MediaStorageSOPClassUID = report.SOPClassUID
    report.file_meta.MediaStorageSOPInstanceUID = report.SOPInstanceUID
    report.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    report.preamble = b"\x00" * 128
    dcmwrite(path / "dose_report", report, enforce_file_format=True)
    return _case(
        path, "a structured report series beside the images",
        processed={good.series_uid},
        skipped={report.SeriesInstanceUID: QCCheck.GEOMETRY_PRESENT},
    )


def _multi_frame_instance(path: Path) -> BadCase:
    def frames(k: int, ds: Dataset) -> Dataset:
        ds.NumberOfFrames = 3
        ds.PixelData = np.concatenate([slice_pixels(j, ds.Rows, ds.Columns) for j in range(3)]
                                      ).tobytes()
        return ds

    series = write_ct_series(path, uid_seed=path.name, n_slices=1, edit=frames)
    return _case(
        path, "a multi-frame image", skipped={series.series_uid: QCCheck.SINGLE_FRAME}
    )
