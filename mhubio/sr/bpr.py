"""Body Part Regression landmark and region SRs (Comprehensive 3D SR, TID 1500) with highdicom.

As published with paper 000: one TID 1501 measurement group per annotated CT slice, referencing exactly that slice
as its source image (for an enhanced multi-frame CT: the image and the frame number); each landmark or region is
a Finding Site (SCT 363698007), a landmark's topographical modifier (SCT 106233006) is a child of its Finding
Site. The landmark SR has groups only for slices that carry a landmark;
the region SR has one group per slice with at least one region.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import highdicom as hd
import numpy as np
import pydicom
from pydicom.sr.codedict import codes

from mhubio.bpr.scores import BodyPartResult
from mhubio.core.resources import packaged_csv_rows
from mhubio.sr.frames import frame_views, is_multi_frame_source
from mhubio.sr.status import IS_COMPLETE, IS_FINAL, IS_VERIFIED

log = logging.getLogger("mhub.module.sr.bpr")

LANDMARK_SERIES_DESCRIPTION = "BPR landmark annotations"
REGION_SERIES_DESCRIPTION = "BPR region annotations"
#: Largest allowed relative difference between the slice spacing of the DICOM series and that of the result.
SPACING_TOLERANCE = 0.1


class SliceReferenceError(ValueError):
    """The source datasets do not match the slices of a body part regression result."""


class NothingToEncodeError(ValueError):
    """No slice of the result carries a landmark (or region), so there is no SR content."""


@dataclass(frozen=True)
class LandmarkCode:
    """Finding Site concept and optional topographical modifier of a bpreg landmark."""

    name: str
    finding_site: hd.sr.CodedConcept
    modifier: hd.sr.CodedConcept | None


@dataclass(frozen=True)
class SliceImage:
    """The image that one slice of the analysed volume is: a single-frame image or a frame of a multi-frame one.

    Attributes
    ----------
    dataset:
        Header with the slice's geometry as top-level attributes (for a frame: its view, see
        :func:`mhubio.sr.frames.frame_views`).
    frame_number:
        One-based frame of a multi-frame image; ``None`` for a single-frame image.
    """

    dataset: pydicom.Dataset
    frame_number: int | None = None

    @property
    def key(self) -> tuple[str, int | None]:
        """SOP instance and frame: what makes the slice distinct."""
        return str(self.dataset.SOPInstanceUID), self.frame_number

    def source_image(self) -> hd.sr.SourceImageForMeasurementGroup:
        """The measurement group's reference to this slice."""
        if self.frame_number is None:
            return hd.sr.SourceImageForMeasurementGroup.from_source_image(self.dataset)
        return hd.sr.SourceImageForMeasurementGroup(
            referenced_sop_class_uid=self.dataset.SOPClassUID,
            referenced_sop_instance_uid=self.dataset.SOPInstanceUID,
            referenced_frame_numbers=[self.frame_number],
        )


def volume_slices(source_datasets: Sequence[pydicom.Dataset]) -> list[SliceImage]:
    """The slices of the analysed volume: the single-frame ``source_datasets`` in the given order, or the frames
    of one enhanced multi-frame image ascending along the slice normal (the order its volume is read in)."""
    if not is_multi_frame_source(source_datasets):
        return [SliceImage(dataset) for dataset in source_datasets]
    views, numbers = frame_views(source_datasets[0])
    positions, _ = slice_positions(views)
    order = np.argsort(positions, kind="stable")
    return [SliceImage(views[k], numbers[k]) for k in order]


def _data_rows(name: str) -> list[dict[str, str]]:
    return packaged_csv_rows("mhubio.sr", "data", name)


@cache
def landmark_codes() -> Mapping[str, LandmarkCode]:
    """Codes of bpreg's landmarks, keyed by landmark name (``data/bpr_landmarks.csv``)."""
    table = {}
    for row in _data_rows("bpr_landmarks.csv"):
        modifier = None
        if row["modifier_value"]:
            modifier = hd.sr.CodedConcept(row["modifier_value"], row["modifier_scheme"], row["modifier_meaning"])
        table[row["bpr_code"]] = LandmarkCode(
            name=row["bpr_code"],
            finding_site=hd.sr.CodedConcept(row["value"], row["scheme"], row["meaning"]),
            modifier=modifier,
        )
    return table


@cache
def region_codes() -> Mapping[str, hd.sr.CodedConcept]:
    """Codes of bpreg's body part regions, keyed by region name (``data/bpr_regions.csv``)."""
    return {
        row["bpr_region"]: hd.sr.CodedConcept(row["value"], row["scheme"], row["meaning"])
        for row in _data_rows("bpr_regions.csv")
    }


def _series_label(datasets: Sequence[pydicom.Dataset]) -> str:
    first = datasets[0] if datasets else None
    uid = getattr(first, "SeriesInstanceUID", "?")
    number = getattr(first, "SeriesNumber", "?")
    return f"series {number} ({uid})"


