"""A corpus of broken and awkward DICOM input folders with known expected outcomes.

Each case writes valid synthetic CT series with :func:`mhubio.synthetic.write_ct_series`
and then injects one defect into the written files (a deleted, truncated or edited
file, a foreign file beside the series). A :class:`BadCase` states which series must
be processed, which must be skipped and why (the :class:`~mhubio.dicom.qc.QCCheck`
that rejects it, or :data:`CONVERSION_FAILURE` for a series that passes QC but whose
pixel data cannot be decoded), and the exit code of ``mhub run`` on the folder: QC
skips alone do not fail a run (they are listed in the report), no eligible series
gives :attr:`ExitCode.NO_INPUT`, a failing series :attr:`ExitCode.PARTIAL_FAILURE`
or :attr:`ExitCode.ALL_FAILED`.
"""

from __future__ import annotations

import os
import shutil
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

from mhubio.core.exitcodes import ExitCode
from mhubio.dicom.qc import QCCheck
from mhubio.synthetic.ct import write_ct_series
from mhubio.synthetic.series import FileNaming, SliceOrder, SyntheticSeries

__all__ = ["BadCase", "CONVERSION_FAILURE", "write_bad_corpus"]

CONVERSION_FAILURE = "conversion"
"""Skip reason of a series that passes QC but cannot be converted."""

CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
_SLICES = 12
_SHAPE = (32, 32)  # OpenJPEG's default of 6 resolution levels needs at least 32 x 32 pixels
_GAP_MM = 2.5
_BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
_MEDIA_STORAGE_DIRECTORY = UID("1.2.840.10008.1.3.10")


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
        Exit code of ``mhub run`` on ``path``.
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
    expected_exit_code: ExitCode
    expected_warned_series: frozenset[str] = frozenset()
    expected_file_issues: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        overlap = self.expected_processed_series & set(self.expected_skipped)
        if overlap:
            raise ValueError(f"case {self.name}: series both processed and skipped: {overlap}")
        if not self.expected_warned_series <= self.expected_processed_series:
            raise ValueError(f"case {self.name}: warned series must be processed series")
        for reason in self.expected_skipped.values():
            if not isinstance(reason, QCCheck) and reason != CONVERSION_FAILURE:
                raise ValueError(f"case {self.name}: unknown skip reason {reason!r}")

    @property
    def expected_qc_passed(self) -> frozenset[str]:
        """Series that pass QC: the processed ones and those failing conversion."""
        failing = {uid for uid, why in self.expected_skipped.items() if why == CONVERSION_FAILURE}
        return self.expected_processed_series | failing


def write_bad_corpus(root: Path) -> list[BadCase]:
    """Write every case of the corpus below ``root``, one folder per case.

    Returns
    -------
    list[BadCase]
        The cases with their expected outcomes, in a fixed order.
    """
    root.mkdir(parents=True, exist_ok=True)
    return [build(root / build.__name__.lstrip("_")) for build in _BUILDERS]


def _series(folder: Path, name: str, **options: object) -> SyntheticSeries:
    """A small valid CT series; ``name`` seeds its UIDs."""
    n_slices = int(options.pop("n_slices", _SLICES))  # type: ignore[call-overload]
    return write_ct_series(
        folder,
        shape=(n_slices, *_SHAPE),
        spacing=(0.8, 0.8, _GAP_MM),
        seed=zlib.crc32(name.encode()),
        **options,  # type: ignore[arg-type]
    )


def _edit(path: Path, change: Callable[[Dataset], None]) -> None:
    """Apply ``change`` to the data set stored at ``path`` and write it back."""
    dataset = dcmread(path)
    change(dataset)
    dataset.save_as(path, enforce_file_format=True)


def _case(
    path: Path,
    description: str,
    *,
    processed: set[str] | frozenset[str] = frozenset(),
    skipped: Mapping[str, QCCheck | str] | None = None,
    warned: set[str] | frozenset[str] = frozenset(),
    issues: Mapping[str, int] | None = None,
    exit_code: ExitCode | None = None,
) -> BadCase:
    if exit_code is None:
        exit_code = ExitCode.SUCCESS if processed else ExitCode.NO_INPUT
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
    good = _series(path, path.name)
    return _case(path, "one valid series", processed={good.series_uid})


