"""Turn registry definitions into highdicom SEG segment descriptions."""

from __future__ import annotations

import highdicom as hd

from mhubio.segdb.definition import SegmentDefinition

__all__ = ["to_segment_description"]


def to_segment_description(
    definition: SegmentDefinition,
    segment_number: int,
    algorithm_identification: hd.AlgorithmIdentificationSequence | None,
    algorithm_type: hd.seg.SegmentAlgorithmTypeValues | str = (
        hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC
    ),
) -> hd.seg.SegmentDescription:
    """Build the Segment Description macro item for one segment.

    highdicom 0.28 :class:`highdicom.seg.SegmentDescription` takes
    ``segmented_property_category``, ``segmented_property_type`` and
    ``anatomic_regions`` but has no parameter for modifiers. In DICOM the
    modifiers are nested sequences, so they are added to the created items:

    - Segmented Property Type Modifier Code Sequence (0062,0011) inside the
      single item of Segmented Property Type Code Sequence (0062,000F), e.g.
      laterality SCT 7771000 "Left" for a left kidney;
    - Anatomic Region Modifier Sequence (0008,2220) inside the item of
      Anatomic Region Sequence (0008,2218), e.g. "Bilateral" for a nodule
      in the lungs.

    The RGB colour becomes Recommended Display CIELab Value (0062,000D).

    Parameters
    ----------
    definition: SegmentDefinition
        Registry entry to encode.
    segment_number: int
        Segment Number (1-based, consecutive within one SEG).
    algorithm_identification: highdicom.AlgorithmIdentificationSequence | None
        Algorithm name, version and family; required unless the algorithm
        type is MANUAL.
    algorithm_type: highdicom.seg.SegmentAlgorithmTypeValues | str, optional
        Segment Algorithm Type, AUTOMATIC by default.

    Returns
    -------
    highdicom.seg.SegmentDescription
        Item for the Segment Sequence of a highdicom Segmentation.
    """
    description = hd.seg.SegmentDescription(
        segment_number=segment_number,
        segment_label=definition.label,
        segmented_property_category=definition.category,
        segmented_property_type=definition.type,
        algorithm_type=algorithm_type,
        algorithm_identification=algorithm_identification,
        anatomic_regions=(
            [definition.anatomic_region] if definition.anatomic_region is not None else None
        ),
        display_color=hd.color.CIELabColor.from_rgb(*definition.color),
    )
    if definition.modifier is not None:
        type_item = description.SegmentedPropertyTypeCodeSequence[0]
        type_item.SegmentedPropertyTypeModifierCodeSequence = [
            hd.sr.CodedConcept.from_code(definition.modifier)
        ]
    if definition.anatomic_region_modifier is not None:
        description.AnatomicRegionSequence[0].AnatomicRegionModifierSequence = [
            hd.sr.CodedConcept.from_code(definition.anatomic_region_modifier)
        ]
    return description
