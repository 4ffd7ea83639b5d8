"""Read a DICOM series into a SimpleITK image with the exact header geometry; write NIfTI."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from mhubio.dicom._quiet import quiet_pydicom
from mhubio.dicom.series import DicomInstance, DicomSeries

__all__ = ["VolumeReadError", "read_series_image", "write_nifti"]

_INTEGER_TYPES = (np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32)


class VolumeReadError(RuntimeError):
    """Raised when the pixel data of a series cannot be assembled into a volume."""


def read_series_image(series: DicomSeries) -> sitk.Image:
    """Read ``series`` into a 3D image in LPS coordinates.

    Slices are stacked in :meth:`DicomSeries.sorted_instances` order; origin,
    spacing and direction come from :attr:`DicomSeries.geometry`. Each slice's
    modality LUT (RescaleSlope/RescaleIntercept) is applied. The voxel type is the
    smallest integer type holding the rescaled range of the stored bits when the
    rescale is integral, float32 otherwise. Compressed transfer syntaxes are
    decoded by pydicom's pixel data handlers (pylibjpeg, pyjpegls, gdcm).

    Parameters
    ----------
    series
        A series that passed :func:`mhubio.dicom.qc.run_qc`.

    Raises
    ------
    VolumeReadError
        If a file cannot be decoded, changed since it was indexed, or does not
        match the series matrix.
    """
    geometry = series.geometry
    slices: list[np.ndarray] = []
    bounds: list[tuple[float, float]] = []
    integral = True
    with quiet_pydicom():
        for instance in series.sorted_instances():
            values, value_range, exact = _read_slice(series, instance)
            slices.append(values)
            bounds.append(value_range)
            integral = integral and exact
    dtype = _voxel_type(bounds) if integral else np.dtype(np.float32)
    volume = np.stack(slices).astype(dtype, copy=False)
    image = sitk.GetImageFromArray(volume)
    geometry.apply_to(image)
    return image


def _read_slice(
    series: DicomSeries, instance: DicomInstance
) -> tuple[np.ndarray, tuple[float, float], bool]:
    """Rescaled values of one slice, the rescaled range of its stored bits, and
    whether the rescale is integral (values then are int64)."""
    columns, rows, _ = series.geometry.size
    try:
        dataset = dcmread(instance.path, force=True)
        _ensure_transfer_syntax(dataset)
        stored = dataset.pixel_array
    except Exception as exc:  # decoders raise many exception types
        raise VolumeReadError(
            f"{series.label}: cannot decode the pixel data of {instance.path}: {exc}"
        ) from exc
    if str(dataset.get("SOPInstanceUID", "")).strip() != instance.sop_instance_uid:
        raise VolumeReadError(f"{series.label}: {instance.path} changed since the input was scanned")
    if stored.shape != (rows, columns):
        raise VolumeReadError(
            f"{series.label}: {instance.path} has pixel array shape {stored.shape}, "
            f"expected {(rows, columns)} (single-frame grayscale)"
        )
    try:
        slope, intercept = _rescale(dataset)
        low, high = _stored_range(dataset)
    except (ValueError, TypeError) as exc:
        raise VolumeReadError(
            f"{series.label}: invalid rescale or bit depth in {instance.path}: {exc}"
        ) from exc
    ends = (low * slope + intercept, high * slope + intercept)
    value_range = (min(ends), max(ends))
    if _is_integral(dataset, slope, intercept):
        return stored.astype(np.int64) * int(slope) + int(intercept), value_range, True
    return apply_modality_lut(stored, dataset), value_range, False


def write_nifti(image: sitk.Image, path: Path | str) -> Path:
    """Write ``image`` to ``path`` (``.nii`` or ``.nii.gz``) atomically.

    The image is written to a hidden temporary name in the target folder and
    renamed when complete, so ``path`` never holds a partial file.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    path = Path(path)
    name = path.name
    if name.endswith(".nii.gz"):
        extension = "nii.gz"
    elif name.endswith(".nii"):
        extension = "nii"
    else:
        raise ValueError(f"NIfTI file name must end with .nii or .nii.gz, got {name!r}")
    temporary = path.with_name(f".{name}.{uuid.uuid4().hex[:12]}.tmp.{extension}")
    try:
        sitk.WriteImage(image, str(temporary))
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _ensure_transfer_syntax(dataset: Dataset) -> None:
    """Record the encoding of a data set read without file meta (no preamble)."""
    if "TransferSyntaxUID" in dataset.file_meta:
        return
    implicit, little = dataset.original_encoding
    if implicit:
        syntax = ImplicitVRLittleEndian
    else:
        syntax = ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    dataset.file_meta.TransferSyntaxUID = syntax


def _rescale(dataset: Dataset) -> tuple[float, float]:
    slope = float(dataset.get("RescaleSlope", 1) or 1)
    intercept = float(dataset.get("RescaleIntercept", 0) or 0)
    return slope, intercept


def _is_integral(dataset: Dataset, slope: float, intercept: float) -> bool:
    if "ModalityLUTSequence" in dataset:
        return False
    return float(slope).is_integer() and float(intercept).is_integer()


def _stored_range(dataset: Dataset) -> tuple[int, int]:
    bits = int(dataset.get("BitsStored", dataset.get("BitsAllocated", 16)))
    if int(dataset.get("PixelRepresentation", 0)) == 1:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def _voxel_type(bounds: list[tuple[float, float]]) -> np.dtype:
    low = min(b[0] for b in bounds)
    high = max(b[1] for b in bounds)
    for kind in _INTEGER_TYPES:
        info = np.iinfo(kind)
        if info.min <= low and high <= info.max:
            return np.dtype(kind)
    return np.dtype(np.float64)