def _non_dicom_only(path: Path) -> BadCase:
    path.mkdir(parents=True)
    (path / "notes.txt").write_text("not a DICOM file\n")
    (path / "image.dcm").write_text("a text file with a .dcm name\n")
    (path / "data.bin").write_bytes(bytes(range(256)) * 4)
    return _case(path, "only non-DICOM files", issues={"non_dicom": 3})


def _good_with_non_dicom(path: Path) -> BadCase:
    good = _series(path, path.name)
    (path / "README.txt").write_text("exported by a workstation\n")
    (path / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))
    return _case(
        path, "a valid series among non-DICOM files", processed={good.series_uid},
        issues={"non_dicom": 2},
    )


def _truncated_slice(path: Path) -> BadCase:
    series = _series(path, path.name)
    victim = series.files[5]
    victim.write_bytes(victim.read_bytes()[:-300])
    return _case(
        path, "a middle slice truncated inside its pixel data (interrupted copy)",
        skipped={series.series_uid: QCCheck.REGULAR_SPACING}, issues={"unreadable": 1},
    )


def _zero_byte_file(path: Path) -> BadCase:
    good = _series(path, path.name)
    (path / "IM9999").write_bytes(b"")
    return _case(
        path, "a zero-byte file beside a valid series", processed={good.series_uid},
        issues={"unreadable": 1},
    )


def _missing_slice(path: Path) -> BadCase:
    series = _series(path, path.name)
    series.files[6].unlink()
    return _case(
        path, "one slice missing in the middle of the series",
        skipped={series.series_uid: QCCheck.REGULAR_SPACING},
    )


def _duplicated_position(path: Path) -> BadCase:
    series = _series(path, path.name)
    position = dcmread(series.files[6]).ImagePositionPatient

    def overlap(ds: Dataset) -> None:
        ds.ImagePositionPatient = position

    _edit(series.files[7], overlap)
    return _case(
        path, "two different instances at the same position",
        skipped={series.series_uid: QCCheck.UNIQUE_POSITIONS},
    )


def _duplicated_file_copy(path: Path) -> BadCase:
    good = _series(path, path.name)
    shutil.copyfile(good.files[3], path / "copy_of_slice_4")
    return _case(
        path, "one file copied twice under another name (same SOPInstanceUID)",
        processed={good.series_uid}, issues={"rejected_files": 1},
    )


def _two_orientations(path: Path) -> BadCase:
    series = _series(path, path.name)

    def coronal(ds: Dataset) -> None:
        ds.ImageOrientationPatient = list(CORONAL)

    for victim in series.files[6:]:
        _edit(victim, coronal)
    return _case(
        path, "axial and coronal images in one series",
        skipped={series.series_uid: QCCheck.SINGLE_ORIENTATION},
    )


def _gantry_tilt(path: Path) -> BadCase:
    angle = np.deg2rad(12.0)
    tilted = (1.0, 0.0, 0.0, 0.0, float(np.cos(angle)), float(-np.sin(angle)))
    series = _series(path, path.name, orientation=tilted)
    origin = [float(v) for v in dcmread(series.files[0]).ImagePositionPatient]
    for k, victim in enumerate(series.files):

        def along_z(ds: Dataset, k: int = k) -> None:
            ds.ImagePositionPatient = [origin[0], origin[1], round(origin[2] + _GAP_MM * k, 4)]

        _edit(victim, along_z)
    return _case(
        path, "gantry tilt of 12 degrees: tilted planes stacked along z",
        skipped={series.series_uid: QCCheck.NO_TILT},
    )


def _oblique_series(path: Path) -> BadCase:
    angle = np.deg2rad(30.0)
    oblique = (float(np.cos(angle)), float(np.sin(angle)), 0.0, 0.0, 0.0, -1.0)
    series = _series(path, path.name, orientation=oblique)
    return _case(
        path, "a valid oblique series (slices stacked along their normal)",
        processed={series.series_uid},
    )


