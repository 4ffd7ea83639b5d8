"""Series quality control: can a series be assembled into one regular 3D volume?

The checks follow the series selection of Krishnaswamy et al. (NLST / NSCLC-Radiomics
enrichment, paper 000): one orientation, one in-plane pixel spacing, unique slice
positions, regular spacing between adjacent slices and no localizer images; the NLST
selection also required more than 100 slices and a SliceThickness range, available
here as :attr:`QCConfig.min_slices` and :attr:`QCConfig.slice_thickness_range`.
The NLST query's axial-orientation test is :attr:`QCConfig.axial_orientation`
(off by default) and :meth:`QCConfig.nlst_selection` bundles the NLST criteria.
Beyond the paper the checks also require the slices to be stacked along their normal
(no gantry tilt or shear), a single StudyInstanceUID and a FrameOfReferenceUID, and
constant Rows/Columns.

Enhanced multi-frame images (Enhanced CT, Enhanced MR, Legacy Converted Enhanced) are
checked frame by frame: the scanner indexes each frame with the position, orientation
and pixel measures of its functional groups, so every check above applies to the frames.
A series is either single-frame images or one enhanced multi-frame image
(``no_mixed_frames``); a multi-frame image without per-frame planes is rejected
(``single_frame``).

Localizers: a series made only of localizer images is rejected. A localizer *inside*
an otherwise axial series (same SeriesInstanceUID) is, by default, dropped and
reported as a warning, because it is identified unambiguously by ImageType and the
remaining slices are exactly the volume the paper's selection aims at; set
``localizer_policy="reject_series"`` to reproduce the paper's rule (any localizer
excludes the whole series).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mhubio.dicom.limits import DEFAULT_MAX_SERIES_BYTES, declared_pixel_bytes, declared_series_bytes
from mhubio.dicom.series import DicomInstance, DicomSeries, SeriesGeometryError, orientation_normal
from mhubio.dicom.uid import uid_problem

__all__ = [
    "LocalizerPolicy",
    "QCCheck",
    "QCConfig",
    "QCResult",
    "QCStatus",
    "run_qc",
    "settings_of_step",
]


class QCCheck(str, Enum):
    """Series checks, in the order :func:`run_qc` applies them."""

    UID_SYNTAX = "uid_syntax"
    MODALITY = "modality"
    MEMORY_BUDGET = "memory_budget"
    NO_LOCALIZER = "no_localizer"
    SINGLE_FRAME = "single_frame"
    NO_MIXED_FRAMES = "no_mixed_frames"
    GEOMETRY_PRESENT = "geometry_present"
    GEOMETRY_VALUES = "geometry_values"
    RESCALE_VALUES = "rescale_values"
    REQUIRED_UIDS = "required_uids"
    MIN_SLICES = "min_slices"
    SLICE_THICKNESS = "slice_thickness"
    SINGLE_ORIENTATION = "single_orientation"
    AXIAL_ORIENTATION = "axial_orientation"
    CONSTANT_PIXEL_SPACING = "constant_pixel_spacing"
    CONSTANT_ROWS_COLUMNS = "constant_rows_columns"
    UNIQUE_POSITIONS = "unique_positions"
    NO_TILT = "no_tilt"
    REGULAR_SPACING = "regular_spacing"


# Checks without which no volume can be built; they cannot be disabled.
MANDATORY_CHECKS = frozenset(
    {QCCheck.SINGLE_FRAME, QCCheck.NO_MIXED_FRAMES, QCCheck.GEOMETRY_PRESENT, QCCheck.GEOMETRY_VALUES}
)


class QCStatus(str, Enum):
    """Outcome of the QC of one series."""

    PASS = "pass"
    WARN = "warn"
    REJECT = "reject"


class LocalizerPolicy(str, Enum):
    """What to do with localizer images inside a series."""

    DROP_INSTANCES = "drop_instances"
    REJECT_SERIES = "reject_series"


class QCConfig(BaseModel):
    """Configuration of the series QC.

    Parameterless checks are switched by a boolean named after the check.
    ``min_slices``, ``slice_thickness_range`` and ``modalities`` enable their check
    when set and disable it when ``None``. Single-frame images and the presence of
    the geometry attributes are always required.

    The default ``min_slices`` of 10 rejects fragments (2-slice reformats, partial
    transfers) that no 3D model can use while keeping short scans; the NLST
    selection of paper 000 used ``min_slices=101`` (more than 100 instances) and
    ``slice_thickness_range=(1.5, 3.5)`` (the published query; the paper's text
    says "greater than 1.5 mm and less than 3 mm").
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    uid_syntax: bool = True
    required_uids: bool = True
    rescale_values: bool = True
    no_localizer: bool = True
    single_orientation: bool = True
    constant_pixel_spacing: bool = True
    constant_rows_columns: bool = True
    unique_positions: bool = True
    no_tilt: bool = True
    regular_spacing: bool = True
    axial_orientation: bool = False
    min_slices: int | None = Field(default=10, ge=1)
    max_series_bytes: int | None = Field(default=DEFAULT_MAX_SERIES_BYTES, ge=1)
    slice_thickness_range: tuple[float, float] | None = None
    modalities: frozenset[str] | None = None
    localizer_policy: LocalizerPolicy = LocalizerPolicy.DROP_INSTANCES
    spacing_tolerance_pass_mm: float = Field(default=0.01, ge=0)
    spacing_tolerance_warn_mm: float = Field(default=0.2, ge=0)
    pixel_spacing_tolerance_mm: float = Field(default=1e-4, ge=0)
    orientation_tolerance: float = Field(default=1e-4, ge=0)
    orthonormal_tolerance: float = Field(default=1e-3, ge=0)

    @model_validator(mode="after")
    def _check_ranges(self) -> QCConfig:
        if self.spacing_tolerance_warn_mm < self.spacing_tolerance_pass_mm:
            raise ValueError(
                "spacing_tolerance_warn_mm must not be smaller than spacing_tolerance_pass_mm"
            )
        if self.slice_thickness_range is not None:
            low, high = self.slice_thickness_range
            if low > high:
                raise ValueError(f"slice_thickness_range {self.slice_thickness_range} is empty")
        return self

    @field_validator("modalities")
    @classmethod
    def _upper_modalities(cls, value: frozenset[str] | None) -> frozenset[str] | None:
        return None if value is None else frozenset(m.upper() for m in value)

    @classmethod
    def nlst_selection(cls) -> QCConfig:
        """The NLST series selection of paper 000 (its published query).

        CT only, more than 100 slices, SliceThickness in [1.5, 3.5] mm, axial
        orientation, and no localizer image anywhere in the series.
        """
        return cls(
            modalities=frozenset({"CT"}),
            min_slices=101,
            slice_thickness_range=(1.5, 3.5),
            axial_orientation=True,
            localizer_policy=LocalizerPolicy.REJECT_SERIES,
        )

    def is_enabled(self, check: QCCheck) -> bool:
        """Whether ``check`` runs under this configuration."""
        if check in MANDATORY_CHECKS:
            return True
        if check is QCCheck.MIN_SLICES:
            return self.min_slices is not None
        if check is QCCheck.SLICE_THICKNESS:
            return self.slice_thickness_range is not None
        if check is QCCheck.MODALITY:
            return self.modalities is not None
        if check is QCCheck.MEMORY_BUDGET:
            return self.max_series_bytes is not None
        return bool(getattr(self, check.value))


