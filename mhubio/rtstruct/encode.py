"""Label map -> DICOM RT Structure Set referencing the source image series.

One ROI per non-empty label, named and coloured from the segment registry, with its codes in the RT ROI
Observations (Segmented Property Category Code Sequence, RT ROI Identification Code Sequence with the type
modifier), contours per slice in patient coordinates (:mod:`mhubio.rtstruct.contours`), each contour
referencing the image it lies on, and the referenced frame of reference, study and series.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import highdicom as hd
import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sr.coding import Code
from pydicom.tag import BaseTag, Tag
from pydicom.uid import ImplicitVRLittleEndian, RTStructureSetStorage

from mhubio import __version__
from mhubio.core.data import AlgorithmInfo
from mhubio.geometry import reference_image, resample_labels, sort_datasets
from mhubio.rtstruct.contours import mask_to_contours
from mhubio.segdb import SegmentDefinition, get_segment
from mhubio.sr.segments import ANATOMIC_CATEGORIES

__all__ = ["EmptyStructureSetError", "RtstructOptions", "RtstructResult", "encode_rtstruct"]

STUDY_COMPONENT_SOP_CLASS = "1.2.840.10008.3.1.2.3.1"
"""Referenced SOP Class UID of the RT Referenced Study Sequence item (Detached Study Management, as required
by the RT Structure Set IOD)."""

_PATIENT_STUDY_KEYWORDS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate", "StudyTime",
    "ReferringPhysicianName", "StudyID", "AccessionNumber", "StudyDescription",
)
_CONTOUR_DATA = Tag("ContourData")
_TYPE2_KEYWORDS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                   "ReferringPhysicianName", "StudyID", "AccessionNumber")


class EmptyStructureSetError(ValueError):
    """Every label of the label map is empty: no ROI to encode."""


@dataclass(frozen=True)
class RtstructOptions:
    """Descriptive options of an RT Structure Set.

    Parameters
    ----------
    series_description
        SeriesDescription and StructureSetName (64 characters at most).
    series_number
        SeriesNumber.
    label
        StructureSetLabel (16 characters at most).
    manufacturer
        Manufacturer of the equipment module.
    """

    series_description: str = "Structure set"
    series_number: int = 903
    label: str = "MHUB"
    manufacturer: str = "MHub"

    def __post_init__(self) -> None:
        if not self.series_description.strip() or len(self.series_description) > 64:
            raise ValueError("series_description must be 1 to 64 characters (DICOM LO)")
        if not self.label.strip() or len(self.label) > 16:
            raise ValueError("label must be 1 to 16 characters (DICOM SH)")
        if not 0 <= self.series_number < 2**31:
            raise ValueError(f"series_number must be a non-negative 32-bit integer, got {self.series_number}")


@dataclass
class RtstructResult:
    """The encoded structure set and how label values became ROI numbers."""

    dataset: Dataset
    roi_numbers: dict[int, int] = field(default_factory=dict)
    """Label value -> ROINumber (empty labels are absent)."""
    dropped: list[str] = field(default_factory=list)
    """Segment ids left out because they have no voxel."""


def encode_rtstruct(
    labels: sitk.Image,
    source_images: Sequence[pydicom.Dataset],
    segments: Mapping[int, str],
    algorithm: AlgorithmInfo,
    options: RtstructOptions = RtstructOptions(),
) -> RtstructResult:
    """Encode a label map as an RT Structure Set referencing ``source_images``.

    Parameters
    ----------
    labels
        Integer label map in patient space; resampled (nearest neighbour) onto the source grid when its
        geometry differs.
    source_images
        Single-frame source slices of one series (headers suffice).
    segments
        Label value -> segment id of :mod:`mhubio.segdb`.
    algorithm
        The algorithm that made the label map: ROI Generation Algorithm (its type) and Description, and ROI
        Derivation Algorithm Identification when it states a family.
    options
        Series description, number and structure set label.

    Raises
    ------
    ValueError
        If the label map holds values without a segment id.
    EmptyStructureSetError
        If no label has a voxel.
    """
    sources = sort_datasets(source_images)
    grid = reference_image(sources)
    array = sitk.GetArrayFromImage(resample_labels(labels, grid))
    present = {int(v) for v in np.unique(array)} - {0}
    unmapped = sorted(present - set(segments))
    if unmapped:
        raise ValueError(f"label values {unmapped} occur in the label map but have no segment id")
    kept = [v for v in sorted(segments) if v in present]
    dropped = [segments[v] for v in sorted(segments) if v not in present]
    if not kept:
        raise EmptyStructureSetError(f"all segments are empty ({', '.join(dropped)})")
    dataset = _document(sources, options, algorithm)
    frame_of_reference = str(sources[0].FrameOfReferenceUID)
    family = algorithm.family.code if algorithm.family is not None else None
    numbers = {value: number for number, value in enumerate(kept, start=1)}
    for value in kept:
        definition = get_segment(segments[value])
        number = numbers[value]
        dataset.StructureSetROISequence.append(
            _structure_set_roi(number, definition, frame_of_reference, algorithm, family))
        dataset.ROIContourSequence.append(_roi_contour(number, definition, array == value, grid, sources))
        dataset.RTROIObservationsSequence.append(_observation(number, definition))
    return RtstructResult(dataset, numbers, dropped)


def _document(sources: Sequence[pydicom.Dataset], options: RtstructOptions, algorithm: AlgorithmInfo) -> Dataset:
    first = sources[0]
    now = datetime.datetime.now()
    sop_instance_uid = hd.UID()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RTStructureSetStorage
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    # Implicit VR: a contour's Contour Data easily exceeds the 64 kB that explicit VR allows a DS value
    meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = RTStructureSetStorage
    ds.SOPInstanceUID = sop_instance_uid
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    for keyword in _PATIENT_STUDY_KEYWORDS:
        if keyword in first:
            setattr(ds, keyword, first[keyword].value)
        elif keyword in _TYPE2_KEYWORDS:
            setattr(ds, keyword, None)
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = hd.UID()
    ds.SeriesNumber = options.series_number
    ds.SeriesDescription = options.series_description
    ds.SeriesDate, ds.SeriesTime = ds.InstanceCreationDate, ds.InstanceCreationTime
    ds.OperatorsName = None
    ds.Manufacturer = options.manufacturer
    ds.ManufacturerModelName = algorithm.name[:64]
    ds.SoftwareVersions = f"mhubio {__version__}"
    ds.InstanceNumber = 1
    ds.StructureSetLabel = options.label
    ds.StructureSetName = options.series_description
    ds.StructureSetDate, ds.StructureSetTime = ds.InstanceCreationDate, ds.InstanceCreationTime
    ds.FrameOfReferenceUID = first.FrameOfReferenceUID
    ds.PositionReferenceIndicator = first.get("PositionReferenceIndicator")
    ds.ReferencedFrameOfReferenceSequence = [_referenced_frame_of_reference(sources)]
    ds.StructureSetROISequence = []
    ds.ROIContourSequence = []
    ds.RTROIObservationsSequence = []
    return ds


def _image_reference(image: pydicom.Dataset) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = image.SOPClassUID
    item.ReferencedSOPInstanceUID = image.SOPInstanceUID
    return item


def _referenced_frame_of_reference(sources: Sequence[pydicom.Dataset]) -> Dataset:
    series = Dataset()
    series.SeriesInstanceUID = sources[0].SeriesInstanceUID
    series.ContourImageSequence = [_image_reference(image) for image in sources]
    study = Dataset()
    study.ReferencedSOPClassUID = STUDY_COMPONENT_SOP_CLASS
    study.ReferencedSOPInstanceUID = sources[0].StudyInstanceUID
    study.RTReferencedSeriesSequence = [series]
    frame = Dataset()
    frame.FrameOfReferenceUID = sources[0].FrameOfReferenceUID
    frame.RTReferencedStudySequence = [study]
    return frame


def _code_item(code: Code) -> Dataset:
    return hd.sr.CodedConcept.from_code(code)


def _structure_set_roi(
    number: int, definition: SegmentDefinition, frame_of_reference: str, algorithm: AlgorithmInfo,
    family: Code | None,
) -> Dataset:
    roi = Dataset()
    roi.ROINumber = number
    roi.ReferencedFrameOfReferenceUID = frame_of_reference
    roi.ROIName = definition.label
    roi.ROIGenerationAlgorithm = algorithm.type.value  # the same defined terms as Segment Algorithm Type
    roi.ROIGenerationDescription = f"{algorithm.name} {algorithm.version}"[:64]
    if family is None:
        return roi
    identification = Dataset()
    identification.AlgorithmFamilyCodeSequence = [_code_item(family)]
    identification.AlgorithmName = algorithm.name[:64]
    identification.AlgorithmVersion = algorithm.version[:64]
    roi.ROIDerivationAlgorithmIdentificationSequence = [identification]
    return roi


def _roi_contour(
    number: int, definition: SegmentDefinition, mask: np.ndarray, grid: sitk.Image, sources: Sequence[pydicom.Dataset]
) -> Dataset:
    item = Dataset()
    item.ReferencedROINumber = number
    item.ROIDisplayColor = list(definition.color)
    item.ContourSequence = []
    for contour_number, contour in enumerate(mask_to_contours(mask, grid), start=1):
        entry = Dataset()
        entry.ContourNumber = contour_number
        entry.ContourImageSequence = [_image_reference(sources[contour.slice_index])]
        entry.ContourGeometricType = "CLOSED_PLANAR"
        entry.NumberOfContourPoints = len(contour.points)
        entry[_CONTOUR_DATA] = _decimal_strings(_CONTOUR_DATA, contour.points.ravel())
        item.ContourSequence.append(entry)
    return item


def _decimal_strings(tag: BaseTag, values: np.ndarray) -> RawDataElement:
    """A DS element holding ``values`` with 4 decimals (0.1 micrometre), kept encoded.

    A contour has thousands of values; pydicom validates every DS value it is given one by one (about 25 us
    each, minutes for a structure set), while the encoded text is the same and valid by construction.
    """
    text = "\\".join(f"{value:.4f}" for value in values)
    encoded = (text + " " * (len(text) % 2)).encode("ascii")
    return RawDataElement(tag, "DS", len(encoded), encoded, 0, True, True)


def _observation(number: int, definition: SegmentDefinition) -> Dataset:
    observation = Dataset()
    observation.ObservationNumber = number
    observation.ReferencedROINumber = number
    category = (definition.category.scheme_designator, definition.category.value)
    observation.RTROIInterpretedType = "ORGAN" if category in ANATOMIC_CATEGORIES else ""
    observation.ROIInterpreter = None
    observation.SegmentedPropertyCategoryCodeSequence = [_code_item(definition.category)]
    identification = _code_item(definition.type)
    if definition.modifier is not None:
        identification.SegmentedPropertyTypeModifierCodeSequence = [_code_item(definition.modifier)]
    observation.RTROIIdentificationCodeSequence = [identification]
    return observation