def _localizer_inside_series(path: Path) -> BadCase:
    series = _series(path, path.name, n_slices=_SLICES + 1)

    def scout(ds: Dataset) -> None:
        ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
        ds.ImageOrientationPatient = list(CORONAL)
        ds.ImagePositionPatient = [-12.4, 0.0, 10.0]

    _edit(series.files[0], scout)
    return _case(
        path, "a localizer image inside an axial series (dropped with a warning)",
        processed={series.series_uid}, warned={series.series_uid},
    )


def _localizer_series(path: Path) -> BadCase:
    good = _series(path / "axial", path.name + "axial", series_number=2)
    localizer = _series(path / "scout", path.name + "scout", n_slices=2, orientation=CORONAL)

    def scout(ds: Dataset) -> None:
        ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]

    for victim in localizer.files:
        _edit(victim, scout)
    return _case(
        path, "a localizer series beside an axial series",
        processed={good.series_uid}, skipped={localizer.series_uid: QCCheck.NO_LOCALIZER},
    )


def _two_slice_series(path: Path) -> BadCase:
    series = _series(path, path.name, n_slices=2)
    return _case(path, "a series of two slices", skipped={series.series_uid: QCCheck.MIN_SLICES})


def _blank_uids(path: Path) -> BadCase:
    series = _series(path, path.name)

    def blank_series(ds: Dataset) -> None:
        ds.SeriesInstanceUID = ""

    def blank_both(ds: Dataset) -> None:
        ds.SeriesInstanceUID = ""
        ds.StudyInstanceUID = ""

    for k, victim in enumerate(series.files):
        _edit(victim, blank_both if k == 0 else blank_series)
    return _case(path, "blank SeriesInstanceUID in every file",
                 issues={"rejected_files": len(series.files)})


def _missing_frame_of_reference(path: Path) -> BadCase:
    series = _series(path, path.name)

    def drop(ds: Dataset) -> None:
        del ds.FrameOfReferenceUID

    for victim in series.files:
        _edit(victim, drop)
    return _case(
        path, "no FrameOfReferenceUID", skipped={series.series_uid: QCCheck.REQUIRED_UIDS}
    )


def _two_series_one_folder(path: Path) -> BadCase:
    first = _series(path, path.name + "1", file_names=FileNaming.RANDOM)
    second = _series(
        path, path.name + "2", file_names=FileNaming.RANDOM, series_number=2,
        study_uid=first.study_uid, n_slices=20,
    )
    return _case(
        path, "two valid series of one study mixed in one folder, random file names",
        processed={first.series_uid, second.series_uid},
    )


def _empty_folder(path: Path) -> BadCase:
    path.mkdir(parents=True)
    return _case(path, "an empty input folder")


def _unreadable_permission(path: Path) -> BadCase:
    """chmod 000 on a slice; root (CAP_DAC_OVERRIDE) still reads it, so probe."""
    series = _series(path, path.name)
    victim = series.files[4]
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
    good = _series(path / "good", path.name + "good")
    gap = _series(path / "gap", path.name + "gap", series_number=2)
    gap.files[3].unlink()
    short = _series(path / "short", path.name + "short", n_slices=3, series_number=3)
    (path / "report.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    return _case(
        path, "a valid series, a series with a gap, a 3-slice series and a PDF",
        processed={good.series_uid},
        skipped={gap.series_uid: QCCheck.REGULAR_SPACING, short.series_uid: QCCheck.MIN_SLICES},
        issues={"non_dicom": 1},
    )