@dataclass(frozen=True)
class QCResult:
    """QC outcome of one series.

    Attributes
    ----------
    series
        The series as scanned.
    status
        PASS, WARN (usable, see ``warnings``) or REJECT.
    failed_check
        The check that rejected the series, ``None`` unless rejected.
    message
        Why the series was rejected and what to do about it; empty unless rejected.
    warnings
        Findings that did not reject the series.
    accepted
        The series to process (localizers dropped), ``None`` when rejected.
    dropped_files
        Files removed from the series before processing (localizers).
    """

    series: DicomSeries
    status: QCStatus
    failed_check: QCCheck | None = None
    message: str = ""
    warnings: tuple[str, ...] = ()
    accepted: DicomSeries | None = None
    dropped_files: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        rejected = self.status is QCStatus.REJECT
        if rejected != (self.failed_check is not None) or rejected != bool(self.message):
            raise ValueError("a rejected QCResult needs failed_check and message, others neither")
        if rejected == (self.accepted is not None):
            raise ValueError("QCResult.accepted must be set exactly when the series passes")
        if self.status is QCStatus.WARN and not self.warnings:
            raise ValueError("a QCResult with status WARN needs at least one warning")

    @property
    def passed(self) -> bool:
        """Whether the series may be processed (PASS or WARN)."""
        return self.status is not QCStatus.REJECT


