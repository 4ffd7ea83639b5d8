"""Enhanced multi-frame test images: single-frame series converted with highdicom, and a public one."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, EnhancedCTImageStorage, ExplicitVRLittleEndian

from mhubio.dicom.frames import frame_planes

__all__ = ["MultiFrameKind", "public_enhanced_ct", "split_frames", "write_multi_frame"]


class MultiFrameKind(str, Enum):
    """Multi-frame image kinds the tests make from a single-frame series."""

    LEGACY_CT = "legacy_ct"
    LEGACY_MR = "legacy_mr"
    ENHANCED_CT = "enhanced_ct"


_CONVERTERS = {
    MultiFrameKind.LEGACY_CT: hd.legacy.LegacyConvertedEnhancedCTImage,
    MultiFrameKind.LEGACY_MR: hd.legacy.LegacyConvertedEnhancedMRImage,
    MultiFrameKind.ENHANCED_CT: hd.legacy.LegacyConvertedEnhancedCTImage,
}


def write_multi_frame(
    files: Sequence[Path], path: Path, kind: MultiFrameKind, *, series_uid: str = "", transfer_syntax: str | None = None
) -> Dataset:
    """Convert the single-frame images ``files`` to one multi-frame instance written at ``path``.

    The legacy kinds are highdicom's Legacy Converted Enhanced CT/MR images. ``ENHANCED_CT`` is
    the same conversion stored as an Enhanced CT Image Storage instance: the functional groups
    that carry the geometry and the rescale are those of an Enhanced CT, while the
    acquisition-specific groups a scanner adds are absent (the reader does not use them).
    The frames keep the order of ``files``; ``transfer_syntax`` compresses them (default: uncompressed).

    Returns
    -------
    pydicom.Dataset
        The written instance.
    """
    converter = _CONVERTERS[kind]
    image = converter(
        [dcmread(f) for f in files],
        series_instance_uid=series_uid or hd.UID(),
        series_number=1,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        transfer_syntax_uid=transfer_syntax,
    )
    if kind is MultiFrameKind.ENHANCED_CT:
        image.SOPClassUID = EnhancedCTImageStorage
        image.file_meta.MediaStorageSOPClassUID = EnhancedCTImageStorage
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save_as(path, enforce_file_format=True)
    return image


def public_enhanced_ct() -> Path | None:
    """``eCT_Supplemental.dcm`` of pydicom's test corpus (package ``pydicom-data``), ``None`` if not installed.

    A 2-frame Enhanced CT (512 x 512, 10 mm apart) written by a scanner vendor's toolkit, with
    shared Plane Orientation, Pixel Measures and Pixel Value Transformation groups and
    per-frame Plane Positions.
    """
    found = get_testdata_file("eCT_Supplemental.dcm", download=False)
    return None if found is None else Path(found)


_SPLIT_KEYWORDS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate", "StudyTime",
    "StudyID", "AccessionNumber", "ReferringPhysicianName", "SeriesInstanceUID", "SeriesNumber", "Modality",
    "FrameOfReferenceUID", "PositionReferenceIndicator", "Manufacturer", "ImageType", "SamplesPerPixel",
    "PhotometricInterpretation", "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
)


def split_frames(path: Path, out_dir: Path) -> list[Path]:
    """Write each frame of the enhanced image at ``path`` as a single-frame CT Image Storage file in ``out_dir``.

    Each file carries its frame's position, orientation, pixel spacing, slice thickness and rescale from the
    functional groups, and the frame's stored pixels; the series is the image's series.
    """
    image = dcmread(path)
    planes = frame_planes(image)
    pixels = image.pixel_array.reshape((len(planes), int(image.Rows), int(image.Columns)))
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for plane, frame in zip(planes, pixels, strict=True):
        ds = Dataset()
        for keyword in _SPLIT_KEYWORDS:
            if keyword in image:
                setattr(ds, keyword, image[keyword].value)
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = hd.UID()
        ds.InstanceNumber = plane.frame_number
        ds.ImagePositionPatient = list(plane.image_position or ())
        ds.ImageOrientationPatient = list(plane.image_orientation or ())
        ds.PixelSpacing = list(plane.pixel_spacing or ())
        ds.SliceThickness = plane.slice_thickness
        ds.RescaleSlope = plane.rescale_slope if plane.rescale_slope is not None else 1
        ds.RescaleIntercept = plane.rescale_intercept if plane.rescale_intercept is not None else 0
        ds.PixelData = np.ascontiguousarray(frame).tobytes()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        target = out_dir / f"frame{plane.frame_number:04d}.dcm"
        ds.save_as(target, enforce_file_format=True)
        written.append(target)
    return written