def _compressed_series(path: Path) -> BadCase:
    written = [
        _series(path / name, path.name + name, series_number=n, transfer_syntax=syntax)
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
    good = _series(path / "good", path.name + "good")
    broken = _series(path / "broken", path.name + "broken", series_number=2,
                     transfer_syntax=RLELossless)

    def corrupt(ds: Dataset) -> None:
        # An RLE header announcing 15 segments with no data: no decoder accepts it.
        header = np.zeros(16, dtype="<u4")
        header[0] = 15
        ds.PixelData = encapsulate([header.tobytes() + bytes(8)])

    _edit(broken.files[4], corrupt)
    return _case(
        path, "an RLE series with undecodable pixel data in one slice, beside a valid one",
        processed={good.series_uid}, skipped={broken.series_uid: CONVERSION_FAILURE},
        exit_code=ExitCode.PARTIAL_FAILURE,
    )


def _only_corrupt_series(path: Path) -> BadCase:
    broken = _series(path, path.name, transfer_syntax=RLELossless)

    def corrupt(ds: Dataset) -> None:
        ds.PixelData = encapsulate([bytes(64)])

    _edit(broken.files[2], corrupt)
    return _case(
        path, "the only series has undecodable pixel data",
        skipped={broken.series_uid: CONVERSION_FAILURE}, exit_code=ExitCode.ALL_FAILED,
    )


def _irregular_spacing_within_warn(path: Path) -> BadCase:
    series = _series(path, path.name)
    jitter = [0.0, 0.05, -0.04, 0.03, 0.0, -0.05, 0.04, 0.0, 0.02, -0.03, 0.05, 0.0]
    for k, victim in enumerate(series.files):

        def shift(ds: Dataset, k: int = k) -> None:
            x, y, z = (float(v) for v in ds.ImagePositionPatient)
            ds.ImagePositionPatient = [x, y, round(z + jitter[k], 4)]

        _edit(victim, shift)
    return _case(
        path, "slice positions jittered by up to 0.05 mm (within the warn tolerance)",
        processed={series.series_uid}, warned={series.series_uid},
    )


def _no_preamble(path: Path) -> BadCase:
    series = _series(path, path.name)
    for victim in series.files:
        dataset = dcmread(victim)
        dataset.preamble = None
        dataset.file_meta = FileMetaDataset()
        dcmwrite(victim, dataset, implicit_vr=True, little_endian=True)
    return _case(path, "bare data sets without preamble or file meta", processed={series.series_uid})


def _dicomdir_and_nested_layout(path: Path) -> BadCase:
    series = _series(
        path / "DICOM" / "PA000000" / "ST000000" / "SE000000", path.name,
        file_names=FileNaming.RANDOM,
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
    series = _series(path, path.name, slice_order=SliceOrder.DESCENDING)
    return _case(
        path, "instance numbers running head to feet (reverse of the position order)",
        processed={series.series_uid},
    )


def _mixed_matrix_and_pixel_spacing(path: Path) -> BadCase:
    matrix = _series(path / "matrix", path.name + "m")
    spacing = _series(path / "spacing", path.name + "s", series_number=2)

    def wider(ds: Dataset) -> None:
        ds.Columns = _SHAPE[1] + 4
        ds.PixelData = np.zeros((_SHAPE[0], _SHAPE[1] + 4), dtype=np.uint16).tobytes()

    def finer(ds: Dataset) -> None:
        ds.PixelSpacing = [0.6, 0.6]

    _edit(matrix.files[3], wider)
    _edit(spacing.files[3], finer)
    return _case(
        path, "one slice with another matrix size; one slice with another pixel spacing",
        skipped={
            matrix.series_uid: QCCheck.CONSTANT_ROWS_COLUMNS,
            spacing.series_uid: QCCheck.CONSTANT_PIXEL_SPACING,
        },
    )


def _structured_report_beside_images(path: Path) -> BadCase:
    good = _series(path, path.name)
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
    series = _series(path, path.name, n_slices=1)

    def frames(ds: Dataset) -> None:
        ds.NumberOfFrames = 3
        ds.PixelData = ds.PixelData * 3

    _edit(series.files[0], frames)
    return _case(
        path, "a multi-frame image", skipped={series.series_uid: QCCheck.SINGLE_FRAME}
    )


def _set_everywhere(series: SyntheticSeries, change: Callable[[Dataset], None]) -> None:
    for victim in series.files:
        _edit(victim, change)


def _invalid_series_uid(path: Path, uid: str, description: str) -> BadCase:
    series = _series(path, path.name)

    def hostile(ds: Dataset) -> None:
        ds.SeriesInstanceUID = uid

    _set_everywhere(series, hostile)
    return _case(path, description, skipped={uid: QCCheck.UID_SYNTAX})


def _uid_path_traversal(path: Path) -> BadCase:
    return _invalid_series_uid(
        path, "../../../escaped", "SeriesInstanceUID '../../../escaped' (a path out of every folder)"
    )


def _uid_absolute_path(path: Path) -> BadCase:
    return _invalid_series_uid(path, "/tmp/mhub-escaped", "SeriesInstanceUID holding an absolute path")


def _uid_reserved_report_name(path: Path) -> BadCase:
    return _invalid_series_uid(path, "mhub_report.json", "SeriesInstanceUID 'mhub_report.json' (the run's report)")


def _uid_reserved_log_folder(path: Path) -> BadCase:
    return _invalid_series_uid(path, "mhub_logs", "SeriesInstanceUID 'mhub_logs' (the run's log folder)")


def _uid_too_long(path: Path) -> BadCase:
    return _invalid_series_uid(path, "1." + "2" * 70, "SeriesInstanceUID of 72 characters")


def _uid_leading_zero(path: Path) -> BadCase:
    return _invalid_series_uid(path, "1.2.840.0123.4", "SeriesInstanceUID with a leading zero in a component")


def _uid_empty_component(path: Path) -> BadCase:
    return _invalid_series_uid(path, "1.2..3", "SeriesInstanceUID with an empty component")


def _uid_terminal_escape(path: Path) -> BadCase:
    return _invalid_series_uid(
        path, "1.2.3\x1b[2J[red]x", "SeriesInstanceUID with a terminal escape sequence and console markup"
    )


def _sop_uid_invalid_in_one_file(path: Path) -> BadCase:
    good = _series(path / "good", path.name + "good")
    series = _series(path / "bad", path.name + "bad", series_number=2)

    def hostile(ds: Dataset) -> None:
        ds.SOPInstanceUID = "1.2.3.abc"

    _edit(series.files[3], hostile)
    return _case(
        path, "one file with a SOPInstanceUID of letters, beside a valid series",
        processed={good.series_uid}, skipped={series.series_uid: QCCheck.UID_SYNTAX},
    )


def _study_uid_with_spaces(path: Path) -> BadCase:
    series = _series(path, path.name)

    def hostile(ds: Dataset) -> None:
        ds.StudyInstanceUID = "1.2 .3"

    _set_everywhere(series, hostile)
    return _case(path, "StudyInstanceUID with a space inside", skipped={series.series_uid: QCCheck.UID_SYNTAX})


def _geometry_edit(path: Path, description: str, change: Callable[[Dataset], None], victims: slice,
                   check: QCCheck = QCCheck.GEOMETRY_VALUES) -> BadCase:
    series = _series(path, path.name)
    for victim in series.files[victims]:
        _edit(victim, change)
    return _case(path, description, skipped={series.series_uid: check})


def _nan_position(path: Path) -> BadCase:
    def change(ds: Dataset) -> None:
        ds.ImagePositionPatient = [0.0, "NaN", 10.0]

    return _geometry_edit(path, "ImagePositionPatient NaN in one slice", change, slice(4, 5))


def _infinite_orientation(path: Path) -> BadCase:
    def change(ds: Dataset) -> None:
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, "inf", 0.0]

    return _geometry_edit(path, "ImageOrientationPatient with an infinite value", change, slice(None))


def _nan_pixel_spacing(path: Path) -> BadCase:
    def change(ds: Dataset) -> None:
        ds.PixelSpacing = ["NaN", "NaN"]

    return _geometry_edit(path, "PixelSpacing NaN in every slice", change, slice(None))


def _zero_pixel_spacing(path: Path) -> BadCase:
    def change(ds: Dataset) -> None:
        ds.PixelSpacing = [0.0, 0.0]

    return _geometry_edit(path, "PixelSpacing 0 in every slice", change, slice(None))


def _negative_pixel_spacing(path: Path) -> BadCase:
    def change(ds: Dataset) -> None:
        ds.PixelSpacing = [-0.8, 0.8]

    return _geometry_edit(path, "a negative PixelSpacing in every slice", change, slice(None))


def _infinite_slice_thickness(path: Path) -> BadCase:
    def change(ds: Dataset) -> None:
        ds.SliceThickness = "inf"

    return _geometry_edit(path, "SliceThickness infinite", change, slice(None))


def _orientation_not_orthogonal(path: Path) -> BadCase:
    def change(ds: Dataset) -> None:
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.6, 0.8, 0.0]

    return _geometry_edit(path, "row and column directions at 53 degrees", change, slice(None))