class _Reject(Exception):
    def __init__(self, check: QCCheck, detail: str, hint: str) -> None:
        super().__init__(detail)
        self.check = check
        self.detail = detail
        self.hint = hint


def run_qc(series: DicomSeries, config: QCConfig | None = None) -> QCResult:
    """Check whether ``series`` can be reconstructed as one regular 3D volume.

    Checks run in the order of :class:`QCCheck`; the first failing one rejects
    the series.

    Parameters
    ----------
    series
        Series from :func:`mhubio.dicom.scan.scan_folder`.
    config
        QC configuration; defaults to ``QCConfig()``.

    Returns
    -------
    QCResult
        Status, the failed check with an actionable message, and warnings.
    """
    config = config or QCConfig()
    warnings: list[str] = []
    try:
        try:
            kept, dropped = _run_checks(series, config, warnings)
        except SeriesGeometryError as exc:
            raise _Reject(
                QCCheck.GEOMETRY_PRESENT, str(exc), "The geometry attributes are invalid."
            ) from exc
    except _Reject as reject:
        message = (
            f"{series.label} rejected by QC check '{reject.check.value}': "
            f"{reject.detail}. {reject.hint}"
        )
        return QCResult(
            series=series,
            status=QCStatus.REJECT,
            failed_check=reject.check,
            message=message,
            warnings=tuple(warnings),
        )
    return QCResult(
        series=series,
        status=QCStatus.WARN if warnings else QCStatus.PASS,
        warnings=tuple(warnings),
        accepted=kept,
        dropped_files=dropped,
    )


_Check = Callable[[DicomSeries, "QCConfig", list[str]], None]


def _run_checks(
    series: DicomSeries, config: QCConfig, warnings: list[str]
) -> tuple[DicomSeries, tuple[Path, ...]]:
    _run_enabled(_BEFORE_LOCALIZERS, series, config, warnings)
    dropped: tuple[Path, ...] = ()
    if config.is_enabled(QCCheck.NO_LOCALIZER):
        series, dropped = _check_localizers(series, config, warnings)
    _check_single_frame(series)
    _check_no_mixed_frames(series)
    _check_geometry_present(series)
    _check_geometry_values(series, config)
    _run_enabled(_AFTER_LOCALIZERS, series, config, warnings)
    ordered = series.sorted_instances()
    locations = series.slice_locations(ordered)
    if config.is_enabled(QCCheck.UNIQUE_POSITIONS):
        _check_unique_positions(ordered, locations, config)
    if config.is_enabled(QCCheck.NO_TILT):
        _check_no_tilt(series, ordered, config, warnings)
    if config.is_enabled(QCCheck.REGULAR_SPACING):
        _check_regular_spacing(series, ordered, locations, config, warnings)
    return series, dropped


def _run_enabled(
    checks: Sequence[tuple[QCCheck, _Check]], series: DicomSeries, config: QCConfig, warnings: list[str]
) -> None:
    for check, run in checks:
        if config.is_enabled(check):
            run(series, config, warnings)


def _check_min_slices(series: DicomSeries, config: QCConfig) -> None:
    assert config.min_slices is not None
    if len(series) < config.min_slices:
        raise _Reject(
            QCCheck.MIN_SLICES,
            f"{len(series)} slice(s), at least {config.min_slices} required",
            "Check that the whole series was exported, or lower qc.min_slices.",
        )


def _check_constant_pixel_spacing(series: DicomSeries, config: QCConfig) -> None:
    spacings = [i.pixel_spacing for i in series.instances]
    _check_constant(series, QCCheck.CONSTANT_PIXEL_SPACING, "PixelSpacing", spacings, config.pixel_spacing_tolerance_mm)