def slice_positions(source_datasets: Sequence[pydicom.Dataset]) -> tuple[np.ndarray, np.ndarray]:
    """Position of each dataset along the common slice normal, and that normal (row x column direction).

    Raises
    ------
    SliceReferenceError
        If a dataset lacks ImageOrientationPatient/ImagePositionPatient or the orientations differ.
    """
    label = _series_label(source_datasets)
    try:
        orientations = np.array([[float(v) for v in ds.ImageOrientationPatient] for ds in source_datasets])
        origins = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in source_datasets])
    except AttributeError as error:
        raise SliceReferenceError(
            f"{label}: every slice needs ImageOrientationPatient and ImagePositionPatient"
        ) from error
    if orientations.shape[1:] != (6,) or origins.shape[1:] != (3,):
        raise SliceReferenceError(f"{label}: malformed ImageOrientationPatient or ImagePositionPatient")
    if not np.allclose(orientations, orientations[0], atol=1e-4):
        raise SliceReferenceError(f"{label}: slices have different ImageOrientationPatient")
    normal = np.cross(orientations[0, :3], orientations[0, 3:])
    return origins @ normal, normal


def map_slices_to_instances(
    result: BodyPartResult, source_datasets: Sequence[pydicom.Dataset]
) -> list[SliceImage]:
    """Source image of every slice index of ``result``, checked against the slice positions.

    ``source_datasets`` must be in the order of the volume the scores were computed from, or be one enhanced
    multi-frame image (see :func:`volume_slices`). The mapping is checked explicitly: one image or frame per
    slice, one series, distinct images or frames, positions strictly monotonic along the slice normal with the
    result's z-spacing. The result's reverse z-ordering flag (scores decrease with the slice
    index) is compared with the direction of the slices in patient coordinates: a mismatch is logged as a warning
    because the landmarks then lie where the scores put them, not where the anatomy is expected.

    Returns
    -------
    list[SliceImage]
        Element ``i`` is the image of slice ``i``.

    Raises
    ------
    SliceReferenceError
        If any check fails.
    """
    label = _series_label(source_datasets)
    n = result.n_slices
    slices = volume_slices(source_datasets)
    if len(slices) != n:
        raise SliceReferenceError(f"{label}: {len(slices)} source images or frames for a result of {n} slices")
    series_uids = {str(ds.SeriesInstanceUID) for ds in source_datasets}
    if len(series_uids) != 1:
        raise SliceReferenceError(f"{label}: source images come from {len(series_uids)} series, expected one")
    if len({s.key for s in slices}) != n:
        raise SliceReferenceError(f"{label}: source images repeat SOP instances")
    positions, normal = slice_positions([s.dataset for s in slices])
    if n > 1:
        steps = np.diff(positions)
        if not (np.all(steps > 0) or np.all(steps < 0)):
            raise SliceReferenceError(
                f"{label}: source images are not in volume order (positions along the slice normal are not "
                "strictly monotonic); pass them in the order of the analysed volume"
            )
        deviation = np.abs(np.abs(steps) - result.z_spacing).max() / result.z_spacing
        if deviation > SPACING_TOLERANCE:
            raise SliceReferenceError(
                f"{label}: slice spacing of the source images ({np.abs(steps).min():.3g}-{np.abs(steps).max():.3g}"
                f" mm) differs from the result's z-spacing ({result.z_spacing:.3g} mm)"
            )
        head_ward = float(np.sign(steps[0]) * normal[2])
        if abs(normal[2]) > 0.5 and (head_ward < 0) != result.reverse_zordering:
            log.warning(
                "%s: body part regression reports reverse z-ordering=%s but the slices run %s in patient "
                "coordinates; landmarks and regions follow the scores",
                label, result.reverse_zordering, "head to feet" if head_ward < 0 else "feet to head",
            )
    return slices


def _measurement_group(
    image: SliceImage,
    finding_sites: Sequence[hd.sr.FindingSite],
    identifier: str,
    algorithm: hd.sr.AlgorithmIdentification,
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=identifier),
        algorithm_id=algorithm,
        finding_sites=finding_sites,
        source_images=[image.source_image()],
    )


def _evidence(groups: Sequence[tuple[SliceImage, object]], source_datasets: Sequence[pydicom.Dataset]
              ) -> list[pydicom.Dataset]:
    """The images the SR references: the annotated single-frame slices, or the one multi-frame image."""
    if is_multi_frame_source(source_datasets):
        return list(source_datasets)
    return [image.dataset for image, _ in groups]


def _encode(
    groups: Sequence[tuple[SliceImage, Sequence[hd.sr.FindingSite]]],
    evidence: Sequence[pydicom.Dataset],
    *,
    identifier_prefix: str,
    series_description: str,
    algorithm_name: str,
    algorithm_version: str,
    series_number: int,
    series_instance_uid: str | None,
    sop_instance_uid: str | None,
    instance_number: int,
    manufacturer: str,
    device_observer_uid: str | None,
) -> hd.sr.Comprehensive3DSR:
    algorithm = hd.sr.AlgorithmIdentification(name=algorithm_name, version=algorithm_version)
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=device_observer_uid or hd.UID(), name=algorithm_name, model_name=algorithm_version
        ),
    )
    measurement_groups = [
        _measurement_group(image, sites, f"{identifier_prefix} {number}", algorithm)
        for number, (image, sites) in enumerate(groups, start=1)
    ]
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.SCT.ImagingProcedure,
        imaging_measurements=measurement_groups,
    )
    return hd.sr.Comprehensive3DSR(
        evidence=list(evidence),
        content=report[0],
        series_instance_uid=series_instance_uid or hd.UID(),
        series_number=series_number,
        sop_instance_uid=sop_instance_uid or hd.UID(),
        instance_number=instance_number,
        manufacturer=manufacturer,
        is_complete=IS_COMPLETE,
        is_final=IS_FINAL,
        is_verified=IS_VERIFIED,
        series_description=series_description,
    )