def _orientation_not_unit(path: Path) -> BadCase:
    def change(ds: Dataset) -> None:
        ds.ImageOrientationPatient = [2.0, 0.0, 0.0, 0.0, 2.0, 0.0]

    return _geometry_edit(path, "orientation vectors of length 2", change, slice(None))


def _nan_rescale_slope(path: Path) -> BadCase:
    def change(ds: Dataset) -> None:
        ds.RescaleSlope = "NaN"

    return _geometry_edit(path, "RescaleSlope NaN in one slice", change, slice(2, 3), QCCheck.RESCALE_VALUES)


def _zero_rescale_slope(path: Path) -> BadCase:
    def change(ds: Dataset) -> None:
        ds.RescaleSlope = 0

    return _geometry_edit(path, "RescaleSlope 0 in every slice", change, slice(None), QCCheck.RESCALE_VALUES)


def _infinite_rescale_intercept(path: Path) -> BadCase:
    def change(ds: Dataset) -> None:
        ds.RescaleIntercept = "-inf"

    return _geometry_edit(path, "RescaleIntercept -inf in every slice", change, slice(None), QCCheck.RESCALE_VALUES)


def _declared_huge_matrix(path: Path) -> BadCase:
    series = _series(path, path.name)

    def huge(ds: Dataset) -> None:
        ds.Rows = ds.Columns = 65535

    _set_everywhere(series, huge)
    return _case(path, "Rows and Columns 65535 over 1 KB of pixel data: 200 GiB once decoded",
                 skipped={series.series_uid: QCCheck.MEMORY_BUDGET})