def _check_constant_rows_columns(series: DicomSeries) -> None:
    sizes = [(i.rows, i.columns) for i in series.instances]
    _check_constant(series, QCCheck.CONSTANT_ROWS_COLUMNS, "Rows/Columns", sizes, 0.0)


_BEFORE_LOCALIZERS: tuple[tuple[QCCheck, _Check], ...] = (
    (QCCheck.UID_SYNTAX, lambda series, config, warnings: _check_uid_syntax(series)),
    (QCCheck.MODALITY, lambda series, config, warnings: _check_modality(series, config)),
    (QCCheck.MEMORY_BUDGET, lambda series, config, warnings: _check_memory_budget(series, config)),
)
"""Checks of the headers alone, run before localizers are dropped."""

_AFTER_LOCALIZERS: tuple[tuple[QCCheck, _Check], ...] = (
    (QCCheck.RESCALE_VALUES, lambda series, config, warnings: _check_rescale_values(series)),
    (QCCheck.REQUIRED_UIDS, lambda series, config, warnings: _check_uids(series)),
    (QCCheck.MIN_SLICES, lambda series, config, warnings: _check_min_slices(series, config)),
    (QCCheck.SLICE_THICKNESS, lambda series, config, warnings: _check_slice_thickness(series, config)),
    (QCCheck.SINGLE_ORIENTATION, lambda series, config, warnings: _check_single_orientation(series, config)),
    (QCCheck.AXIAL_ORIENTATION, lambda series, config, warnings: _check_axial(series)),
    (QCCheck.CONSTANT_PIXEL_SPACING, lambda series, config, warnings: _check_constant_pixel_spacing(series, config)),
    (QCCheck.CONSTANT_ROWS_COLUMNS, lambda series, config, warnings: _check_constant_rows_columns(series)),
)
"""Checks of the series left after localizers are dropped, in order; the position checks follow."""


def _check_modality(series: DicomSeries, config: QCConfig) -> None:
    assert config.modalities is not None
    found = sorted({i.modality or "<none>" for i in series.instances})
    if not set(found) <= config.modalities:
        raise _Reject(
            QCCheck.MODALITY,
            f"modality {'/'.join(found)} is not among {sorted(config.modalities)}",
            "This model does not process such series; nothing to do unless qc.modalities "
            "is wrong.",
        )


def _check_uid_syntax(series: DicomSeries) -> None:
    for instance in series.instances:
        for keyword, value in (
            ("SeriesInstanceUID", instance.series_instance_uid),
            ("StudyInstanceUID", instance.study_instance_uid),
            ("SOPInstanceUID", instance.sop_instance_uid),
            ("SOPClassUID", instance.sop_class_uid or "1"),
            ("FrameOfReferenceUID", instance.frame_of_reference_uid or "1"),
        ):
            problem = uid_problem(value)
            if problem is not None:
                raise _Reject(
                    QCCheck.UID_SYNTAX,
                    f"{keyword} of {instance.label} is not a valid UID ({problem})",
                    "UIDs are digits and dots, at most 64 characters; fix the export or the "
                    "tool that wrote the files.",
                )


def _check_memory_budget(series: DicomSeries, config: QCConfig) -> None:
    assert config.max_series_bytes is not None
    needed = declared_series_bytes(series.instances)
    if needed > config.max_series_bytes:
        largest = max(series.instances, key=declared_pixel_bytes)
        raise _Reject(
            QCCheck.MEMORY_BUDGET,
            f"its declared pixel data (Rows x Columns x frames x samples, e.g. {largest.rows} x "
            f"{largest.columns} x {largest.number_of_frames} x {largest.samples_per_pixel or 1} in "
            f"{largest.label}) needs {needed / 2**30:.2f} GiB decoded, more than the budget of "
            f"{config.max_series_bytes / 2**30:.2f} GiB",
            "Raise qc.max_series_bytes if the machine has the memory and the header is right.",
        )


