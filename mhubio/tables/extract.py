"""Table rows from output files: DICOM SEG, TID 1500 SRs (radiomics, BPR) and bpreg JSON.

The same functions serve the run (rows of each finished series) and ``mhub table --rebuild`` (rows of every
output file found, also objects written by other tools), so the tables always match the files.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom

from mhubio.tables.schema import TableName, code, code_of, empty_rows

LABELMAP_CLASS = "1.2.840.10008.5.1.4.1.1.66.7"
SEGMENTATION_CLASSES = {"1.2.840.10008.5.1.4.1.1.66.4", LABELMAP_CLASS}
NATIVE_SYNTAXES = {pydicom.uid.ImplicitVRLittleEndian, pydicom.uid.ExplicitVRLittleEndian,
                   pydicom.uid.DeflatedExplicitVRLittleEndian}
SR_CLASSES = {"1.2.840.10008.5.1.4.1.1.88.22", "1.2.840.10008.5.1.4.1.1.88.33", "1.2.840.10008.5.1.4.1.1.88.34"}
VOLUME = code("118565006", "SCT", "Volume")
CUBIC_MILLIMETER = code("mm3", "UCUM", "cubic millimeter")
MILLIMETER = code("mm", "UCUM", "millimeter")
FINDING_SITE = code("363698007", "SCT", "Finding Site")
PER_FRAME_GROUPS = pydicom.tag.Tag("PerFrameFunctionalGroupsSequence")
SEGMENT_NUMBER_EXPLICIT = b"\x62\x00\x0b\x00US\x02\x00"
"""Referenced Segment Number (0062,000B) with its VR and value length, as explicit VR little endian encodes it."""
SEGMENT_NUMBER_IMPLICIT = b"\x62\x00\x0b\x00\x02\x00\x00\x00"
"""The same element in implicit VR little endian (tag and a 4-byte value length)."""
LANDMARK_Z = code("landmark-z", "99MHUB", "Landmark z position")
"""Private code (``99`` scheme prefix): a BPR landmark's crossing position on the scan's z axis."""

Rows = dict[str, list[dict[str, Any]]]


def output_rows(path: Path, output_dir: Path, series_uid: str | None = None, model: str | None = None,
                version: str = "") -> Rows:
    """Rows of one output file; files that carry no table data give empty rows.

    Parameters
    ----------
    path:
        The file.
    output_dir:
        The output folder (``output`` columns are relative to it).
    series_uid:
        The analysed series; by default the series the object references (for JSON: the folder name).
    model, version:
        The producing model; by default the file name up to its first dot.
    """
    context = {
        "model": model or path.name.split(".", 1)[0],
        "model_version": version,
        "output": path.relative_to(output_dir).as_posix() if path.is_relative_to(output_dir) else str(path),
    }
    if path.name.endswith(".bpreg.json"):
        return _bpr_json_rows(path, {**context, "SeriesInstanceUID": series_uid or path.parent.name})
    if path.suffix != ".dcm":
        return empty_rows()
    # read whole: a SEG's pixel bytes are counted in place, and its header is parsed once
    dataset = pydicom.dcmread(path)
    sop_class = str(dataset.SOPClassUID)
    if sop_class in SEGMENTATION_CLASSES:
        return _seg_rows(path, dataset, {**context, "SeriesInstanceUID": series_uid or _seg_source_series(dataset)})
    if sop_class in SR_CLASSES:
        return _sr_rows(path, {**context, "SeriesInstanceUID": series_uid or _sr_source_series(dataset)})
    return empty_rows()


def _seg_source_series(seg: pydicom.Dataset) -> str:
    references = seg.get("ReferencedSeriesSequence") or []
    return str(references[0].SeriesInstanceUID) if references else ""


def _sr_source_series(sr: pydicom.Dataset) -> str:
    for study in sr.get("CurrentRequestedProcedureEvidenceSequence") or []:
        for series in study.get("ReferencedSeriesSequence") or []:
            classes = {str(i.ReferencedSOPClassUID) for i in series.get("ReferencedSOPSequence") or []}
            if classes and not classes & SEGMENTATION_CLASSES:
                return str(series.SeriesInstanceUID)
    return ""


def _seg_rows(path: Path, seg: pydicom.Dataset, context: dict[str, Any]) -> Rows:
    """One volume row per segment: voxel count times voxel volume (``seg`` is the whole SEG, as read)."""
    voxel_mm3 = _voxel_volume(seg)
    if seg.file_meta.get("TransferSyntaxUID") in NATIVE_SYNTAXES:
        counts = segment_voxel_counts(seg)
    else:
        counts = _decoded_voxel_counts(path, seg)
    rows = empty_rows()
    for item in seg.SegmentSequence:
        number = int(item.SegmentNumber)
        prop = item.SegmentedPropertyTypeCodeSequence[0]
        modifier = prop.get("SegmentedPropertyTypeModifierCodeSequence")
        rows[TableName.MEASUREMENTS.value].append({
            **context,
            "source": "SEG",
            "SOPInstanceUID": str(seg.SOPInstanceUID),
            "trackingIdentifier": str(item.get("TrackingID", "")) or None,
            "trackingUniqueIdentifier": str(item.get("TrackingUID", "")) or None,
            "segmentationInstanceUID": str(seg.SOPInstanceUID),
            "segmentationSegmentNumber": number,
            "SegmentLabel": str(item.get("SegmentLabel", "")),
            "SegmentedPropertyCategory": code_of(item.SegmentedPropertyCategoryCodeSequence[0]),
            "SegmentedPropertyType": code_of(prop),
            "SegmentedPropertyTypeModifier": code_of(modifier[0]) if modifier else None,
            "findingSite": _anatomic_region(item),
            "Quantity": VOLUME,
            "value": counts.get(number, 0) * voxel_mm3,
            "Units": CUBIC_MILLIMETER,
        })
    return rows


def segment_voxel_counts(seg: pydicom.Dataset) -> dict[int, int]:
    """Voxels per segment number of a SEG in a native (uncompressed) transfer syntax, read from its pixel
    bytes in place, without decoding frames one by one.

    BINARY frames are bit-packed back to back (a frame may start inside a byte), FRACTIONAL voxels count when
    non-zero, LABELMAP voxels count under their value (0 too: a LABELMAP may describe its background).
    """
    frames, pixels = int(seg.get("NumberOfFrames", 1)), int(seg.Rows) * int(seg.Columns)
    stored = np.frombuffer(seg.PixelData, np.uint8 if int(seg.BitsAllocated) <= 8 else np.dtype("<u2"))
    if str(seg.SOPClassUID) == LABELMAP_CLASS:
        numbers = np.bincount(stored[:frames * pixels])
        return {value: int(n) for value, n in enumerate(numbers.tolist()) if n}
    if int(seg.BitsAllocated) == 1:
        per_frame = _bit_counts(stored, frames, pixels)
    else:
        per_frame = np.count_nonzero(stored[:frames * pixels].reshape(frames, pixels), axis=1)
    numbers_of_frames = _frame_segment_numbers(seg, frames)
    counts: dict[int, int] = {}
    for number, count in zip(numbers_of_frames, per_frame.tolist(), strict=True):
        counts[number] = counts.get(number, 0) + count
    return counts


def _bit_counts(packed: np.ndarray, frames: int, pixels: int) -> np.ndarray:
    """Set bits per frame of ``frames`` bit-packed frames of ``pixels`` bits each."""
    if pixels % 8 == 0:
        return np.bitwise_count(packed[:frames * pixels // 8].reshape(frames, -1)).sum(axis=1, dtype=np.int64)
    bits = np.unpackbits(packed, count=frames * pixels, bitorder="little")
    return bits.reshape(frames, pixels).sum(axis=1, dtype=np.int64)


def _frame_segment_numbers(seg: pydicom.Dataset, frames: int) -> list[int]:
    """The segment number of each frame; a SEG of one segment may identify it once, in the shared groups."""
    shared = (seg.get("SharedFunctionalGroupsSequence") or [pydicom.Dataset()])[0]
    if "SegmentIdentificationSequence" in shared:
        return [int(shared.SegmentIdentificationSequence[0].ReferencedSegmentNumber)] * frames
    found = _scanned_segment_numbers(seg, frames)
    if found is not None:
        return found
    per_frame = seg.get("PerFrameFunctionalGroupsSequence") or []
    return [int(per_frame[index].SegmentIdentificationSequence[0].ReferencedSegmentNumber) for index in range(frames)]


def _scanned_segment_numbers(seg: pydicom.Dataset, frames: int) -> list[int] | None:
    """The frames' segment numbers found in the encoded Per-frame Functional Groups, or None to parse them.

    Parsing the groups costs pydicom about 80 us per frame (0.4 s for a 117-segment SEG of 5,049 frames); the
    encoded bytes are searched instead for Referenced Segment Number (0062,000B), which every frame's Segment
    Identification holds once.  The result is used only when there are exactly ``frames`` occurrences: another
    element that holds the same bytes (a source image's segment number in a frame's derivation, or a chance
    match inside a binary value) makes more, and the groups are then parsed.  Needs the sequence as read
    (not yet parsed) and a little-endian transfer syntax.
    """
    element = seg.get_item(PER_FRAME_GROUPS)
    implicit_vr, little_endian = seg.original_encoding
    if not isinstance(element, pydicom.dataelem.RawDataElement) or element.value is None or not little_endian:
        return None
    encoded: bytes = element.value
    marker = SEGMENT_NUMBER_IMPLICIT if implicit_vr else SEGMENT_NUMBER_EXPLICIT
    ends = [match.end() for match in re.finditer(re.escape(marker), encoded)]
    if len(ends) != frames:
        return None
    return [int.from_bytes(encoded[end:end + 2], "little") for end in ends]


def _decoded_voxel_counts(path: Path, header: pydicom.Dataset) -> dict[int, int]:
    """Voxels per segment number of a compressed SEG, decoded frame by frame (memory stays bounded)."""
    seg = hd.seg.segread(path, lazy_frame_retrieval=True)
    frames = int(header.get("NumberOfFrames", 1))
    labelmap = str(header.SOPClassUID) == LABELMAP_CLASS
    numbers_of_frames = [] if labelmap else _frame_segment_numbers(header, frames)
    counts: dict[int, int] = {}
    for index in range(frames):
        frame = np.asarray(seg.get_stored_frame(index + 1))
        if labelmap:
            values, numbers = np.unique(frame, return_counts=True)
            for value, number in zip(values.tolist(), numbers.tolist(), strict=True):
                counts[value] = counts.get(value, 0) + number
        else:
            number = numbers_of_frames[index]
            counts[number] = counts.get(number, 0) + int(np.count_nonzero(frame))
    return counts


def _anatomic_region(item: pydicom.Dataset) -> dict[str, str] | None:
    regions = item.get("AnatomicRegionSequence")
    return code_of(regions[0]) if regions else None


def _voxel_volume(seg: pydicom.Dataset) -> float:
    """mm3 of one voxel from the shared (else first per-frame) Pixel Measures."""
    for keyword in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        group = seg.get(keyword)
        if group and "PixelMeasuresSequence" in group[0]:
            measures = group[0].PixelMeasuresSequence[0]
            rows, columns = (float(v) for v in measures.PixelSpacing)
            depth = measures.get("SpacingBetweenSlices") or measures.get("SliceThickness")
            if depth is None:
                raise ValueError("the SEG gives neither SpacingBetweenSlices nor SliceThickness")
            return rows * columns * float(depth)
    raise ValueError("the SEG has no Pixel Measures")


def _sr_rows(path: Path, context: dict[str, Any]) -> Rows:
    """Rows of a TID 1500 Measurement Report; other SR templates carry no table data."""
    sr = hd.sr.srread(path)
    rows = empty_rows()
    report = sr.content
    if not isinstance(report, hd.sr.MeasurementReport):
        return rows
    context = {**context, "SOPInstanceUID": str(sr.SOPInstanceUID)}
    for group in report.get_volumetric_roi_measurement_groups():
        _volumetric_rows(group, context, rows)
    for image_group in report.get_image_measurement_groups():
        _image_group_rows(image_group, context, rows)
    return rows


def _volumetric_rows(group: Any, context: dict[str, Any], rows: Rows) -> None:
    """Measurements of a group that references a SEG segment; its qualitative evaluations as findings."""
    segment = group.referenced_segment
    sites = group.finding_sites
    base = {
        **context,
        "source": "SR",
        "trackingIdentifier": group.tracking_identifier,
        "trackingUniqueIdentifier": str(group.tracking_uid) if group.tracking_uid else None,
        "segmentationInstanceUID": str(segment.referenced_sop_instance_uid) if segment is not None else None,
        "segmentationSegmentNumber": int(segment.referenced_segment_numbers[0]) if segment is not None else None,
        "SegmentLabel": None,
        "SegmentedPropertyCategory": code_of(group.finding_category),
        "SegmentedPropertyType": code_of(group.finding_type),
        "SegmentedPropertyTypeModifier": None,
        "findingSite": code_of(sites[0].value) if sites else None,
    }
    for measurement in group.get_measurements():
        value = float(measurement.value)
        if math.isfinite(value):
            rows[TableName.MEASUREMENTS.value].append(
                {**base, "Quantity": code_of(measurement.name), "value": value, "Units": code_of(measurement.unit)}
            )
    _qualitative_rows(group, base, rows)


def _qualitative_rows(group: Any, base: dict[str, Any], rows: Rows) -> None:
    for evaluation in group.get_qualitative_evaluations():
        rows[TableName.FINDINGS.value].append(
            {**base, "Quantity": code_of(evaluation.name), "Value": code_of(evaluation.value)}
        )


def _image_group_rows(group: Any, context: dict[str, Any], rows: Rows) -> None:
    """Coded finding sites of a group attached to source images (BPR regions and landmarks) as findings."""
    images: list[str | None] = [str(i.referenced_sop_instance_uid) for i in group.source_images] or [None]
    base = {
        **context,
        "source": "SR",
        "trackingIdentifier": group.tracking_identifier,
        "trackingUniqueIdentifier": str(group.tracking_uid) if group.tracking_uid else None,
        "Quantity": FINDING_SITE,
    }
    for site in group.finding_sites:
        modifier = site.topographical_modifier
        for image in images:
            rows[TableName.FINDINGS.value].append({
                **base, "referencedSOPInstanceUID": image, "Value": code_of(site.value),
                "Modifier": code_of(modifier) if modifier is not None else None,
            })
    _qualitative_rows(group, {**base, "referencedSOPInstanceUID": images[0]}, rows)
    for measurement in group.get_measurements():
        rows[TableName.MEASUREMENTS.value].append({
            **base, "Quantity": code_of(measurement.name), "value": float(measurement.value),
            "Units": code_of(measurement.unit),
        })


def _bpr_json_rows(path: Path, context: dict[str, Any]) -> Rows:
    """BPR landmark positions (mm on the scan's z axis) from a bpreg JSON document."""
    from mhubio.bpr.scores import BodyPartResult
    from mhubio.sr.bpr import landmark_codes

    result = BodyPartResult.load_json(path)
    table = landmark_codes()
    rows = empty_rows()
    for name, position in sorted(result.landmark_positions.items()):
        landmark = table.get(name)
        rows[TableName.MEASUREMENTS.value].append({
            **context,
            "source": "JSON",
            "trackingIdentifier": name,
            "findingSite": code_of(landmark.finding_site) if landmark else code(name, "99MHUB", name),
            "SegmentedPropertyTypeModifier": code_of(landmark.modifier) if landmark and landmark.modifier else None,
            "Quantity": LANDMARK_Z,
            "value": float(position.expected_z),
            "Units": MILLIMETER,
        })
    return rows


def merge_rows(parts: Iterable[Rows]) -> Rows:
    """Concatenate the rows of several files."""
    merged = empty_rows()
    for part in parts:
        for table, rows in part.items():
            merged[table].extend(rows)
    return merged

