"""Rasterised ROIs of an RT Structure Set -> one DICOM SEG on the image grid (overlapping ROIs allowed).

The SEG is what later steps measure and what SRs reference (a TID 1500 measurement group references a SEG
segment).  Each segment keeps what the ROI says about itself:

- an ROI whose codes are a registry entry gets that entry's codes and label;
- an ROI with other codes gets those codes (category Non-specific Volume when it has none);
- an ROI without codes gets category and type DCM 130046 "Non-specific Volume" (CID 9580, RT Segmentation
  Property Category) and its ROI Name as SegmentLabel: the name stays text, no code is guessed from it.

Segment Algorithm Type follows ROI Generation Algorithm (MANUAL when it is MANUAL or empty); an automatic or
semi-automatic ROI keeps the algorithm of its ROI Derivation Algorithm Identification Sequence, or, without
one, gets name and version "unknown" and the family :data:`FAMILY_NOT_STATED` (the SEG requires a family, and
none of DICOM's is known to be true).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import highdicom as hd
import numpy as np
import pydicom
from highdicom.seg import SegmentAlgorithmTypeValues
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from mhubio import __version__
from mhubio.geometry import sort_datasets
from mhubio.rtstruct.decode import StructureSetRoi
from mhubio.segdb import get_segment, to_segment_description

__all__ = ["FAMILY_NOT_STATED", "NON_SPECIFIC_VOLUME", "RasterisedRoi", "encode_roi_segmentation", "roi_name"]

NON_SPECIFIC_VOLUME = codes.DCM.NonSpecificVolume
"""DCM 130046 "Non-specific Volume": category (and type) of an ROI that carries no code."""

FAMILY_NOT_STATED = Code("not-stated", "99MHUB", "Algorithm family not stated")
"""Private code (``99`` scheme prefix): the algorithm family of an automatic ROI whose structure set does not
identify the algorithm; no family of DICOM CID 7162 is claimed for it."""


@dataclass(frozen=True)
class RasterisedRoi:
    """An ROI and its mask on the grid of the source images (slice, row, column)."""

    roi: StructureSetRoi
    mask: np.ndarray


def roi_name(roi: StructureSetRoi) -> str:
    """How later steps name the ROI: its registry id, else its ROI Name, else ``ROI <number>``."""
    return roi.segment_id or roi.name.strip() or f"ROI {roi.number}"


def _algorithm(roi: StructureSetRoi, identification: pydicom.Dataset | None) -> tuple[
        SegmentAlgorithmTypeValues, hd.AlgorithmIdentificationSequence | None]:
    if roi.generation_algorithm not in ("AUTOMATIC", "SEMIAUTOMATIC"):
        return SegmentAlgorithmTypeValues.MANUAL, None
    kind = SegmentAlgorithmTypeValues(roi.generation_algorithm)
    if identification is not None and identification.get("AlgorithmFamilyCodeSequence"):
        family = identification.AlgorithmFamilyCodeSequence[0]
        return kind, hd.AlgorithmIdentificationSequence(
            name=str(identification.get("AlgorithmName", "") or "unknown"),
            family=Code(str(family.CodeValue), str(family.CodingSchemeDesignator), str(family.CodeMeaning)),
            version=str(identification.get("AlgorithmVersion", "") or "unknown"),
        )
    return kind, hd.AlgorithmIdentificationSequence(name="unknown", family=FAMILY_NOT_STATED, version="unknown")


def _description(
    roi: StructureSetRoi, number: int, identification: pydicom.Dataset | None
) -> hd.seg.SegmentDescription:
    kind, algorithm = _algorithm(roi, identification)
    if roi.segment_id is not None:
        description = to_segment_description(get_segment(roi.segment_id), number, algorithm, kind)
        if roi.color is not None:
            description.RecommendedDisplayCIELabValue = list(hd.color.CIELabColor.from_rgb(*roi.color).value)
        return description
    category = (roi.codes.category if roi.codes is not None else None) or NON_SPECIFIC_VOLUME
    description = hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=roi_name(roi)[:64],
        segmented_property_category=category,
        segmented_property_type=roi.codes.type if roi.codes is not None else NON_SPECIFIC_VOLUME,
        algorithm_type=kind,
        algorithm_identification=algorithm,
        display_color=hd.color.CIELabColor.from_rgb(*roi.color) if roi.color is not None else None,
    )
    if roi.codes is not None and roi.codes.modifier is not None:
        description.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence = [
            hd.sr.CodedConcept.from_code(roi.codes.modifier)
        ]
    return description


def encode_roi_segmentation(
    rois: Sequence[RasterisedRoi],
    source_images: Sequence[pydicom.Dataset],
    structure_set: pydicom.Dataset,
    *,
    series_number: int = 904,
) -> tuple[hd.seg.Segmentation, dict[int, str]]:
    """A BINARY SEG with one segment per ROI (in the given order) and SegmentNumber -> :func:`roi_name`.

    Raises
    ------
    ValueError
        If no ROI is given or a mask does not have the grid's shape.
    """
    if not rois:
        raise ValueError("no ROI to encode")
    sources = sort_datasets(source_images)
    identifications = {
        int(item.ROINumber): (item.get("ROIDerivationAlgorithmIdentificationSequence") or [None])[0]
        for item in structure_set.get("StructureSetROISequence") or []
    }
    descriptions = [
        _description(r.roi, number, identifications.get(r.roi.number)) for number, r in enumerate(rois, start=1)
    ]
    pixels = np.stack([r.mask for r in rois], axis=-1)
    label = str(structure_set.get("StructureSetLabel", "") or "RTSTRUCT")
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="MHub",
        manufacturer_model_name="mhubio RT Structure Set rasterisation",
        software_versions=f"mhubio {__version__}",
        device_serial_number="0",
        content_description=f"ROIs of RT Structure Set {label}"[:64],
        content_label="RTSTRUCT",
        series_description=f"ROIs of RT Structure Set {label}"[:64],
        omit_empty_frames=True,
    )
    return seg, {number: roi_name(r.roi) for number, r in enumerate(rois, start=1)}
