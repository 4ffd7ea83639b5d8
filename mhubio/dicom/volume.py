"""Read a DICOM series into a SimpleITK image with the exact header geometry; write NIfTI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from mhubio.core.fileio import atomic_path
from mhubio.dicom._quiet import quiet_pydicom
from mhubio.dicom.codestream import FrameHeader, check_pixel_header
from mhubio.dicom.series import DicomInstance, DicomSeries

__all__ = ["InputChangedError", "VolumeReadError", "read_series_image", "write_nifti"]


class VolumeReadError(RuntimeError):
    """Raised when the pixel data of a series cannot be assembled into a volume."""


class InputChangedError(VolumeReadError):
    """Raised when a file of the series is gone or no longer holds the indexed instance.

    Attributes
    ----------
    path
        The file.
    reason
        What is wrong with it now.
    """

    def __init__(self, series: DicomSeries, path: Path, reason: str) -> None:
        super().__init__(f"{series.label}: {path.name} changed since the input was scanned ({reason})")
        self.path = path
        self.reason = reason


def read_series_image(series: DicomSeries) -> sitk.Image:
    """Read ``series`` into a 3D image in LPS coordinates.

    Slices are stacked in :meth:`DicomSeries.sorted_instances` order; origin,
    spacing and direction come from :attr:`DicomSeries.geometry`. Each slice's
    modality LUT (RescaleSlope/RescaleIntercept) is applied; the frames of an
    enhanced multi-frame image are decoded once and get the rescale of their
    Pixel Value Transformation functional group. Voxels are int16
    when every rescale is integral and the values fit, int32 when they need it,
    float32 otherwise. Compressed transfer syntaxes are decoded by pydicom's
    pixel data handlers (pylibjpeg, pyjpegls, gdcm). The headers read on the way
    are kept on ``series`` (:meth:`DicomSeries.headers`), so that encoders do not
    parse the files again.

    Parameters
    ----------
    series
        A series that passed :func:`mhubio.dicom.qc.run_qc`.

    Raises
    ------
    InputChangedError
        If a file is gone, is no longer a DICOM file or holds another instance.
    VolumeReadError
        If a file cannot be decoded, does not match the series matrix, or holds
        values beyond the int32 range.
    """
    geometry = series.geometry
    columns, rows, depth = geometry.size
    volume = np.empty((depth, rows, columns), dtype=np.int16)
    headers: dict[str, Dataset] = {}
    frames: dict[str, np.ndarray] = {}
    with quiet_pydicom():
        for k, instance in enumerate(series.sorted_instances()):
            uid = instance.sop_instance_uid
            if uid not in headers:
                dataset = _read_dataset(series, instance)
                frames[uid] = _decode(series, instance, dataset)
                del dataset.PixelData
                headers[uid] = dataset
            values = _instance_values(series, instance, headers[uid], frames)
            volume = _widened(volume, values, series, instance)
            volume[k] = values
    frames.clear()  # the decoded multi-frame pixels, before the volume is copied into the image
    series.keep_headers([headers[i.sop_instance_uid] for i in series.sorted_sop_instances()])
    image = sitk.GetImageFromArray(volume)
    geometry.apply_to(image)
    return image


def _widened(
    volume: np.ndarray, values: np.ndarray, series: DicomSeries, instance: DicomInstance
) -> np.ndarray:
    """``volume``, converted to int32 or float32 when ``values`` need it."""
    if volume.dtype.kind == "f":
        return volume
    if values.dtype.kind == "f":
        return volume.astype(np.float32)
    if _fits(values, volume.dtype):
        return volume
    if _fits(values, np.dtype(np.int32)):
        return volume.astype(np.int32)
    raise VolumeReadError(f"{series.label}: values of {instance.path.name} exceed the int32 range")


def _read_dataset(series: DicomSeries, instance: DicomInstance) -> Dataset:
    """The whole data set of one indexed file, checked to be the indexed instance."""
    try:
        dataset = dcmread(instance.path, force=True)
        uid = str(dataset.get("SOPInstanceUID", "")).strip()
    except OSError as exc:
        raise InputChangedError(series, instance.path, f"cannot be read: {exc.strerror or exc}") from exc
    except Exception as exc:  # malformed files make pydicom raise almost anything
        raise InputChangedError(series, instance.path, "no longer a DICOM file") from exc
    if uid != instance.sop_instance_uid:
        raise InputChangedError(series, instance.path, "it holds another SOP instance")
    return dataset


def _decode(series: DicomSeries, instance: DicomInstance, dataset: Dataset) -> np.ndarray:
    """Stored values of every frame of one file, shape (frames, rows, columns)."""
    columns, rows, _ = series.geometry.size
    frames = instance.number_of_frames if instance.is_frame else 1
    try:
        _ensure_transfer_syntax(dataset)
        frame = FrameHeader(rows, columns, instance.samples_per_pixel or 1, instance.bits_allocated or 16)
        check_pixel_header(dataset, frame, frames)
        stored = dataset.pixel_array
    except Exception as exc:  # decoders raise many exception types
        raise VolumeReadError(
            f"{series.label}: cannot decode the pixel data of {instance.path.name}: {exc}"
        ) from exc
    expected = (frames, rows, columns) if frames > 1 else (rows, columns)
    if stored.shape != expected:
        kind = f"{frames} grayscale frames" if frames > 1 else "single-frame grayscale"
        raise VolumeReadError(
            f"{series.label}: {instance.path.name} has pixel array shape {stored.shape}, "
            f"expected {expected} ({kind})"
        )
    return stored.reshape((frames, rows, columns))


def _instance_values(
    series: DicomSeries, instance: DicomInstance, dataset: Dataset, frames: dict[str, np.ndarray]
) -> np.ndarray:
    """Rescaled values of one slice: a frame of a decoded multi-frame file, or a single-frame file (whose decoded
    pixels are then dropped from ``frames``)."""
    if instance.is_frame:
        assert instance.frame_number is not None
        stored = frames[instance.sop_instance_uid][instance.frame_number - 1]
        return _rescaled(stored, instance.rescale_slope, instance.rescale_intercept)
    return _slice_values(series, instance, dataset, frames.pop(instance.sop_instance_uid)[0])


def _slice_values(series: DicomSeries, instance: DicomInstance, dataset: Dataset, stored: np.ndarray) -> np.ndarray:
    """Rescaled values of one single-frame file: its Modality LUT, or RescaleSlope and RescaleIntercept."""
    if "ModalityLUTSequence" in dataset:
        return np.asarray(apply_modality_lut(stored, dataset), dtype=np.float64)
    try:
        slope = float(dataset.get("RescaleSlope", 1) or 1)
        intercept = float(dataset.get("RescaleIntercept", 0) or 0)
    except (ValueError, TypeError) as exc:
        raise VolumeReadError(f"{series.label}: invalid rescale in {instance.path.name}: {exc}") from exc
    return _rescaled(stored, slope, intercept)


def _rescaled(stored: np.ndarray, slope: float | None, intercept: float | None) -> np.ndarray:
    """``stored * slope + intercept``: integers for an integral rescale, float64 otherwise."""
    slope = 1.0 if slope is None else slope
    intercept = 0.0 if intercept is None else intercept
    if not (slope.is_integer() and intercept.is_integer()):
        return stored * slope + intercept
    # int32 cannot overflow for stored values of up to 16 bits and moderate rescales.
    narrow = stored.dtype.itemsize <= 2 and abs(slope) <= 2**14 and abs(intercept) <= 2**30
    values = stored.astype(np.int32) if narrow else stored.astype(np.int64)
    if slope != 1:
        values *= int(slope)
    if intercept:
        values += int(intercept)
    return values


def _fits(values: np.ndarray, dtype: np.dtype) -> bool:
    info = np.iinfo(dtype)
    return bool(values.size == 0 or (values.min() >= info.min and values.max() <= info.max))


def write_nifti(image: sitk.Image, path: Path | str) -> Path:
    """Write ``image`` to ``path`` (``.nii`` or ``.nii.gz``) atomically.

    The image is written through :func:`~mhubio.core.fileio.atomic_path`, so
    ``path`` never holds a partial file.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    path = Path(path)
    if not path.name.endswith((".nii", ".nii.gz")):
        raise ValueError(f"NIfTI file name must end with .nii or .nii.gz, got {path.name!r}")
    with atomic_path(path) as temporary:
        sitk.WriteImage(image, str(temporary))
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