def _check_uids(series: DicomSeries) -> None:
    studies = {i.study_instance_uid for i in series.instances}
    if len(studies) > 1:
        raise _Reject(
            QCCheck.REQUIRED_UIDS,
            f"its files carry {len(studies)} different StudyInstanceUIDs",
            "Fix the export so that one series belongs to one study.",
        )
    frames = {i.frame_of_reference_uid for i in series.instances}
    if "" in frames:
        raise _Reject(
            QCCheck.REQUIRED_UIDS,
            "FrameOfReferenceUID is missing",
            "Results cannot be registered to the images without it; export the series "
            "with its Frame of Reference module.",
        )
    if len(frames) > 1:
        raise _Reject(
            QCCheck.REQUIRED_UIDS,
            f"its files carry {len(frames)} different FrameOfReferenceUIDs",
            "The slices do not share one coordinate system; fix the export.",
        )


def _check_localizers(
    series: DicomSeries, config: QCConfig, warnings: list[str]
) -> tuple[DicomSeries, tuple[Path, ...]]:
    localizers = tuple(i.path for i in series.instances if i.is_localizer)
    if not localizers:
        return series, ()
    if len(localizers) == len(series):
        raise _Reject(
            QCCheck.NO_LOCALIZER,
            "the series is a localizer (ImageType contains LOCALIZER)",
            "Localizer (scout) series are not processed.",
        )
    if config.localizer_policy is LocalizerPolicy.REJECT_SERIES:
        raise _Reject(
            QCCheck.NO_LOCALIZER,
            f"{len(localizers)} of its {len(series)} images are localizers",
            "Set qc.localizer_policy to 'drop_instances' to process the other images.",
        )
    warnings.append(
        f"{series.label}: dropped {len(localizers)} localizer image(s) from the series, "
        f"e.g. {localizers[0].name}"
    )
    return series.without(localizers), localizers


def _check_single_frame(series: DicomSeries) -> None:
    multi = [i for i in series.instances if i.number_of_frames > 1 and not i.is_frame]
    if multi:
        raise _Reject(
            QCCheck.SINGLE_FRAME,
            f"{len(multi)} multi-frame instance(s) without per-frame plane positions, e.g. {multi[0].label}",
            "Multi-frame images are read when their frames carry Plane Position functional groups "
            "(Enhanced CT/MR, Legacy Converted Enhanced); convert the images to one of those or to "
            "single-frame instances.",
        )


def _check_no_mixed_frames(series: DicomSeries) -> None:
    multi_frame = {i.sop_instance_uid: i for i in series.instances if i.is_frame}
    if not multi_frame:
        return
    single = [i for i in series.instances if not i.is_frame]
    if single:
        raise _Reject(
            QCCheck.NO_MIXED_FRAMES,
            f"{len(single)} single-frame instance(s) beside {len(multi_frame)} multi-frame instance(s), "
            f"e.g. {single[0].label} and {next(iter(multi_frame.values())).path.name}",
            "A series is either single-frame images or one enhanced multi-frame image; export the "
            "two kinds as separate series.",
        )
    if len(multi_frame) > 1:
        raise _Reject(
            QCCheck.NO_MIXED_FRAMES,
            f"{len(multi_frame)} multi-frame instances in one series",
            "Only a series made of one enhanced multi-frame image is read; export each stack as "
            "its own series or convert the frames to single-frame instances.",
        )


def _check_geometry_present(series: DicomSeries) -> None:
    lacking = [i for i in series.instances if not i.has_geometry]
    if lacking:
        raise _Reject(
            QCCheck.GEOMETRY_PRESENT,
            f"{len(lacking)} file(s) lack ImagePositionPatient, ImageOrientationPatient, "
            f"PixelSpacing, Rows or Columns, e.g. {lacking[0].label}",
            "The series is not a cross-sectional image series or its export dropped "
            "geometry attributes.",
        )


def _check_geometry_values(series: DicomSeries, config: QCConfig) -> None:
    for instance in series.instances:
        assert instance.image_orientation is not None and instance.pixel_spacing is not None
        problem = _geometry_problem(instance, config.orthonormal_tolerance)
        if problem:
            raise _Reject(
                QCCheck.GEOMETRY_VALUES,
                f"{problem} in {instance.label}",
                "The geometry attributes make no sense; fix the export or the tool that "
                "wrote the files.",
            )


