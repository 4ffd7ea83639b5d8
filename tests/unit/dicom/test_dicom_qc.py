"""Series QC on in-memory headers: one test per check, tolerances, configuration."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from mhubio.dicom.qc import LocalizerPolicy, QCCheck, QCConfig, QCResult, QCStatus, run_qc
from mhubio.dicom.series import DicomInstance, DicomSeries

SERIES_UID = "1.2.3.4.5"
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def instances(n: int = 12, gap: float = 2.5, orientation=AXIAL, **common) -> list[DicomInstance]:
    row, col = np.asarray(orientation[:3]), np.asarray(orientation[3:])
    normal = np.cross(row, col)
    origin = np.array([-100.0, -120.0, 30.0])
    return [
        DicomInstance(
            path=Path(f"/data/f{k:03d}"),
            sop_instance_uid=f"{SERIES_UID}.{k + 1}",
            series_instance_uid=SERIES_UID,
            study_instance_uid="1.2.3",
            frame_of_reference_uid="1.2.3.9",
            modality="CT",
            patient_id="SECRET-PATIENT-ID",
            series_number=7,
            instance_number=k + 1,
            image_type=("ORIGINAL", "PRIMARY", "AXIAL"),
            image_position=tuple(float(v) for v in origin + k * gap * normal),
            image_orientation=orientation,
            pixel_spacing=(0.7, 0.7),
            slice_thickness=2.5,
            rows=64,
            columns=64,
            **common,
        )
        for k in range(n)
    ]


def qc(items: list[DicomInstance], **config) -> QCResult:
    return run_qc(DicomSeries(tuple(items)), QCConfig(**config))


def shifted(item: DicomInstance, dz: float = 0.0, dy: float = 0.0) -> DicomInstance:
    x, y, z = item.image_position
    return replace(item, image_position=(x, y + dy, z + dz))


def test_regular_series_passes():
    result = qc(instances())
    assert result.status is QCStatus.PASS
    assert result.passed and result.failed_check is None and result.warnings == ()
    assert result.accepted is not None and len(result.accepted) == 12


def test_oblique_series_passes():
    c, s = np.cos(0.4), np.sin(0.4)
    assert qc(instances(orientation=(c, s, 0.0, 0.0, 0.0, -1.0))).status is QCStatus.PASS


def test_missing_slice_rejected_as_irregular_spacing():
    items = instances()
    del items[5]
    result = qc(items)
    assert result.status is QCStatus.REJECT
    assert result.failed_check is QCCheck.REGULAR_SPACING
    assert "missing slice" in result.message
    assert "between f004 and f006" in result.message and "/data/" not in result.message
    assert result.accepted is None


def test_spacing_jitter_between_tolerances_warns():
    items = [shifted(item, dz=0.05 * (-1) ** k) for k, item in enumerate(instances())]
    result = qc(items)
    assert result.status is QCStatus.WARN
    assert any("spacing" in w for w in result.warnings)
    assert result.accepted is not None


def test_spacing_jitter_below_pass_tolerance_passes():
    items = [shifted(item, dz=0.004 * (-1) ** k) for k, item in enumerate(instances())]
    assert qc(items).status is QCStatus.PASS


def test_spacing_tolerances_are_configurable():
    items = [shifted(item, dz=0.05 * (-1) ** k) for k, item in enumerate(instances())]
    assert qc(items, spacing_tolerance_warn_mm=0.05).failed_check is QCCheck.REGULAR_SPACING
    assert qc(items, spacing_tolerance_pass_mm=0.2).status is QCStatus.PASS


def test_slowly_drifting_spacing_is_caught_by_grid_deviation():
    # Each gap deviates little from the mean, but slices drift far from a regular grid.
    gaps = np.linspace(2.3, 2.7, 29)
    z = np.concatenate([[0.0], np.cumsum(gaps)])
    items = [replace(item, image_position=(0.0, 0.0, float(z[k])))
             for k, item in enumerate(instances(30))]
    assert qc(items).failed_check is QCCheck.REGULAR_SPACING


def test_duplicate_position_rejected():
    items = instances()
    items[4] = replace(items[4], image_position=items[3].image_position)
    assert qc(items).failed_check is QCCheck.UNIQUE_POSITIONS


def test_two_orientations_rejected():
    items = instances()
    items[6:] = [replace(i, image_orientation=(1.0, 0.0, 0.0, 0.0, 0.0, -1.0)) for i in items[6:]]
    assert qc(items).failed_check is QCCheck.SINGLE_ORIENTATION


def test_gantry_tilt_rejected():
    angle = np.deg2rad(15)
    tilted = (1.0, 0.0, 0.0, 0.0, float(np.cos(angle)), float(-np.sin(angle)))
    items = [replace(i, image_orientation=tilted, image_position=(0.0, 0.0, 2.5 * k))
             for k, i in enumerate(instances())]
    result = qc(items)
    assert result.failed_check is QCCheck.NO_TILT
    assert "gantry tilt" in result.message


def test_small_shear_warns_and_can_be_disabled():
    items = [shifted(item, dy=0.01 * k) for k, item in enumerate(instances())]
    result = qc(items)
    assert result.status is QCStatus.WARN
    assert any("stacked along their normal" in w for w in result.warnings)
    assert qc(items, no_tilt=False).status is QCStatus.PASS


def test_pixel_spacing_and_matrix_must_be_constant():
    items = instances()
    items[2] = replace(items[2], pixel_spacing=(0.7, 0.71))
    assert qc(items).failed_check is QCCheck.CONSTANT_PIXEL_SPACING
    items = instances()
    items[2] = replace(items[2], rows=32)
    assert qc(items).failed_check is QCCheck.CONSTANT_ROWS_COLUMNS


def test_min_slices_default_and_configured():
    assert qc(instances(9)).failed_check is QCCheck.MIN_SLICES
    assert qc(instances(10)).passed
    assert qc(instances(100), min_slices=101).failed_check is QCCheck.MIN_SLICES
    assert qc(instances(2), min_slices=None).passed


def test_slice_thickness_range():
    items = instances()
    assert qc(items, slice_thickness_range=(1.5, 3.5)).passed
    result = qc(items, slice_thickness_range=(1.5, 2.0))
    assert result.failed_check is QCCheck.SLICE_THICKNESS
    assert "[2.5]" in result.message
    items[0] = replace(items[0], slice_thickness=None)
    assert qc(items, slice_thickness_range=(1.5, 3.5)).failed_check is QCCheck.SLICE_THICKNESS
    assert qc(items).passed


def test_modality_filter_is_case_insensitive():
    assert qc(instances(), modalities={"ct"}).passed
    result = qc(instances(), modalities={"MR"})
    assert result.failed_check is QCCheck.MODALITY
    assert "CT" in result.message


def test_required_uids_frame_of_reference_and_single_study():
    items = [replace(i, frame_of_reference_uid="") for i in instances()]
    assert qc(items).failed_check is QCCheck.REQUIRED_UIDS
    items = instances()
    items[3] = replace(items[3], study_instance_uid="1.2.99")
    result = qc(items)
    assert result.failed_check is QCCheck.REQUIRED_UIDS
    assert "StudyInstanceUID" in result.message
    assert qc(items, required_uids=False).passed


def localizer_in_series() -> list[DicomInstance]:
    items = instances(13)
    items[0] = replace(
        items[0],
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
        image_orientation=(1.0, 0.0, 0.0, 0.0, 0.0, -1.0),
        image_position=(-100.0, 0.0, 100.0),
    )
    return items


def test_localizer_inside_series_is_dropped_with_warning_by_default():
    result = qc(localizer_in_series())
    assert result.status is QCStatus.WARN
    assert result.dropped_files == (Path("/data/f000"),)
    assert result.accepted is not None and len(result.accepted) == 12
    assert Path("/data/f000") not in result.accepted.files
    assert "localizer" in result.warnings[0]


def test_localizer_inside_series_rejects_with_paper_policy():
    result = qc(localizer_in_series(), localizer_policy=LocalizerPolicy.REJECT_SERIES)
    assert result.failed_check is QCCheck.NO_LOCALIZER
    assert "drop_instances" in result.message


def test_localizer_series_rejected_whatever_the_policy():
    items = [replace(i, image_type=("ORIGINAL", "PRIMARY", "LOCALIZER")) for i in instances()]
    assert qc(items).failed_check is QCCheck.NO_LOCALIZER


def test_localizer_check_disabled_keeps_localizer_and_then_fails_orientation():
    assert qc(localizer_in_series(), no_localizer=False).failed_check is QCCheck.SINGLE_ORIENTATION


def test_multi_frame_and_missing_geometry_always_rejected():
    items = [replace(i, number_of_frames=3) for i in instances()]
    assert qc(items).failed_check is QCCheck.SINGLE_FRAME
    items = instances()
    items[1] = replace(items[1], pixel_spacing=None)
    assert qc(items, constant_pixel_spacing=False).failed_check is QCCheck.GEOMETRY_PRESENT


def test_disabling_a_check_lets_the_series_pass():
    items = instances()
    del items[5]
    assert qc(items, regular_spacing=False).status is QCStatus.PASS


def test_message_names_series_but_no_patient_data():
    items = instances()
    del items[5]
    result = qc(items)
    assert result.message.startswith(f"series 7 ({SERIES_UID}) rejected by QC check 'regular_spacing'")
    assert "SECRET" not in result.message
    assert "SECRET" not in repr(result)


def test_config_rejects_unknown_and_inconsistent_values():
    with pytest.raises(ValidationError, match="extra"):
        QCConfig(no_gantry_tilt=False)
    with pytest.raises(ValidationError, match="spacing_tolerance_warn_mm"):
        QCConfig(spacing_tolerance_pass_mm=0.5, spacing_tolerance_warn_mm=0.2)
    with pytest.raises(ValidationError, match="empty"):
        QCConfig(slice_thickness_range=(3.0, 1.5))
    with pytest.raises(ValidationError):
        QCConfig(min_slices=0)


def test_config_from_yaml_like_mapping():
    config = QCConfig.model_validate(
        {"modalities": ["ct"], "min_slices": 101, "slice_thickness_range": [1.5, 3.5],
         "localizer_policy": "reject_series"}
    )
    assert config.modalities == frozenset({"CT"})
    assert config.slice_thickness_range == (1.5, 3.5)
    assert config.localizer_policy is LocalizerPolicy.REJECT_SERIES
    assert config.is_enabled(QCCheck.SLICE_THICKNESS)
    assert not QCConfig().is_enabled(QCCheck.MODALITY)
    assert QCConfig(regular_spacing=False).is_enabled(QCCheck.GEOMETRY_PRESENT)


def test_qc_result_is_validated():
    series = DicomSeries(tuple(instances()))
    with pytest.raises(ValueError):
        QCResult(series=series, status=QCStatus.REJECT)
    with pytest.raises(ValueError):
        QCResult(series=series, status=QCStatus.PASS)
    with pytest.raises(ValueError):
        QCResult(series=series, status=QCStatus.WARN, accepted=series)


def test_degenerate_orientation_is_rejected_not_raised():
    items = [replace(i, image_orientation=(1.0, 0.0, 0.0, 1.0, 0.0, 0.0)) for i in instances()]
    result = qc(items)
    assert result.failed_check is QCCheck.GEOMETRY_PRESENT
    assert "degenerate" in result.message


def test_axial_orientation_check_follows_the_nlst_query():
    coronal = instances(orientation=(1.0, 0.0, 0.0, 0.0, 0.0, -1.0))
    assert qc(coronal).passed
    assert qc(coronal, axial_orientation=True).failed_check is QCCheck.AXIAL_ORIENTATION
    c, s = np.cos(0.3), np.sin(0.3)
    slightly_rotated = instances(orientation=(c, s, 0.0, -s, c, 0.0))
    assert qc(slightly_rotated, axial_orientation=True).passed


def test_nlst_selection_preset():
    config = QCConfig.nlst_selection()
    assert run_qc(DicomSeries(tuple(instances(101))), config).passed
    assert run_qc(DicomSeries(tuple(instances(100))), config).failed_check is QCCheck.MIN_SLICES
    thin = [replace(i, slice_thickness=1.0) for i in instances(120)]
    assert run_qc(DicomSeries(tuple(thin)), config).failed_check is QCCheck.SLICE_THICKNESS
    scout = localizer_in_series() + instances(120)[13:]
    assert run_qc(DicomSeries(tuple(scout)), config).failed_check is QCCheck.NO_LOCALIZER
