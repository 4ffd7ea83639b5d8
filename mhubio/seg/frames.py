"""Frames of a SEG over single-frame sources, built once per plane instead of once per (segment, plane).

highdicom builds the SEG's frame-independent modules and one Per-Frame Functional Groups item per source plane
(a *probe* segmentation over one-pixel copies of the source planes); this module then assembles the real frames
from those items: pydicom encodes the first item, the others are spliced from its bytes with their own source
references and positions, the frame-specific values (segment dimension index, Referenced Segment Number) are set
in the encoded bytes, and the pixel data is packed from whole planes with numpy (BINARY) or copied from them
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
from highdicom.spatial import get_volume_positions
from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import correct_ambiguous_vr, write_data_element, write_sequence_item
from pydicom.multival import MultiValue
from pydicom.tag import Tag

from mhubio.core.threads import compute_threads

PER_FRAME_FUNCTIONAL_GROUPS = Tag(0x5200, 0x9230)
SEGMENT_IDENTIFICATION = 0x0062000A
REFERENCED_SEGMENT_NUMBER = 0x0062000B
ROWS = 0x00280010
COLUMNS = 0x00280011
REFERENCED_SOP_CLASS_UID = 0x00081150
REFERENCED_SOP_INSTANCE_UID = 0x00081155
IMAGE_POSITION_PATIENT = 0x00200032

_SEGMENT_SENTINEL = 0xFEFDFCFB
"""Placeholder of the segment dimension index (UL) in an encoded item template; its bytes occur nowhere else."""
_PLANE_SENTINEL = 0xF4F3F2F1
"""Placeholder of the plane dimension index (UL): the plane's rank among the planes that have frames."""
_NUMBER_SENTINEL = 0xFAF9
"""Placeholder of Referenced Segment Number (US)."""
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


def probe_sources(sources: Sequence[pydicom.Dataset]) -> list[pydicom.Dataset]:
    """The single-frame ``sources`` as planes of one pixel (Rows and Columns 1), for the probe segmentation.

    The copies share the sources' other elements, which stay untouched; on one-pixel planes highdicom builds the
    probe without scanning or encoding a full-size pixel array (:func:`assemble_frames` sets the real size).
    """
    probes = []
    for source in sources:
        probe = pydicom.Dataset(dict(source.items()))
        probe[ROWS] = DataElement(ROWS, "US", 1)
        probe[COLUMNS] = DataElement(COLUMNS, "US", 1)
        probes.append(probe)
    return probes


def probe_array(planes: int, dtype: np.dtype) -> np.ndarray:
    """A label array of one-pixel planes, all segment 1, over :func:`probe_sources` (one frame per plane)."""
    return np.ones((planes, 1, 1), dtype=dtype)


def assemble_frames(
    probe: hd.seg.Segmentation,
    sources: Sequence[pydicom.Dataset],
    labels: PlaneLabels,
    descriptions: Sequence[hd.seg.SegmentDescription],
) -> pydicom.Dataset:
    """The SEG of ``labels`` from the ``probe`` segmentation highdicom built on the same sources.

    Parameters
    ----------
    probe
        highdicom's segmentation of :func:`probe_array` over :func:`probe_sources` of ``sources``: BINARY with
        the first of ``descriptions``, or LABELMAP with all of them.
    sources
        The single-frame source images, in the order given to highdicom (the label planes' order).
    labels
        The label map, one plane per source image, with at least one labelled pixel.
    descriptions
        The segment descriptions, numbered 1..n in order.

    Returns
    -------
    pydicom.Dataset
        The segmentation (a plain dataset: highdicom's query methods need it read with ``hd.seg.segread``).
    """
    labelmap = probe.SegmentationType == hd.seg.SegmentationTypeValues.LABELMAP.value
    if not labelmap and probe.SegmentationType != hd.seg.SegmentationTypeValues.BINARY.value:
        raise ValueError("frames are assembled for BINARY and LABELMAP segmentations only")
    # a LABELMAP's frames are planes, with the segments as pixel values: its items are those of one segment
    multi_segment = len(descriptions) > 1 and not labelmap
    dataset = pydicom.Dataset(probe)
    dataset.file_meta = probe.file_meta
    dataset[ROWS] = DataElement(ROWS, "US", labels.values.shape[1])
    dataset[COLUMNS] = DataElement(COLUMNS, "US", labels.values.shape[2])
    dataset.preamble = probe.preamble  # so that a plain save_as() writes a DICOM file, as it does for highdicom's
    if multi_segment:
        dataset.SegmentSequence = list(descriptions)
        del dataset.SharedFunctionalGroupsSequence[0].SegmentIdentificationSequence
    probe_items = probe.PerFrameFunctionalGroupsSequence
    planes = _plane_indices(probe_items, sources)
    nonempty = np.asarray(labels.presence[:, 1:].any(axis=1))
    if not nonempty.any():
        raise ValueError("the label map has no labelled pixels (highdicom then encodes every frame)")
    ranks = np.cumsum(nonempty[planes])
    _set_dimension_organization(dataset, probe_items, planes, nonempty, multi_segment)
    templates = _item_templates(probe_items, multi_segment)
    if labelmap:
        items, pixel_data = _labelmap_frames(labels, planes, ranks, templates, nonempty)
    else:
        items, pixel_data = _binary_frames(labels, planes, ranks, templates, len(descriptions))
    dataset.NumberOfFrames = len(items)
    dataset.PixelData = pixel_data + b"\x00" * (len(pixel_data) % 2)
    # Ambiguous VRs (Pixel Data's OB or OW among them) are settled now, and the dataset is marked as encoded
    # in explicit VR little endian, so that writing it in that transfer syntax copies the per-frame items'
    # bytes instead of decoding and re-encoding them.
    correct_ambiguous_vr(dataset, is_little_endian=True)
    value = b"".join(items)
    dataset[PER_FRAME_FUNCTIONAL_GROUPS] = RawDataElement(
        PER_FRAME_FUNCTIONAL_GROUPS, "SQ", len(value), value, 0, False, True)
    charset = dataset.get("SpecificCharacterSet")
    dataset.set_original_encoding(False, True, convert_encodings(charset) if charset else default_encoding)
    return dataset