def _geometry_problem(instance: DicomInstance, tolerance: float) -> str:
    """Why the geometry values of one instance make no sense (empty when they do)."""
    values = {
        "ImagePositionPatient": instance.image_position,
        "ImageOrientationPatient": instance.image_orientation,
        "PixelSpacing": instance.pixel_spacing,
        "SliceThickness": (instance.slice_thickness,) if instance.slice_thickness is not None else (),
    }
    for keyword, value in values.items():
        if value is not None and not np.all(np.isfinite(np.asarray(value, dtype=float))):
            return f"{keyword} is not finite (NaN or infinite)"
    assert instance.pixel_spacing is not None and instance.image_orientation is not None
    if min(instance.pixel_spacing) <= 0:
        return f"PixelSpacing {instance.pixel_spacing} is zero or negative"
    if min(instance.rows or 0, instance.columns or 0) < 1:
        return f"Rows/Columns {instance.rows}/{instance.columns} is not a positive matrix size"
    orientation_normal(instance.image_orientation)  # parallel directions: SeriesGeometryError
    row = np.asarray(instance.image_orientation[:3], dtype=float)
    col = np.asarray(instance.image_orientation[3:], dtype=float)
    error = max(abs(float(np.linalg.norm(row)) - 1), abs(float(np.linalg.norm(col)) - 1), abs(float(row @ col)))
    if error > tolerance:
        return (
            f"ImageOrientationPatient {tuple(round(v, 4) for v in instance.image_orientation)} "
            f"is not two orthogonal unit vectors (deviation {error:.4f})"
        )
    return ""


def _check_rescale_values(series: DicomSeries) -> None:
    for instance in series.instances:
        slope, intercept = instance.rescale_slope, instance.rescale_intercept
        for keyword, value in (("RescaleSlope", slope), ("RescaleIntercept", intercept)):
            if value is not None and not np.isfinite(value):
                raise _Reject(
                    QCCheck.RESCALE_VALUES,
                    f"{keyword} of {instance.label} is not finite (NaN or infinite)",
                    "The stored values cannot be converted to physical units; fix the export.",
                )
        if slope == 0:
            raise _Reject(
                QCCheck.RESCALE_VALUES,
                f"RescaleSlope of {instance.label} is 0 (every voxel would get the intercept)",
                "The stored values cannot be converted to physical units; fix the export.",
            )


def _check_slice_thickness(series: DicomSeries, config: QCConfig) -> None:
    assert config.slice_thickness_range is not None
    low, high = config.slice_thickness_range
    values = [i.slice_thickness for i in series.instances]
    if any(v is None for v in values):
        raise _Reject(
            QCCheck.SLICE_THICKNESS,
            "SliceThickness is missing",
            "Disable the check (qc.slice_thickness_range: null) to process it anyway.",
        )
    outside = sorted({v for v in values if v is not None and not low <= v <= high})
    if outside:
        raise _Reject(
            QCCheck.SLICE_THICKNESS,
            f"SliceThickness {outside} mm outside the accepted range [{low}, {high}] mm",
            "Change qc.slice_thickness_range to accept it.",
        )


def _check_single_orientation(series: DicomSeries, config: QCConfig) -> None:
    orientations = np.asarray([i.image_orientation for i in series.instances], dtype=float)
    deviation = float(np.max(np.abs(orientations - orientations[0])))
    if deviation > config.orientation_tolerance:
        distinct = len({tuple(np.round(o, 4)) for o in orientations})
        raise _Reject(
            QCCheck.SINGLE_ORIENTATION,
            f"{distinct} different ImageOrientationPatient values in one series",
            "The series mixes image planes; export each plane as its own series.",
        )


def _check_axial(series: DicomSeries) -> None:
    orientation = series.instances[0].image_orientation
    assert orientation is not None
    row, col = np.abs(orientation[:3]), np.abs(orientation[3:])
    if not (row[0] > max(row[1], row[2]) and col[1] > max(col[0], col[2])):
        raise _Reject(
            QCCheck.AXIAL_ORIENTATION,
            f"ImageOrientationPatient {tuple(round(v, 4) for v in orientation)} is not axial "
            "(rows must run mainly along x, columns mainly along y)",
            "This model needs axial slices; reformat the series or disable "
            "qc.axial_orientation.",
        )