def _declared_huge_frame_count(path: Path) -> BadCase:
    series = _series(path, path.name, n_slices=1)

    def frames(ds: Dataset) -> None:
        ds.NumberOfFrames = 10**8

    _edit(series.files[0], frames)
    return _case(path, "one image announcing 10^8 frames", skipped={series.series_uid: QCCheck.MEMORY_BUDGET})


def _codestream_bomb(path: Path, syntax: str, marker: bytes, offset: int, size: bytes, description: str) -> BadCase:
    good = _series(path / "good", path.name + "good")
    bomb = _series(path / "bomb", path.name + "bomb", series_number=2, transfer_syntax=syntax)

    def inflate(ds: Dataset) -> None:
        data = bytearray(ds.PixelData)
        start = data.index(marker) + offset
        data[start : start + len(size)] = size
        ds.PixelData = bytes(data)

    _edit(bomb.files[5], inflate)
    return _case(path, description, processed={good.series_uid},
                 skipped={bomb.series_uid: CONVERSION_FAILURE}, exit_code=ExitCode.PARTIAL_FAILURE)


def _jpeg2000_size_bomb(path: Path) -> BadCase:
    # SIZ: marker, Lsiz, Rsiz, then Xsiz and Ysiz (4 bytes each)
    return _codestream_bomb(path, JPEG2000Lossless, b"\xff\x4f\xff\x51", 8, b"\x00\x01\x00\x00" * 2,
                            "a JPEG 2000 slice whose codestream announces 65536 x 65536 pixels")


def _jpegls_size_bomb(path: Path) -> BadCase:
    # SOF55: marker, length, precision, then height and width (2 bytes each)
    return _codestream_bomb(path, JPEGLSLossless, b"\xff\xf7", 5, b"\xff\xff" * 2,
                            "a JPEG-LS slice whose frame header announces 65535 x 65535 pixels")


def _undecodable_slice(path: Path, syntax: str, index: int, fragment: bytes, description: str) -> BadCase:
    """A compressed series of which slice ``index`` holds ``fragment`` as its only frame."""
    series = _series(path, path.name, transfer_syntax=syntax)

    def replace_pixels(ds: Dataset) -> None:
        ds.PixelData = encapsulate([fragment])

    _edit(series.files[index], replace_pixels)
    return _case(path, description, skipped={series.series_uid: CONVERSION_FAILURE}, exit_code=ExitCode.ALL_FAILED)


