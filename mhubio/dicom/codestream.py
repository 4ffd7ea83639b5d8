"""Image size declared inside compressed pixel data, read before any decoder runs.

A decoder allocates what the codestream's own header announces, whatever the DICOM
header says: a few kilobytes of JPEG 2000 can announce gigapixels.  The frame size
in the codestream (JPEG SOF, JPEG-LS SOF55, JPEG 2000 SIZ) and the segment table of
RLE must therefore agree with Rows, Columns, SamplesPerPixel and BitsAllocated before
pixel data is decoded.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.uid import UID, RLELossless

__all__ = ["CodestreamError", "FrameHeader", "check_codestream", "check_pixel_header", "codestream_size"]

_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_JPEG_LS_SOF = 0xF7
_J2K_SIZ = b"\xff\x4f\xff\x51"
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_HEAD_BYTES = 1 << 16


class CodestreamError(ValueError):
    """Compressed pixel data whose own header disagrees with the DICOM header, or has none."""


@dataclass(frozen=True)
class FrameHeader:
    """The frame layout the DICOM header declares."""

    rows: int
    columns: int
    samples_per_pixel: int = 1
    bits_allocated: int = 16


def codestream_size(transfer_syntax: str, head: bytes) -> tuple[int, int] | None:
    """(rows, columns) announced by the start of a compressed frame; ``None`` for RLE and native data.

    Raises
    ------
    CodestreamError
        If a JPEG, JPEG-LS or JPEG 2000 frame carries no readable frame header.
    """
    syntax = UID(transfer_syntax)
    if not syntax or not syntax.is_compressed or syntax == RLELossless:
        return None
    if _J2K_SIZ in head[:_HEAD_BYTES]:
        start = head.index(_J2K_SIZ) + 4
        fields = head[start + 4 : start + 20]
        if len(fields) < 16:
            raise CodestreamError("JPEG 2000 SIZ marker segment is truncated")
        width, height, x_offset, y_offset = struct.unpack(">IIII", fields)
        return height - y_offset, width - x_offset
    if head[:2] == b"\xff\xd8":
        return _jpeg_size(head)
    raise CodestreamError(f"the pixel data is not a JPEG, JPEG-LS or JPEG 2000 codestream ({syntax.name})")


def _jpeg_size(head: bytes) -> tuple[int, int]:
    position = 2
    while position + 4 <= len(head):
        if head[position] != 0xFF:
            raise CodestreamError("JPEG codestream: marker expected")
        marker = head[position + 1]
        if marker == 0xFF:
            position += 1
            continue
        if marker in _STANDALONE:
            position += 2
            continue
        (length,) = struct.unpack(">H", head[position + 2 : position + 4])
        if marker in _JPEG_SOF or marker == _JPEG_LS_SOF:
            fields = head[position + 5 : position + 9]
            if len(fields) < 4:
                break
            height, width = struct.unpack(">HH", fields)
            return height, width
        if marker == 0xDA or length < 2:
            break
        position += 2 + length
    raise CodestreamError("JPEG codestream without a frame header (SOF) before the scan")


def _rle_segments(head: bytes) -> int:
    if len(head) < 64:
        raise CodestreamError("RLE header is truncated")
    count, *offsets = struct.unpack("<16I", head[:64])
    if not 1 <= count <= 15:
        raise CodestreamError(f"RLE header announces {count} segments (1 to 15 allowed)")
    used = offsets[:count]
    if used[0] != 64 or any(b <= a for a, b in itertools.pairwise(used)):
        raise CodestreamError("RLE segment offsets are not increasing from the end of the header")
    return count


def check_codestream(transfer_syntax: str, pixel_data: bytes, frame: FrameHeader) -> None:
    """Check the first frame of encapsulated ``pixel_data`` against the DICOM header.

    Native (uncompressed) pixel data is not checked here.

    Raises
    ------
    CodestreamError
        If the codestream announces another size (or RLE another number of
        segments) than ``frame``, or has no readable header.
    """
    syntax = UID(transfer_syntax)
    if not syntax or not syntax.is_compressed:
        return
    try:
        head = next(generate_frames(pixel_data, number_of_frames=1), b"")[:_HEAD_BYTES]
    except Exception as exc:  # pydicom raises ValueError or struct errors for broken item tags
        raise CodestreamError(f"encapsulated pixel data cannot be split into fragments: {exc}") from exc
    if syntax == RLELossless:
        expected = frame.samples_per_pixel * -(-frame.bits_allocated // 8)
        found = _rle_segments(head)
        if found != expected:
            raise CodestreamError(
                f"RLE data has {found} segments, the header (SamplesPerPixel, BitsAllocated) needs {expected}"
            )
        return
    size = codestream_size(syntax, head)
    assert size is not None  # compressed, not RLE: the codestream always announces a size
    if size != (frame.rows, frame.columns):
        raise CodestreamError(
            f"the codestream announces {size[0]} x {size[1]} pixels, the DICOM header "
            f"{frame.rows} x {frame.columns}"
        )


def check_pixel_header(dataset: Dataset, frame: FrameHeader, frames: int = 1) -> None:
    """Check a data set read for decoding against the frame layout QC accepted, before decoding.

    The data set's own Rows, Columns, SamplesPerPixel, BitsAllocated and NumberOfFrames
    must equal ``frame`` and ``frames``, and compressed pixel data must announce the same
    size (:func:`check_codestream`).

    Raises
    ------
    CodestreamError
        On any difference.
    """
    declared = (
        int(dataset.get("Rows", 0) or 0),
        int(dataset.get("Columns", 0) or 0),
        int(dataset.get("SamplesPerPixel", 1) or 1),
        int(dataset.get("BitsAllocated", frame.bits_allocated) or 0),
        int(dataset.get("NumberOfFrames", 1) or 1),
    )
    accepted = (frame.rows, frame.columns, frame.samples_per_pixel, frame.bits_allocated, frames)
    if declared != accepted:
        raise CodestreamError(
            f"Rows, Columns, SamplesPerPixel, BitsAllocated, NumberOfFrames are {declared}, "
            f"QC accepted {accepted} (the file changed since it was scanned?)"
        )
    if "PixelData" in dataset:
        check_codestream(str(dataset.file_meta.get("TransferSyntaxUID", "")), dataset.PixelData, frame)