def _check_constant(
    series: DicomSeries,
    check: QCCheck,
    name: str,
    values: Sequence[tuple[float, ...] | tuple[int | None, ...] | None],
    tolerance: float,
) -> None:
    array = np.asarray(values, dtype=float)
    if float(np.max(np.abs(array - array[0]))) > tolerance:
        distinct = sorted({tuple(v) for v in values if v is not None})
        raise _Reject(
            check,
            f"{len(distinct)} different {name} values {distinct[:4]}",
            f"Slices with different {name} cannot form one volume; export them as "
            "separate series.",
        )


def _check_unique_positions(
    ordered: tuple[DicomInstance, ...], locations: np.ndarray, config: QCConfig
) -> None:
    gaps = np.diff(locations)
    same = np.flatnonzero(gaps <= config.spacing_tolerance_pass_mm)
    if same.size:
        k = int(same[0])
        raise _Reject(
            QCCheck.UNIQUE_POSITIONS,
            f"{same.size} slice pair(s) share a position, e.g. {ordered[k].label} and "
            f"{ordered[k + 1].label} at {locations[k]:.3f} mm along the slice normal",
            "Remove duplicated or overlapping slices (or separate the acquisitions "
            "into different series).",
        )


def _check_no_tilt(
    series: DicomSeries,
    ordered: tuple[DicomInstance, ...],
    config: QCConfig,
    warnings: list[str],
) -> None:
    positions = np.asarray([i.image_position for i in ordered], dtype=float)
    offsets = positions - positions[0]
    normal = series.slice_normal
    in_plane = offsets - np.outer(offsets @ normal, normal)
    shift = float(np.max(np.linalg.norm(in_plane, axis=1)))
    if shift <= config.spacing_tolerance_pass_mm:
        return
    detail = (
        f"slices are not stacked along their normal (in-plane shift up to {shift:.3f} mm; "
        "gantry tilt or sheared acquisition)"
    )
    if shift > config.spacing_tolerance_warn_mm:
        raise _Reject(
            QCCheck.NO_TILT,
            detail,
            "Resample the series to an orthogonal grid before processing (or disable "
            "qc.no_tilt to accept the distorted geometry).",
        )
    warnings.append(f"{series.label}: {detail}, within the warn tolerance")


def _check_regular_spacing(
    series: DicomSeries,
    ordered: tuple[DicomInstance, ...],
    locations: np.ndarray,
    config: QCConfig,
    warnings: list[str],
) -> None:
    if len(locations) < 3:
        return
    gaps = np.diff(locations)
    mean_gap = (locations[-1] - locations[0]) / (len(locations) - 1)
    gap_deviation = float(np.max(np.abs(gaps - mean_gap)))
    grid = locations[0] + mean_gap * np.arange(len(locations))
    position_error = float(np.max(np.abs(locations - grid)))
    deviation = max(gap_deviation, position_error)
    if deviation <= config.spacing_tolerance_pass_mm:
        return
    detail = (
        f"slice spacing varies from {gaps.min():.3f} to {gaps.max():.3f} mm around the "
        f"mean {mean_gap:.3f} mm (deviation {deviation:.3f} mm)"
    )
    if deviation > config.spacing_tolerance_warn_mm:
        k = int(np.argmax(gaps))
        raise _Reject(
            QCCheck.REGULAR_SPACING,
            f"{detail}; largest gap between {ordered[k].label} and {ordered[k + 1].label} "
            "(missing slice?)",
            "Re-export the complete series, or raise qc.spacing_tolerance_warn_mm if "
            "the irregularity is acceptable.",
        )
    warnings.append(f"{series.label}: {detail}, within the warn tolerance")


_SETTING = re.compile(r"\bqc\.([a-z_]+)\b")
_IMPORTER_SETTINGS = frozenset({"modalities"})
"""QC settings that the importers take as their own parameters (``DicomImporter.modalities``)."""


def settings_of_step(message: str, step_id: str) -> str:
    """``message`` with the QC settings it names (``qc.min_slices``) written as parameters of step ``step_id``.

    The result names them as ``--set`` takes them and as the workflow's ``modules:`` section nests them:
    ``DicomImporter.qc.min_slices`` (``--set DicomImporter.qc.min_slices=3``).
    """

    def qualified(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"{step_id}.{name}" if name in _IMPORTER_SETTINGS else f"{step_id}.qc.{name}"

    return _SETTING.sub(qualified, message)