def _rle_header(*words: int) -> bytes:
    header = np.zeros(16, dtype="<u4")
    header[: len(words)] = words
    return header.tobytes()


def _rle_wrong_segment_count(path: Path) -> BadCase:
    return _undecodable_slice(path, RLELossless, 3, _rle_header(1, 64) + bytes(_SHAPE[0] * _SHAPE[1] * 2),
                              "an RLE slice with one segment where 16-bit pixels need two")


def _compressed_without_codestream_header(path: Path) -> BadCase:
    return _undecodable_slice(path, JPEG2000Lossless, 3, bytes(range(256)) * 4,
                              "a JPEG 2000 slice whose fragment is not a codestream")


def _rle_offsets_decreasing(path: Path) -> BadCase:
    return _undecodable_slice(path, RLELossless, 6, _rle_header(2, 64, 32) + bytes(2048),
                              "an RLE slice whose second segment starts inside the header")


def _jpeg2000_truncated_siz(path: Path) -> BadCase:
    return _undecodable_slice(path, JPEG2000Lossless, 0, b"\xff\x4f\xff\x51\x00\x29\x00\x00",
                              "a JPEG 2000 slice cut inside its SIZ marker segment")


def _uid_superscript_digit(path: Path) -> BadCase:
    return _invalid_series_uid(path, "1.2.\u00b3", "SeriesInstanceUID with a superscript (non-ASCII) digit")


def _deep_folder_within_limit(path: Path) -> BadCase:
    folder = path
    for level in range(40):
        folder = folder / f"L{level}"
    good = _series(folder, path.name)
    return _case(path, "a valid series 40 folder levels down (within the scan depth limit)",
                 processed={good.series_uid})


def _symlink_loop(path: Path) -> BadCase:
    good = _series(path, path.name)
    (path / "loop").symlink_to(path / "loop")
    return _case(path, "a symbolic link pointing at itself beside a valid series",
                 processed={good.series_uid}, issues={"unreadable": 1})


_ATTRIBUTE_CASES: tuple[tuple[str, str, str, object, slice, QCCheck], ...] = (
    # name, description, keyword, value, edited slices, rejecting check
    ("sop_class_uid_invalid", "SOPClassUID with letters", "SOPClassUID", "1.2.840.CT", slice(None),
     QCCheck.UID_SYNTAX),
    ("frame_of_reference_uid_invalid", "FrameOfReferenceUID with a trailing dot", "FrameOfReferenceUID",
     "1.2.3.", slice(None), QCCheck.UID_SYNTAX),
    ("study_uid_too_long", "StudyInstanceUID of 80 digits", "StudyInstanceUID", "1." + "3" * 78, slice(None),
     QCCheck.UID_SYNTAX),
    ("sop_uid_leading_zero", "SOPInstanceUID with a leading zero in one file", "SOPInstanceUID", "1.2.3.04",
     slice(7, 8), QCCheck.UID_SYNTAX),
    ("sop_uid_single_dot", "SOPInstanceUID '.' in one file", "SOPInstanceUID", ".", slice(2, 3),
     QCCheck.UID_SYNTAX),
    ("infinite_position", "ImagePositionPatient infinite in one slice", "ImagePositionPatient",
     [0.0, 0.0, "inf"], slice(6, 7), QCCheck.GEOMETRY_VALUES),
    ("nan_orientation", "ImageOrientationPatient NaN in every slice", "ImageOrientationPatient",
     [1.0, 0.0, 0.0, 0.0, 1.0, "NaN"], slice(None), QCCheck.GEOMETRY_VALUES),
    ("nan_column_spacing", "the column PixelSpacing NaN in every slice", "PixelSpacing", [0.8, "NaN"],
     slice(None), QCCheck.GEOMETRY_VALUES),
    ("infinite_pixel_spacing", "PixelSpacing infinite in every slice", "PixelSpacing", ["inf", "inf"],
     slice(None), QCCheck.GEOMETRY_VALUES),
    ("negative_column_spacing", "a negative column PixelSpacing in every slice", "PixelSpacing", [0.8, -0.8],
     slice(None), QCCheck.GEOMETRY_VALUES),
    ("nan_slice_thickness", "SliceThickness NaN", "SliceThickness", "NaN", slice(None), QCCheck.GEOMETRY_VALUES),
    ("orientation_sheared", "row and column directions 5 degrees off orthogonal", "ImageOrientationPatient",
     [1.0, 0.0, 0.0, 0.0871557, 0.9961947, 0.0], slice(None), QCCheck.GEOMETRY_VALUES),
    ("orientation_zero_vector", "a zero row direction (no slice normal)", "ImageOrientationPatient",
     [0.0, 0.0, 0.0, 0.0, 1.0, 0.0], slice(None), QCCheck.GEOMETRY_PRESENT),
    ("orientation_short_vectors", "orientation vectors of length 0.5", "ImageOrientationPatient",
     [0.5, 0.0, 0.0, 0.0, 0.5, 0.0], slice(None), QCCheck.GEOMETRY_VALUES),
    ("infinite_rescale_slope", "RescaleSlope infinite in every slice", "RescaleSlope", "inf", slice(None),
     QCCheck.RESCALE_VALUES),
    ("nan_rescale_intercept", "RescaleIntercept NaN in one slice", "RescaleIntercept", "NaN", slice(9, 10),
     QCCheck.RESCALE_VALUES),
    ("zero_rescale_slope_one_slice", "RescaleSlope 0 in one slice", "RescaleSlope", 0, slice(0, 1),
     QCCheck.RESCALE_VALUES),
    ("three_frames_in_one_slice", "one file of the series announcing 3 frames",
     "NumberOfFrames", 3, slice(1, 2), QCCheck.SINGLE_FRAME),
    ("declared_wide_samples", "SamplesPerPixel 3 and Rows/Columns 30000 in every slice", "Rows", 30000,
     slice(None), QCCheck.MEMORY_BUDGET),
)


