"""Slice preprocessing of bpreg 1.1: HU clipping and scaling, in-plane resampling and padding/cropping to 128x128.

bpreg reads a dcm2niix NIfTI with nibabel, so each slice reaches the network as ``data[i, j]`` with ``i`` along the
DICOM columns and ``j`` along the DICOM rows in reverse order (dcm2niix stores rows bottom-up). Volumes here are
given in DICOM pixel layout ``(z, y, x)`` (rows = y, columns = x); :func:`preprocess_volume` converts each slice to
the layout bpreg saw. The slice order is kept as given: bpreg's z-ordering flag reports it from the scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import gaussian_filter


@dataclass(frozen=True)
class PreprocessingSettings:
    """Preprocessing constants of bpreg's inference model.

    Parameters
    ----------
    target_pixel_spacing: float
        In-plane pixel spacing after resampling in mm.
    min_hu, max_hu: float
        HU window; values outside are clipped.
    size: int
        Width and height of the network input.
    rescale_min, rescale_max: float
        Range the clipped HU window is mapped to.
    sigma: tuple[float, float]
        Gaussian blur (in output pixels) applied before downsampling at the reference downscaling factor.
    reference_downscaling_factor: float
        Downscaling factor at which ``sigma`` applies; the blur scales inversely with the actual factor.
    """

    target_pixel_spacing: float = 3.5
    min_hu: float = -1000.0
    max_hu: float = 1500.0
    size: int = 128
    rescale_min: float = -1.0
    rescale_max: float = 1.0
    sigma: tuple[float, float] = (0.8, 0.8)
    reference_downscaling_factor: float = 0.25

    def __post_init__(self) -> None:
        if self.max_hu <= self.min_hu:
            raise ValueError(f"HU window is empty: min_hu={self.min_hu}, max_hu={self.max_hu}")
        if self.target_pixel_spacing <= 0 or self.size <= 0:
            raise ValueError("target_pixel_spacing and size must be positive")


def to_bpreg_layout(volume: np.ndarray) -> np.ndarray:
    """Reorder ``(z, rows, columns)`` slices to bpreg's ``(z, columns, reversed rows)`` layout."""
    return np.ascontiguousarray(np.transpose(volume[:, ::-1, :], (0, 2, 1)))


def scale_hu(volume: np.ndarray, settings: PreprocessingSettings) -> np.ndarray:
    """Clip HU values to the window and map it linearly to ``[rescale_min, rescale_max]``."""
    clipped = np.clip(volume.astype(np.float32), settings.min_hu, settings.max_hu)
    scale = (settings.rescale_max - settings.rescale_min) / (settings.max_hu - settings.min_hu)
    return ((clipped - settings.min_hu) * scale + settings.rescale_min).astype(np.float32)


def resample_in_plane(
    slices: np.ndarray, spacing: tuple[float, float], settings: PreprocessingSettings
) -> np.ndarray:
    """Blur and bilinearly resample slices to the target in-plane spacing.

    Parameters
    ----------
    slices: numpy.ndarray
        Array of shape (z, a, b) in bpreg layout.
    spacing: tuple[float, float]
        Pixel spacing along axes a and b in mm.
    settings: PreprocessingSettings
        Preprocessing constants.

    Returns
    -------
    numpy.ndarray
        Resampled slices of shape (z, round(a * spacing_a / target), round(b * spacing_b / target)).
    """
    sizes = []
    for n, pixel_spacing in zip(slices.shape[1:], spacing, strict=True):
        new_size = int(n * pixel_spacing / settings.target_pixel_spacing + 0.5)
        if new_size < 2:
            raise ValueError(
                f"slice axis of {n} pixels at {pixel_spacing} mm shrinks to {new_size} pixels at "
                f"{settings.target_pixel_spacing} mm; the image is too small for body part regression"
            )
        sizes.append(new_size)
    sigma = [
        s * settings.reference_downscaling_factor / (new / n)
        for s, new, n in zip(settings.sigma, sizes, slices.shape[1:], strict=True)
    ]
    blurred = gaussian_filter(slices, sigma=(0.0, sigma[0], sigma[1]), truncate=3.0)
    tensor = torch.from_numpy(np.ascontiguousarray(blurred, dtype=np.float32))[:, None]
    resized = torch.nn.functional.interpolate(
        tensor, size=(sizes[0], sizes[1]), mode="bilinear", align_corners=False, antialias=False
    )
    return resized[:, 0].numpy()


def pad_or_crop(slices: np.ndarray, settings: PreprocessingSettings) -> np.ndarray:
    """Pad (with ``rescale_min``) or centre-crop slices to ``size`` x ``size`` as bpreg does."""
    size = settings.size
    pad = []
    for n in slices.shape[1:]:
        before, after = (size - n) // 2, (size - n + 1) // 2
        pad.append((before, after) if before >= 0 and after >= 0 else (0, 0))
    if any(p != (0, 0) for p in pad):
        slices = np.pad(slices, ((0, 0), pad[0], pad[1]), mode="constant", constant_values=settings.rescale_min)
    start_a = max((slices.shape[1] - size) // 2, 0)
    start_b = max((slices.shape[2] - size) // 2, 0)
    return np.ascontiguousarray(slices[:, start_a : start_a + size, start_b : start_b + size])


def preprocess_volume(
    volume_hu: np.ndarray,
    spacing: Sequence[float],
    settings: PreprocessingSettings | None = None,
) -> np.ndarray:
    """Turn a CT volume into bpreg network input.

    Parameters
    ----------
    volume_hu: numpy.ndarray
        CT volume in Hounsfield units, shape (z, y, x) in DICOM pixel layout (y = rows, x = columns).
    spacing: Sequence[float]
        Voxel spacing (z, y, x) in mm; only the in-plane values are used.
    settings: PreprocessingSettings | None
        Preprocessing constants; bpreg's defaults if omitted.

    Returns
    -------
    numpy.ndarray
        float32 array of shape (z, size, size), values in ``[rescale_min, rescale_max]``, same slice order.
    """
    settings = settings or PreprocessingSettings()
    volume_hu = np.asarray(volume_hu)
    if volume_hu.ndim != 3 or min(volume_hu.shape) < 1:
        raise ValueError(f"expected a CT volume of shape (z, y, x), got shape {volume_hu.shape}")
    if len(spacing) != 3 or any(not np.isfinite(s) or s <= 0 for s in spacing):
        raise ValueError(f"expected three positive voxel spacings (z, y, x) in mm, got {tuple(spacing)}")
    slices = to_bpreg_layout(scale_hu(volume_hu, settings))
    # bpreg layout axes: (z, x, y), so the in-plane spacings are (x, y).
    slices = resample_in_plane(slices, (float(spacing[2]), float(spacing[1])), settings)
    return pad_or_crop(slices, settings)
