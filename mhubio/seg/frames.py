"""Frames of a SEG over single-frame sources, built once per plane instead of once per (segment, plane).

highdicom builds the SEG's frame-independent modules and the Per-Frame Functional Groups items of two planes (a
*probe* segmentation over one-pixel copies of the first and the last source plane); this module then assembles the
SEG of all planes: pydicom encodes the first item, the item of every plane is spliced from its bytes with that
plane's source references and position (checked against highdicom's item of the last plane), the frame-specific
values (segment dimension index, Referenced Segment Number) are set in the encoded bytes, the references to all
source images and the values that depend on every plane (spacing between slices, dimension organization) are set
as highdicom sets them, and the pixel data is packed from whole planes with numpy (BINARY) or copied from them
(LABELMAP). The result reads back exactly as highdicom's own encoding of the same label map.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import highdicom as hd
import numpy as np
import pydicom
from highdicom.spatial import VOLUME_INDEX_CONVENTION, get_normal_vector, get_volume_positions
from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import correct_ambiguous_vr, write_data_element, write_sequence_item
from pydicom.multival import MultiValue
from pydicom.tag import Tag
from pydicom.valuerep import DS, format_number_as_ds

from mhubio.core.threads import compute_threads
from mhubio.dicom.frames import is_multi_frame

SOP_CLASS_UID = 0x00080016
SOP_INSTANCE_UID = 0x00080018
REFERENCED_INSTANCE_SEQUENCE = 0x0008114A
REFERENCED_SOP_CLASS_UID = 0x00081150
REFERENCED_SOP_INSTANCE_UID = 0x00081155
SOURCE_IMAGE_SEQUENCE = 0x00082112
SPACING_BETWEEN_SLICES = 0x00180088
IMAGE_POSITION_PATIENT = 0x00200032
ROWS = 0x00280010
COLUMNS = 0x00280011
SEGMENT_IDENTIFICATION = 0x0062000A
REFERENCED_SEGMENT_NUMBER = 0x0062000B
PER_FRAME_FUNCTIONAL_GROUPS = Tag(0x5200, 0x9230)

_SEGMENT_SENTINEL = 0xFEFDFCFB
"""Placeholder of the segment dimension index (UL) in an encoded item template; its bytes occur nowhere else."""
_PLANE_SENTINEL = 0xF4F3F2F1
"""Placeholder of the plane dimension index (UL): the plane's rank among the planes that have frames."""
_NUMBER_SENTINEL = 0xFAF9
"""Placeholder of Referenced Segment Number (US)."""
_ITEM = struct.pack("<HH", 0xFFFE, 0xE000)
"""The item tag, little endian."""
_LONG_LENGTH_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT",
                               b"UV"})
"""Explicit VR little endian: the VRs whose value length takes 4 bytes (after 2 reserved bytes)."""
_VOXELS_PER_THREAD = 4_000_000
"""Fewest voxels per thread of :func:`plane_label_presence` (below it a thread costs more than it saves)."""


@dataclass(frozen=True)
class _ItemTemplate:
    """One plane's encoded Per-Frame Functional Groups item and where its frame-specific values sit."""

    data: bytes
    plane_offset: int
    segment_offset: int | None
    number_offset: int | None

    def for_frame(self, plane_rank: int, segment_number: int | None = None) -> bytes:
        """The item of the frame of segment ``segment_number`` on the plane ranked ``plane_rank`` (from 1)."""
        item = bytearray(self.data)
        item[self.plane_offset:self.plane_offset + 4] = struct.pack("<I", plane_rank)
        if self.segment_offset is not None and self.number_offset is not None and segment_number is not None:
            item[self.segment_offset:self.segment_offset + 4] = struct.pack("<I", segment_number)
            item[self.number_offset:self.number_offset + 2] = struct.pack("<H", segment_number)
        return bytes(item)