def _attribute_case(path: Path, keyword: str, value: object, victims: slice, check: QCCheck,
                    description: str) -> BadCase:
    def change(ds: Dataset) -> None:
        setattr(ds, keyword, value)
        if keyword == "Rows":
            ds.Columns = value
            ds.SamplesPerPixel = 3

    return _geometry_edit(path, description, change, victims, check)


def _attribute_builder(name: str, description: str, keyword: str, value: object, victims: slice,
                       check: QCCheck) -> Callable[[Path], BadCase]:
    def build(path: Path) -> BadCase:
        return _attribute_case(path, keyword, value, victims, check, description)

    build.__name__ = f"_{name}"
    return build


_BUILDERS: tuple[Callable[[Path], BadCase], ...] = (
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
    _oblique_series,
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
    _only_corrupt_series,
    _irregular_spacing_within_warn,
    _no_preamble,
    _dicomdir_and_nested_layout,
    _descending_instance_numbers,
    _mixed_matrix_and_pixel_spacing,
    _structured_report_beside_images,
    _multi_frame_instance,
    _uid_path_traversal,
    _uid_absolute_path,
    _uid_reserved_report_name,
    _uid_reserved_log_folder,
    _uid_too_long,
    _uid_leading_zero,
    _uid_empty_component,
    _uid_terminal_escape,
    _sop_uid_invalid_in_one_file,
    _study_uid_with_spaces,
    _nan_position,
    _infinite_orientation,
    _nan_pixel_spacing,
    _zero_pixel_spacing,
    _negative_pixel_spacing,
    _infinite_slice_thickness,
    _orientation_not_orthogonal,
    _orientation_not_unit,
    _nan_rescale_slope,
    _zero_rescale_slope,
    _infinite_rescale_intercept,
    _declared_huge_matrix,
    _declared_huge_frame_count,
    _jpeg2000_size_bomb,
    _jpegls_size_bomb,
    _rle_wrong_segment_count,
    _compressed_without_codestream_header,
    _uid_superscript_digit,
    _rle_offsets_decreasing,
    _jpeg2000_truncated_siz,
    _deep_folder_within_limit,
    _symlink_loop,
)
_BUILDERS += tuple(_attribute_builder(*case) for case in _ATTRIBUTE_CASES)