def _plane_indices(items: Sequence[pydicom.Dataset], sources: Sequence[pydicom.Dataset]) -> list[int]:
    """The source index of each probe frame (highdicom's plane order), from the frames' source references."""
    by_uid = {source.SOPInstanceUID: index for index, source in enumerate(sources)}
    planes = []
    for item in items:
        (reference,) = item.DerivationImageSequence[0].SourceImageSequence
        planes.append(by_uid[reference.ReferencedSOPInstanceUID])
    if sorted(planes) != list(range(len(sources))):
        raise RuntimeError("highdicom's probe segmentation does not have one frame per source image")
    return planes


def _set_dimension_organization(
    dataset: pydicom.Dataset,
    items: Sequence[pydicom.Dataset],
    planes: Sequence[int],
    nonempty: np.ndarray,
    multi_segment: bool,
) -> None:
    """Dimension Organization Type as highdicom states it: ``3D`` when the frames differ only by position and
    the planes with frames are regularly spaced, else absent."""
    positions = np.zeros((len(planes), 3))
    for item, plane in zip(items, planes, strict=True):
        positions[plane] = [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient]
    included = np.flatnonzero(nonempty)
    spacing = None
    if not multi_segment and len(included) > 1:
        orientation = dataset.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0].ImageOrientationPatient
        spacing, _ = get_volume_positions(image_positions=positions[included].tolist(), image_orientation=orientation,
                                          sort=False)
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


def _item_templates(items: Sequence[pydicom.Dataset], multi_segment: bool) -> list[_ItemTemplate]:
    """The encoded item of every plane: the first encoded by pydicom, the others spliced from it with their own
    source reference and position, and the lengths of the sequences and items around those set to match.

    Every probe item has the same elements; only the source image's UIDs and the plane position differ. The
    splice is checked against pydicom's encoding of the last item; should they differ, every item is encoded.
    """
    variable = [_variable_elements(item) for item in items]
    first = _encode_item(items[0], multi_segment)

    def each_encoded() -> list[_ItemTemplate]:
        return [first, *(_encode_item(item, multi_segment) for item in items[1:])]

    lengths = _length_fields(first.data)
    if lengths is None or any(first.data.count(value) != 1 for value in variable[0]):
        return each_encoded()
    slots = [(first.data.index(value), len(value)) for value in variable[0]]
    order = sorted(range(len(slots)), key=lambda k: slots[k][0])
    slots = [slots[k] for k in order]
    templates = [first, *(_splice(first, lengths, slots, [values[k] for k in order]) for values in variable[1:])]
    if len(items) > 1 and templates[-1] != _encode_item(items[-1], multi_segment):
        return each_encoded()
    return templates


def _variable_elements(item: pydicom.Dataset) -> list[bytes]:
    """The encoded elements of ``item`` that differ between planes."""
    source = item.DerivationImageSequence[0].SourceImageSequence[0]
    elements = [source[REFERENCED_SOP_CLASS_UID], source[REFERENCED_SOP_INSTANCE_UID],
                item.PlanePositionSequence[0][IMAGE_POSITION_PATIENT]]
    encoded = []
    for element in elements:
        buffer = _explicit_little_endian()
        write_data_element(buffer, element)
        encoded.append(buffer.getvalue())
    return encoded


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