@dataclass(frozen=True)
class PlaneLabels:
    """A label map on the sources' grid with the label values of each plane and its segment numbering."""

    values: np.ndarray
    """Label values, one plane per source image."""
    presence: np.ndarray
    """Whether each label value occurs in each plane (planes x values), from :func:`plane_label_presence`."""
    numbers: np.ndarray
    """Label value -> segment number (0 = background)."""

    def segment_numbers(self) -> np.ndarray:
        """The label map with segment numbers as values (see :func:`as_segment_numbers`)."""
        return as_segment_numbers(self.values, self.numbers, np.flatnonzero(self.presence.any(axis=0)).tolist())

    def segment_planes(self, number: int) -> np.ndarray:
        """Whether each plane holds segment ``number``."""
        values = np.flatnonzero(self.numbers[:self.presence.shape[1]] == number)
        return np.asarray(self.presence[:, values].any(axis=1))


def as_segment_numbers(values: np.ndarray, numbers: np.ndarray, present: Iterable[int]) -> np.ndarray:
    """``values`` mapped through the look-up table ``numbers`` (label value -> segment number); ``values`` itself
    where every label value ``present`` in it is its own segment number."""
    if values.dtype == numbers.dtype and all(int(numbers[value]) == value for value in present):
        return values
    return numbers[values]


