"""Read a CT series into the volume body part regression scores, in slice position order: single-frame images
(:func:`read_ct_slices`) or an indexed series of any kind, enhanced multi-frame included (:func:`read_indexed_ct`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut

from mhubio.geometry import sort_datasets

if TYPE_CHECKING:
    from mhubio.dicom.series import DicomSeries


@dataclass(frozen=True)
class CtSlices:
    """A CT series as a volume.

    Attributes
    ----------
    datasets: list[pydicom.Dataset]
        Slice headers (no pixel data), ascending along the slice normal; element ``i`` is slice ``i``. For an
        enhanced multi-frame image: its one header (the frames carry the slices' geometry).
    volume_hu: numpy.ndarray
        float32 HU values, shape (z, rows, columns), same slice order.
    spacing: tuple[float, float, float]
        (slice spacing, row spacing, column spacing) in mm; the slice spacing is the mean position step.
    """

    datasets: list[pydicom.Dataset]
    volume_hu: np.ndarray
    spacing: tuple[float, float, float]


def read_ct_slices(paths: Sequence[str | os.PathLike[str]]) -> CtSlices:
    """Read single-frame CT files, sort them along the slice normal and stack them in HU.

    Raises
    ------
    ValueError
        If no files are given, a file is a multi-frame image, slices share a position, or their matrices differ.
    """
    if not paths:
        raise ValueError("no CT files to read")
    read = [pydicom.dcmread(path) for path in paths]
    if any(int(ds.get("NumberOfFrames", 1) or 1) > 1 for ds in read):
        raise ValueError(
            "read_ct_slices reads single-frame CT images; read an enhanced multi-frame image through its "
            "indexed series (read_indexed_ct)"
        )
    datasets = sort_datasets(read)
    label = f"CT series {datasets[0].get('SeriesNumber', '?')} ({datasets[0].get('SeriesInstanceUID', '?')})"
    normal = np.cross(
        np.asarray(datasets[0].ImageOrientationPatient[:3], float),
        np.asarray(datasets[0].ImageOrientationPatient[3:], float),
    )
    positions = np.array([np.dot(normal, np.asarray(ds.ImagePositionPatient, float)) for ds in datasets])
    if len(datasets) > 1:
        steps = np.diff(positions)
        if np.any(steps <= 1e-3):
            raise ValueError(f"{label}: two or more slices share a position along the slice normal")
        z_spacing = float(np.mean(steps))
    else:
        z_spacing = float(datasets[0].get("SliceThickness", 1.0) or 1.0)
    slices = []
    for ds in datasets:
        pixels = ds.pixel_array
        if pixels.shape != (int(datasets[0].Rows), int(datasets[0].Columns)):
            raise ValueError(f"{label}: slice {ds.SOPInstanceUID} has pixel array shape {pixels.shape}")
        slices.append(np.asarray(apply_modality_lut(pixels, ds), dtype=np.float32))
        del ds.PixelData
    row_spacing, column_spacing = (float(v) for v in datasets[0].PixelSpacing)
    return CtSlices(datasets, np.stack(slices), (z_spacing, row_spacing, column_spacing))


def read_indexed_ct(series: DicomSeries) -> CtSlices:
    """Read an indexed CT series (single-frame images or one enhanced multi-frame image, its frames as slices)
    with :func:`mhubio.dicom.volume.read_series_image`, ascending along the slice normal, in HU.

    Raises
    ------
    mhubio.dicom.volume.VolumeReadError
        If the pixel data cannot be assembled into a volume.
    """
    import SimpleITK as sitk

    from mhubio.dicom.volume import read_series_image

    image = read_series_image(series)
    column_spacing, row_spacing, z_spacing = (float(v) for v in image.GetSpacing())
    volume = sitk.GetArrayFromImage(image).astype(np.float32, copy=False)
    return CtSlices(list(series.headers()), volume, (z_spacing, row_spacing, column_spacing))