def encode_landmark_sr(
    result: BodyPartResult,
    source_datasets: Sequence[pydicom.Dataset],
    algorithm_name: str,
    algorithm_version: str,
    series_number: int,
    *,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    instance_number: int = 1,
    manufacturer: str = "MHub",
    device_observer_uid: str | None = None,
) -> hd.sr.Comprehensive3DSR:
    """Encode the landmarks inside the scan as a Comprehensive 3D SR ("BPR landmark annotations").

    Parameters
    ----------
    result: BodyPartResult
        Body part regression result of the series.
    source_datasets: Sequence[pydicom.Dataset]
        CT slices in the order of the analysed volume, or one enhanced multi-frame CT (headers suffice).
    algorithm_name, algorithm_version: str
        Algorithm identification (TID 4019) and device observer name/model.
    series_number: int
        SeriesNumber of the SR.
    series_instance_uid, sop_instance_uid: str | None
        UIDs of the SR; generated if omitted.
    instance_number: int
        InstanceNumber of the SR.
    manufacturer: str
        Manufacturer of the SR.
    device_observer_uid: str | None
        Device Observer UID; generated if omitted.

    Raises
    ------
    NothingToEncodeError
        If no landmark lies inside the scan.
    SliceReferenceError
        If the datasets do not match the result's slices.
    KeyError
        If a landmark has no code in ``data/bpr_landmarks.csv``.
    """
    slices = map_slices_to_instances(result, source_datasets)
    table = landmark_codes()
    unknown = sorted(set(result.landmarks) - set(table))
    if unknown:
        raise KeyError(f"landmarks without a code in bpr_landmarks.csv: {unknown}")
    by_slice: dict[int, list[str]] = {}
    for name, index in sorted(result.landmarks.items(), key=lambda item: (item[1], item[0])):
        by_slice.setdefault(index, []).append(name)
    if not by_slice:
        raise NothingToEncodeError(
            f"{_series_label(source_datasets)}: no body part regression landmark inside the scan"
        )
    groups = [
        (
            slices[index],
            [
                hd.sr.FindingSite(
                    anatomic_location=table[name].finding_site, topographical_modifier=table[name].modifier
                )
                for name in names
            ],
        )
        for index, names in sorted(by_slice.items())
    ]
    return _encode(
        groups,
        _evidence(groups, source_datasets),
        identifier_prefix="BPR landmarks",
        series_description=LANDMARK_SERIES_DESCRIPTION,
        algorithm_name=algorithm_name,
        algorithm_version=algorithm_version,
        series_number=series_number,
        series_instance_uid=series_instance_uid,
        sop_instance_uid=sop_instance_uid,
        instance_number=instance_number,
        manufacturer=manufacturer,
        device_observer_uid=device_observer_uid,
    )


def encode_region_sr(
    result: BodyPartResult,
    source_datasets: Sequence[pydicom.Dataset],
    algorithm_name: str,
    algorithm_version: str,
    series_number: int,
    *,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    instance_number: int = 1,
    manufacturer: str = "MHub",
    device_observer_uid: str | None = None,
) -> hd.sr.Comprehensive3DSR:
    """Encode the body part regions of every slice as a Comprehensive 3D SR ("BPR region annotations").

    One measurement group per slice that has at least one region; slices without a region (removed scores)
    get no group. Parameters and errors as :func:`encode_landmark_sr` (codes from ``data/bpr_regions.csv``).
    """
    slices = map_slices_to_instances(result, source_datasets)
    table = region_codes()
    order = list(table)
    unknown = sorted({name for regions in result.regions for name in regions} - set(table))
    if unknown:
        raise KeyError(f"regions without a code in bpr_regions.csv: {unknown}")
    groups = [
        (slices[index], [hd.sr.FindingSite(anatomic_location=table[name]) for name in sorted(regions, key=order.index)])
        for index, regions in enumerate(result.regions)
        if regions
    ]
    if not groups:
        raise NothingToEncodeError(f"{_series_label(source_datasets)}: no slice has a body part region")
    return _encode(
        groups,
        _evidence(groups, source_datasets),
        identifier_prefix="BPR regions",
        series_description=REGION_SERIES_DESCRIPTION,
        algorithm_name=algorithm_name,
        algorithm_version=algorithm_version,
        series_number=series_number,
        series_instance_uid=series_instance_uid,
        sop_instance_uid=sop_instance_uid,
        instance_number=instance_number,
        manufacturer=manufacturer,
        device_observer_uid=device_observer_uid,
    )