def plane_label_presence(labels: np.ndarray) -> np.ndarray | None:
    """Whether each label value occurs in each plane (planes x values); ``None`` unless ``labels`` holds
    non-negative integers below 2**16."""
    if labels.dtype.kind not in "ui" or labels.size == 0:
        return None
    top = int(labels.max())
    if top >= 2**16 or int(labels.min()) < 0:
        return None
    presence = np.zeros((len(labels), top + 1), dtype=bool)

    def mark(planes: range) -> None:
        for index in planes:
            presence[index, labels[index].ravel()] = True

    # numpy's fancy assignment runs without the GIL: threads over disjoint plane ranges share the work
    threads = min(compute_threads(), max(1, labels.size // _VOXELS_PER_THREAD))
    if threads == 1:
        mark(range(len(labels)))
    else:
        bounds = np.linspace(0, len(labels), threads + 1).astype(int).tolist()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(mark, [range(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]))
    return presence


class FramesNotAssembled(RuntimeError):
    """The per-frame items could not be spliced from the probe's (the caller lets highdicom encode the SEG)."""


@dataclass(frozen=True)
class SourcePlanes:
    """Single-frame source images of one series, laid out as highdicom lays them out in a SEG.

    Build it with :meth:`of`, which also checks what highdicom checks of such sources (one study, series,
    frame of reference, matrix size and orientation; distinct planes).
    """

    sources: Sequence[pydicom.Dataset]
    """The source images, in the order given to highdicom."""
    positions: np.ndarray
    """Image Position (Patient) of each source, in source order."""
    order: np.ndarray
    """Source index of each plane, in highdicom's plane order (ascending distance along the plane normal)."""
    orientation: Sequence[float]
    """Image Orientation (Patient) as highdicom writes it."""

    @classmethod
    def of(cls, sources: Sequence[pydicom.Dataset]) -> SourcePlanes | None:
        """The planes of ``sources``; ``None`` unless they are single-frame images of one series, study, frame
        of reference, matrix size and orientation, on distinct planes (highdicom encodes or refuses others)."""
        first = sources[0]
        try:
            key = _plane_key(first)
            if key[-1] is None or any(_plane_key(source) != key for source in sources[1:]):
                return None
            # highdicom's positions: the sources' values (the DS strings it writes are formatted anew)
            positions = np.array([[float(value) for value in source.ImagePositionPatient] for source in sources])
        except (AttributeError, KeyError, TypeError, ValueError):
            return None
        if positions.shape != (len(sources), 3):
            return None
        orientation = hd.PlaneOrientationSequence(hd.CoordinateSystemNames.PATIENT, first.ImageOrientationPatient)[0]
        normal = get_normal_vector(orientation.ImageOrientationPatient, index_convention=VOLUME_INDEX_CONVENTION)
        _, order = np.unique((normal[None] @ positions.T).squeeze(0), return_index=True)
        if len(order) != len(sources):
            return None
        return cls(sources, positions, order, list(orientation.ImageOrientationPatient))

    def probed(self) -> list[pydicom.Dataset]:
        """The sources the probe segmentation is built on: the first and the last plane, as planes of one pixel
        (Rows and Columns 1).

        The copies share the sources' other elements, which stay untouched; on one-pixel planes highdicom builds
        the probe without scanning or encoding a full-size pixel array (:func:`assemble_frames` sets the real
        size and adds the other planes).
        """
        return [_one_pixel(self.sources[index]) for index in dict.fromkeys([int(self.order[0]), int(self.order[-1])])]

    def plane_elements(self, index: int) -> list[bytes]:
        """The encoded elements of source ``index``'s per-frame item that differ between planes, as highdicom
        sets them: the source's SOP Class and Instance UIDs and its plane position."""
        source = self.sources[index]
        elements = [
            DataElement(REFERENCED_SOP_CLASS_UID, "UI", source[SOP_CLASS_UID].value),
            DataElement(REFERENCED_SOP_INSTANCE_UID, "UI", source[SOP_INSTANCE_UID].value),
            DataElement(IMAGE_POSITION_PATIENT, "DS", [DS(v, auto_format=True) for v in source.ImagePositionPatient]),
        ]
        encoded = []
        for element in elements:
            buffer = _explicit_little_endian()
            write_data_element(buffer, element)
            encoded.append(buffer.getvalue())
        return encoded


def _one_pixel(source: pydicom.Dataset) -> pydicom.Dataset:
    """A copy of ``source`` with Rows and Columns 1, sharing its other elements."""
    probe = pydicom.Dataset(dict(source.items()))
    probe[ROWS] = DataElement(ROWS, "US", 1)
    probe[COLUMNS] = DataElement(COLUMNS, "US", 1)
    return probe


def _plane_key(source: pydicom.Dataset) -> tuple[object, ...]:
    """What highdicom requires to be equal for the sources of one SEG, orientation and frame of reference last."""
    if is_multi_frame(source):
        raise ValueError("a multi-frame image")
    return (source.StudyInstanceUID, source.SeriesInstanceUID, source.Rows, source.Columns,
            tuple(source.ImageOrientationPatient), source.get("FrameOfReferenceUID"))


def probe_array(planes: int, dtype: np.dtype) -> np.ndarray:
    """A label array of one-pixel planes, all segment 1, over :meth:`SourcePlanes.probed` (one frame per plane)."""
    return np.ones((planes, 1, 1), dtype=dtype)


def assemble_frames(
    probe: hd.seg.Segmentation,
    planes: SourcePlanes,
    labels: PlaneLabels,
    descriptions: Sequence[hd.seg.SegmentDescription],
) -> pydicom.Dataset:
    """The SEG of ``labels`` from the ``probe`` segmentation highdicom built on the same sources.

    Parameters
    ----------
    probe
        highdicom's segmentation of :func:`probe_array` over :meth:`SourcePlanes.probed` of ``planes``: BINARY
        with the first of ``descriptions``, or LABELMAP with all of them.
    planes
        The single-frame source images (the label planes' order).
    labels
        The label map, one plane per source image, with at least one labelled pixel.
    descriptions
        The segment descriptions, numbered 1..n in order.

    Returns
    -------
    pydicom.Dataset
        The segmentation (a plain dataset: highdicom's query methods need it read with ``hd.seg.segread``).

    Raises
    ------
    FramesNotAssembled
        If the per-frame items cannot be spliced from the probe's.
    """
    labelmap = probe.SegmentationType == hd.seg.SegmentationTypeValues.LABELMAP.value
    if not labelmap and probe.SegmentationType != hd.seg.SegmentationTypeValues.BINARY.value:
        raise ValueError("frames are assembled for BINARY and LABELMAP segmentations only")
    # a LABELMAP's frames are planes, with the segments as pixel values: its items are those of one segment
    multi_segment = len(descriptions) > 1 and not labelmap
    nonempty = np.asarray(labels.presence[:, 1:].any(axis=1))
    if not nonempty.any():
        raise ValueError("the label map has no labelled pixels (highdicom then encodes every frame)")
    elements = [planes.plane_elements(index) for index in range(len(planes.sources))]
    order = planes.order.tolist()
    templates = _item_templates(probe.PerFrameFunctionalGroupsSequence, [elements[i] for i in order], multi_segment)
    dataset = pydicom.Dataset(probe)
    dataset.file_meta = probe.file_meta
    dataset[ROWS] = DataElement(ROWS, "US", labels.values.shape[1])
    dataset[COLUMNS] = DataElement(COLUMNS, "US", labels.values.shape[2])
    dataset.preamble = probe.preamble  # so that a plain save_as() writes a DICOM file, as it does for highdicom's
    if multi_segment:
        dataset.SegmentSequence = list(descriptions)
        del dataset.SharedFunctionalGroupsSequence[0].SegmentIdentificationSequence
    _set_plane_values(dataset, planes, elements, nonempty, multi_segment)
    ranks = np.cumsum(nonempty[order])
    if labelmap:
        items, pixel_data = _labelmap_frames(labels, order, ranks, templates, nonempty)
    else:
        items, pixel_data = _binary_frames(labels, order, ranks, templates, len(descriptions))
    dataset.NumberOfFrames = len(items)
    dataset.PixelData = pixel_data + b"\x00" * (len(pixel_data) % 2)
    # Ambiguous VRs (Pixel Data's OB or OW among them) are settled now, and the dataset is marked as encoded
    # in explicit VR little endian, so that writing it in that transfer syntax copies the per-frame items'
    # bytes instead of decoding and re-encoding them.
    correct_ambiguous_vr(dataset, is_little_endian=True)
    dataset[PER_FRAME_FUNCTIONAL_GROUPS] = _raw_sequence(PER_FRAME_FUNCTIONAL_GROUPS, items)
    charset = dataset.get("SpecificCharacterSet")
    encodings = convert_encodings(charset) if charset else default_encoding
    for encoded in (dataset, dataset.ReferencedSeriesSequence[0]):
        encoded.set_original_encoding(False, True, encodings)
    return dataset


def _raw_sequence(tag: int, items: Sequence[bytes]) -> RawDataElement:
    """A sequence of ``items``, each encoded in explicit VR little endian (item tag and length included)."""
    value = b"".join(items)
    return RawDataElement(Tag(tag), "SQ", len(value), value, 0, False, True)


def _set_plane_values(dataset: pydicom.Dataset, planes: SourcePlanes, elements: Sequence[Sequence[bytes]],
                      nonempty: np.ndarray, multi_segment: bool) -> None:
    """The values that depend on every plane, as highdicom sets them: the references to all source images (from
    the planes' encoded :meth:`SourcePlanes.plane_elements`), Spacing Between Slices (unless the first source
    states it) and Dimension Organization Type, ``3D`` when the frames differ only by position and the planes
    with frames are regularly spaced."""
    references = []
    for class_uid, instance_uid, *_ in elements:
        body = class_uid + instance_uid
        references.append(_ITEM + struct.pack("<I", len(body)) + body)
    dataset[SOURCE_IMAGE_SEQUENCE] = _raw_sequence(SOURCE_IMAGE_SEQUENCE, references)
    series = dataset.ReferencedSeriesSequence[0]
    series[REFERENCED_INSTANCE_SEQUENCE] = _raw_sequence(REFERENCED_INSTANCE_SEQUENCE, references)
    measures = dataset.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
    if planes.sources[0].get("SpacingBetweenSlices") is None:
        spacing, _ = get_volume_positions(image_positions=planes.positions.tolist(),
                                          image_orientation=planes.orientation)
        if spacing is not None:
            measures[SPACING_BETWEEN_SLICES] = DataElement(SPACING_BETWEEN_SLICES, "DS",
                                                           format_number_as_ds(spacing))
        elif SPACING_BETWEEN_SLICES in measures:
            del measures[SPACING_BETWEEN_SLICES]
    included = planes.order[nonempty[planes.order]]
    spacing = None
    if not multi_segment and len(included) > 1:
        spacing, _ = get_volume_positions(image_positions=planes.positions[included].tolist(),
                                          image_orientation=planes.orientation, sort=False)
    if spacing is not None and spacing > 0.0:
        dataset.DimensionOrganizationType = hd.DimensionOrganizationTypeValues.THREE_DIMENSIONAL.value
    elif "DimensionOrganizationType" in dataset:
        del dataset.DimensionOrganizationType


def _encode_item(item: pydicom.Dataset, multi_segment: bool) -> _ItemTemplate:
    """Encode ``item`` (explicit VR little endian) with placeholders for its frame-specific values."""
    content = item.FrameContentSequence[0]
    values = content.DimensionIndexValues
    leading = list(values)[:-1] if isinstance(values, MultiValue) else []
    content.DimensionIndexValues = [_SEGMENT_SENTINEL, _PLANE_SENTINEL] if multi_segment else [
        *leading, _PLANE_SENTINEL]
    if multi_segment:
        identification = pydicom.Dataset()
        identification.add(DataElement(REFERENCED_SEGMENT_NUMBER, "US", _NUMBER_SENTINEL))
        item.add(DataElement(SEGMENT_IDENTIFICATION, "SQ", [identification]))
    buffer = _explicit_little_endian()
    write_sequence_item(buffer, item, ["iso8859"])
    data = buffer.getvalue()
    plane_offset = _offset(data, struct.pack("<I", _PLANE_SENTINEL))
    if not multi_segment:
        return _ItemTemplate(data, plane_offset, None, None)
    return _ItemTemplate(data, plane_offset, _offset(data, struct.pack("<I", _SEGMENT_SENTINEL)),
                         _offset(data, struct.pack("<H", _NUMBER_SENTINEL)))


def _item_templates(
    probe_items: Sequence[pydicom.Dataset], variable: Sequence[Sequence[bytes]], multi_segment: bool
) -> list[_ItemTemplate]:
    """The encoded item of every plane, in highdicom's plane order: the probe's item of the first plane encoded
    by pydicom, and every other plane's spliced from it with its own ``variable`` elements (its
    :meth:`SourcePlanes.plane_elements`: source reference and position), the lengths of the sequences and items
    around those set to match.

    Every item has the same elements; only the source image's UIDs and the plane position differ. The splice is
    checked against pydicom's encoding of the probe's item of the last plane.

    Raises
    ------
    FramesNotAssembled
        If the item's encoding has an undefined length, a value to replace occurs more than once in it, or the
        spliced item of the last plane differs from the probe's.
    """
    first = _encode_item(probe_items[0], multi_segment)
    lengths = _length_fields(first.data)
    if lengths is None or any(first.data.count(value) != 1 for value in variable[0]):
        raise FramesNotAssembled("the first per-frame item cannot be spliced")
    slots = [(first.data.index(value), len(value)) for value in variable[0]]
    order = sorted(range(len(slots)), key=lambda k: slots[k][0])
    slots = [slots[k] for k in order]
    templates = [first, *(_splice(first, lengths, slots, [values[k] for k in order]) for values in variable[1:])]
    if len(probe_items) != min(2, len(templates)) or (
            len(templates) > 1 and templates[-1] != _encode_item(probe_items[-1], multi_segment)):
        raise FramesNotAssembled("the spliced per-frame item of the last plane differs from highdicom's")
    return templates


def _explicit_little_endian() -> DicomBytesIO:
    """An empty buffer to encode in explicit VR little endian."""
    buffer = DicomBytesIO()
    buffer.is_little_endian = True
    buffer.is_implicit_VR = False
    return buffer


def _splice(
    template: _ItemTemplate, lengths: Sequence[tuple[int, int, int]], slots: Sequence[tuple[int, int]],
    values: Sequence[bytes],
) -> _ItemTemplate:
    """``template`` with the bytes of each ``(start, length)`` slot, in ascending order, replaced by ``values``,
    and each length of :func:`_length_fields` grown by the growth of the slots inside its value."""
    pieces: list[bytes] = []
    shifts: list[tuple[int, int]] = []
    end = 0
    for (start, length), value in zip(slots, values, strict=True):
        pieces += [template.data[end:start], value]
        shifts.append((start, len(value) - length))
        end = start + length
    pieces.append(template.data[end:])
    data = bytearray(b"".join(pieces))

    def moved(offset: int) -> int:
        return offset + sum(delta for start, delta in shifts if start < offset)

    for length_at, value_start, value_end in lengths:
        growth = sum(delta for start, delta in shifts if value_start <= start < value_end)
        if growth:
            old = struct.unpack_from("<I", template.data, length_at)[0]
            struct.pack_into("<I", data, moved(length_at), old + growth)
    return _ItemTemplate(
        bytes(data), moved(template.plane_offset),
        None if template.segment_offset is None else moved(template.segment_offset),
        None if template.number_offset is None else moved(template.number_offset),
    )


def _length_fields(data: bytes) -> list[tuple[int, int, int]] | None:
    """Where the lengths of the item encoded in ``data`` and of every sequence and item inside it are stored:
    ``(offset of the 4-byte length, start, end of the value)``; ``None`` if one has undefined length.

    ``data`` is one item as pydicom writes it in explicit VR little endian (defined lengths throughout).
    """
    fields: list[tuple[int, int, int]] = []

    def walk(position: int, end: int, items: bool) -> bool:
        while position < end:
            if items:
                length_at, value_at = position + 4, position + 8
            elif data[position + 4:position + 6] in _LONG_LENGTH_VRS:
                length_at, value_at = position + 8, position + 12
            else:
                position += 8 + struct.unpack_from("<H", data, position + 6)[0]
                continue
            length = struct.unpack_from("<I", data, length_at)[0]
            if length == 0xFFFFFFFF:
                return False
            if items or data[position + 4:position + 6] == b"SQ":
                fields.append((length_at, value_at, value_at + length))
                if not walk(value_at, value_at + length, not items):
                    return False
            position = value_at + length
        return True

    return fields if walk(0, len(data), True) else None


def _offset(data: bytes, placeholder: bytes) -> int:
    if data.count(placeholder) != 1:
        raise RuntimeError("a per-frame item placeholder is not unique in its encoding")
    return data.index(placeholder)


def _binary_frames(
    labels: PlaneLabels, planes: Sequence[int], ranks: np.ndarray, templates: Sequence[_ItemTemplate], segments: int
) -> tuple[list[bytes], bytes]:
    """Items and bit-packed pixel data of every non-empty (segment, plane) frame, segment by segment."""
    shape = labels.values.shape
    # Frames are packed in groups whose pixel count is a multiple of 8, so frames of any size pack
    # contiguously as DICOM requires for 1-bit data.
    group = 8 // math.gcd(shape[1] * shape[2], 8)
    order = np.asarray(planes)
    values = {int(number): value for value, number in enumerate(labels.numbers.tolist()) if number}
    items: list[bytes] = []
    packed: list[bytes] = []
    pending: list[np.ndarray] = []
    for number in range(1, segments + 1):
        for position in np.flatnonzero(labels.segment_planes(number)[order]).tolist():
            items.append(templates[position].for_frame(int(ranks[position]), number))
            pending.append(labels.values[planes[position]] == values[number])
            if len(pending) == group:
                packed.append(np.packbits(pending[0] if group == 1 else np.stack(pending), bitorder="little")
                              .tobytes())
                pending.clear()
    if pending:
        packed.append(np.packbits(np.stack(pending), bitorder="little").tobytes())
    return items, b"".join(packed)


def _labelmap_frames(
    labels: PlaneLabels, planes: Sequence[int], ranks: np.ndarray, templates: Sequence[_ItemTemplate],
    nonempty: np.ndarray,
) -> tuple[list[bytes], bytes]:
    """Items and pixel data (segment numbers, little endian) of every non-empty plane, in the probe's order."""
    order = np.asarray(planes)
    kept = np.flatnonzero(nonempty[order])
    items = [templates[position].for_frame(int(ranks[position])) for position in kept.tolist()]
    numbers = labels.segment_numbers()
    frames = order[kept]
    if not np.array_equal(frames, np.arange(len(numbers))):
        numbers = numbers[frames]
    return items, numbers.astype(labels.numbers.dtype.newbyteorder("<"), copy=False).tobytes()
