"""Radiomics features as a TID 1500 Measurement Report (Enhanced SR) with highdicom.

As published with paper 000 (dcmqi ``tid1500writer``, Enhanced SR): one TID 1411 volumetric ROI measurement group
per segment, referencing the segment of the DICOM SEG (Referenced Segment + Source Series for Segmentation), with
the segment's own codes (:mod:`mhubio.sr.segments`: category as Finding Category, property type as Finding,
anatomic location as Finding Site; SNOMED RT codes as SNOMED CT); one TID 300 measurement per
feature with its IBSI code and UCUM unit, each with the algorithm (pyradiomics and version) as its Algorithm
Identification (TID 4019), and the TrackingUID of the segment it measures, so that viewers link the group to the
segment.  The source CT images are listed in the Image Library, one entry per image with the shared context once
(:mod:`mhubio.sr.library`).  Document status: :mod:`mhubio.sr.status`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import highdicom as hd
import pydicom
from pydicom.sr.codedict import codes

from mhubio import __version__
from mhubio.geometry import sort_datasets
from mhubio.radiomics import SegmentFeatures, coded_features
from mhubio.sr.frames import frame_views, is_multi_frame_source
from mhubio.sr.library import image_library
from mhubio.sr.segments import check_segment_numbers, segment_coding, segment_numbers_by_codes, segment_tracking_uid
from mhubio.sr.status import IS_COMPLETE, IS_FINAL, IS_VERIFIED

__all__ = ["RadiomicsSROptions", "RadiomicsSRResult", "encode_radiomics_sr"]

SERIES_DESCRIPTION = "Radiomics features"


@dataclass(frozen=True)
class RadiomicsSROptions:
    """Descriptive options of a radiomics SR."""

    series_description: str = SERIES_DESCRIPTION
    series_number: int = 902
    manufacturer: str = "MHub"
    institution_name: str | None = None
    device_observer_uid: str | None = None
    """Device Observer UID of the algorithm; generated when omitted."""

    def __post_init__(self) -> None:
        if not self.series_description.strip() or len(self.series_description) > 64:
            raise ValueError("series_description must be 1 to 64 characters (DICOM LO)")
        if not 0 <= self.series_number < 2**31:
            raise ValueError(f"series_number must be a non-negative 32-bit integer, got {self.series_number}")


@dataclass
class RadiomicsSRResult:
    """The encoded SR and what was left out of it."""

    dataset: hd.sr.EnhancedSR
    segment_numbers: dict[str, int] = field(default_factory=dict)
    """Segment id -> referenced SEG SegmentNumber, for every group written."""
    omitted: dict[str, list[str]] = field(default_factory=dict)
    """Segment id -> feature keys left out: no IBSI code, or not a finite number."""


def encode_radiomics_sr(
    features: Sequence[SegmentFeatures],
    seg_dataset: pydicom.Dataset,
    source_datasets: Sequence[pydicom.Dataset],
    *,
    algorithm_name: str,
    algorithm_version: str,
    algorithm_parameters: Mapping[str, str] | None = None,
    segment_numbers: Mapping[str, int] | None = None,
    options: RadiomicsSROptions = RadiomicsSROptions(),
) -> RadiomicsSRResult:
    """Encode per-segment features as a TID 1500 Measurement Report.

    Parameters
    ----------
    features:
        Features per segment (named by segment id); one measurement group each,
        in the order given.
    seg_dataset:
        The DICOM SEG whose segments the features were computed from (pixel
        data not needed).
    source_datasets:
        The images the SEG was derived from (headers suffice); listed in the
        Image Library and as evidence.  They must belong to a series the SEG
        references.
    algorithm_name, algorithm_version:
        The feature extractor (``"pyradiomics"``, ``"3.0.1"``).
    algorithm_parameters:
        Settings recorded with the algorithm identification.
    segment_numbers:
        Segment id -> SegmentNumber of ``seg_dataset``; by default found by
        matching each id's registry codes to the SEG's segment codes.
    options:
        Series description and number, manufacturer.

    Raises
    ------
    ValueError
        If ``features`` is empty or names a segment twice, if a segment
        cannot be found in the SEG, if ``seg_dataset`` is not a SEG, or if
        the source images are not of a series the SEG references (or, for a
        SEG that references no series, not in its frame of reference).
    """
    if not features:
        raise ValueError("no segment features to encode")
    ids = [f.segment_id for f in features]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"features name segments more than once: {', '.join(repeated)}")
    if str(seg_dataset.get("SOPClassUID", "")) not in hd.seg.SOP_CLASS_UIDS:
        raise ValueError(f"seg_dataset is not a Segmentation (SOP Class {seg_dataset.get('SOPClassUID', 'missing')})")
    source_series = _source_series(seg_dataset, source_datasets)
    if segment_numbers is None:
        numbers = segment_numbers_by_codes(seg_dataset, ids)
    else:
        missing = [i for i in ids if i not in segment_numbers]
        if missing:
            raise ValueError(f"segment_numbers has no entry for {', '.join(missing)}")
        numbers = {i: int(segment_numbers[i]) for i in ids}
        check_segment_numbers(seg_dataset, numbers)

    algorithm = hd.sr.AlgorithmIdentification(
        name=algorithm_name,
        version=algorithm_version,
        parameters=[f"{k}={v}" for k, v in (algorithm_parameters or {}).items()] or None,
    )
    coded = coded_features()
    groups = []
    omitted: dict[str, list[str]] = {}
    for segment in features:
        values = segment.features
        measurements = [
            hd.sr.Measurement(name=c.quantity, value=values[c.key], unit=c.unit, algorithm_id=algorithm)
            for c in coded
            if c.key in values and math.isfinite(values[c.key])
        ]
        written = {c.key for c in coded if c.key in values and math.isfinite(values[c.key])}
        left_out = [k for k in values if k not in written]
        if left_out:
            omitted[segment.segment_id] = left_out
        if not measurements:
            raise ValueError(f"segment {segment.segment_id} has no feature with an IBSI code and a finite value")
        coding = segment_coding(seg_dataset, numbers[segment.segment_id])
        groups.append(
            hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=segment_tracking_uid(seg_dataset, coding.number) or hd.UID(),
                    identifier=coding.label or segment.segment_id,
                ),
                referenced_segment=hd.sr.ReferencedSegment(
                    sop_class_uid=str(seg_dataset.SOPClassUID),
                    sop_instance_uid=str(seg_dataset.SOPInstanceUID),
                    segment_number=coding.number,
                    source_series=hd.sr.SourceSeriesForSegmentation(source_series),
                ),
                finding_category=coding.category,
                finding_type=coding.finding,
                finding_sites=[coding.finding_site] if coding.finding_site is not None else None,
                measurements=measurements,
            )
        )
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=options.device_observer_uid or hd.UID(),
            name=algorithm_name,
            model_name=algorithm_version,
        ),
    )
    sources = sort_datasets(source_datasets)
    multi_frame = is_multi_frame_source(sources)
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.cid100.ImagingProcedure,
        imaging_measurements=groups,
    )
    if multi_frame:
        views, frame_numbers = frame_views(sources[0])
        library = image_library(views, frame_numbers)
    else:
        library = image_library(sources)
    content = report[0]
    # TID 1500 row 5: the Image Library precedes the Imaging Measurements (the last item).
    content.ContentSequence.insert(len(content.ContentSequence) - 1, library)
    document = hd.sr.EnhancedSR(
        evidence=[seg_dataset, *sources],
        content=content,
        series_instance_uid=hd.UID(),
        series_number=options.series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=options.manufacturer,
        institution_name=options.institution_name,
        is_complete=IS_COMPLETE,
        is_final=IS_FINAL,
        is_verified=IS_VERIFIED,
        series_description=options.series_description,
        software_versions=f"mhubio {__version__}",
    )
    return RadiomicsSRResult(document, numbers, omitted)


def _source_series(seg: pydicom.Dataset, sources: Sequence[pydicom.Dataset]) -> str:
    if not sources:
        raise ValueError("no source images")
    series = {str(ds.SeriesInstanceUID) for ds in sources}
    if len(series) != 1:
        raise ValueError(f"source images come from {len(series)} series; give the images of one series")
    uid = series.pop()
    referenced = {str(item.SeriesInstanceUID) for item in seg.get("ReferencedSeriesSequence", [])}
    if referenced:
        if uid not in referenced:
            raise ValueError(
                f"SEG {seg.SOPInstanceUID} does not reference the source series {uid} "
                f"(it references {', '.join(sorted(referenced))})"
            )
        return uid
    seg_frame = str(seg.get("FrameOfReferenceUID", ""))
    source_frames = {str(ds.get("FrameOfReferenceUID", "")) for ds in sources}
    if not seg_frame or source_frames != {seg_frame}:
        raise ValueError(
            f"SEG {seg.SOPInstanceUID} references no series and its frame of reference differs from that of "
            f"the source series {uid}"
        )
    return uid
