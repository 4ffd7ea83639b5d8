"""Ground-truth phantoms: images and label maps sampled from the analytic anatomy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from mhubio.synthetic.anatomy import (
    CT_DEFAULT_NOISE_HU,
    CT_HU,
    CT_NOISE_HU,
    CT_SEGMENTS,
    MR_NOISE,
    MR_SEGMENTS,
    MR_T2,
    PET_CT_SEGMENTS,
    PET_SUV,
    BodyBox,
    abdomen_pelvis,
    breasts_and_tumors,
    thorax_abdomen,
)
from mhubio.synthetic.geometry import SeriesGeometry, float_triple, int_triple
from mhubio.synthetic.shapes import PaintedVolume, Structure, paint

CT_HU_RANGE: tuple[float, float] = (-1024.0, 3071.0)
"""HU range of the CT phantoms (the range of a 12-bit scanner with intercept -1024)."""

PET_FWHM_MM = 6.0
"""Spatial resolution (FWHM) of the simulated PET scanner."""


@dataclass(frozen=True)
class Phantom:
    """Ground truth in voxel space; arrays are indexed (z, y, x) = (slice, row, column).

    Slices are ordered by position along the slice normal, ascending.

    Parameters
    ----------
    image : numpy.ndarray
        float32 image: HU for CT, signal intensity for MR, activity concentration (Bq/ml) or SUV for PET.
    labels : numpy.ndarray
        uint8 label map with the shape of ``image``; 0 is background.
    label_names : dict of int to str
        Segment id of each label value.
    spacing : tuple of float
        Voxel spacing (x, y, z) in mm, as SimpleITK orders it.
    """

    image: np.ndarray
    labels: np.ndarray
    label_names: dict[int, str]
    spacing: tuple[float, float, float]

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.dtype != np.float32:
            raise ValueError(f"phantom image must be a 3-D float32 array, got {self.image.ndim}-D {self.image.dtype}")
        if self.labels.shape != self.image.shape or self.labels.dtype != np.uint8:
            raise ValueError(f"phantom labels must be uint8 with the image shape {self.image.shape}, "
                             f"got {self.labels.dtype} {self.labels.shape}")
        if 0 in self.label_names or any(not 0 < value < 256 for value in self.label_names):
            raise ValueError(f"label values must be 1..255, got {sorted(self.label_names)}")
        if len(self.spacing) != 3 or min(self.spacing) <= 0:
            raise ValueError(f"spacing must be three positive values (x, y, z) in mm, got {self.spacing}")

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape (slices, rows, columns)."""
        return self.image.shape

    def label_value(self, segment: str) -> int:
        """Label value of the segment id ``segment``."""
        for value, name in self.label_names.items():
            if name == segment:
                return value
        raise KeyError(f"phantom has no segment {segment!r}; it has {sorted(self.label_names.values())}")

    def mask(self, segment: str) -> np.ndarray:
        """Boolean mask of the segment id ``segment``."""
        return self.labels == self.label_value(segment)


def _label_ids(segments: tuple[str, ...]) -> dict[str, int]:
    return {segment: index + 1 for index, segment in enumerate(segments)}


def _painted(structures: list[Structure], segments: tuple[str, ...], geometry: SeriesGeometry,
             box: BodyBox) -> PaintedVolume:
    return paint(structures, _label_ids(segments), *box.frame(geometry))


def _ct_image(painted: PaintedVolume, rng: np.random.Generator) -> np.ndarray:
    noise_table = {tissue: CT_NOISE_HU.get(tissue, CT_DEFAULT_NOISE_HU) for tissue in painted.tissues}
    noise = rng.standard_normal(painted.labels.shape, dtype=np.float32)
    noise *= painted.values(noise_table)
    image = painted.values(CT_HU)
    image += noise
    np.rint(image, out=image)
    return np.clip(image, *CT_HU_RANGE, out=image)


def _grid(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> SeriesGeometry:
    return SeriesGeometry.centered(int_triple(shape, "shape"), float_triple(spacing, "spacing"))


def make_ct_phantom(
    shape: tuple[int, int, int] = (64, 128, 128),
    spacing: tuple[float, float, float] = (0.8, 0.8, 2.5),
    seed: int = 0,
) -> Phantom:
    """Contrast-enhanced chest and upper-abdomen CT phantom filling the field of view.

    Parameters
    ----------
    shape : tuple of int
        Array shape (slices, rows, columns).
    spacing : tuple of float
        Voxel spacing (x, y, z) in mm.
    seed : int
        Seed of the image noise; the same seed gives the same phantom.

    Returns
    -------
    Phantom
        Integer-valued HU image in [-1024, 3071] and labels of ``CT_SEGMENTS``.
    """
    geometry = _grid(shape, spacing)
    painted = _painted(thorax_abdomen(), CT_SEGMENTS, geometry, BodyBox.covering(geometry))
    image = _ct_image(painted, np.random.default_rng((seed, 0)))
    return Phantom(image, painted.labels, dict(enumerate(CT_SEGMENTS, start=1)), geometry.spacing)


def make_mr_phantom(
    shape: tuple[int, int, int] = (40, 128, 128),
    spacing: tuple[float, float, float] = (1.5, 1.5, 4.0),
    seed: int = 0,
) -> Phantom:
    """T2-weighted abdomen-pelvis MR phantom with liver, urinary bladder and prostate.

    The signal carries a smooth receive-coil bias field and Rician noise.

    Parameters
    ----------
    shape : tuple of int
        Array shape (slices, rows, columns).
    spacing : tuple of float
        Voxel spacing (x, y, z) in mm.
    seed : int
        Seed of the image noise.

    Returns
    -------
    Phantom
        Non-negative integer-valued signal and labels of ``MR_SEGMENTS``.
    """
    geometry = _grid(shape, spacing)
    box = BodyBox.covering(geometry)
    painted = _painted(abdomen_pelvis(), MR_SEGMENTS, geometry, box)
    u, v, _ = box.frame(geometry)
    bias = (1.0 + 0.15 * v[:, None] - 0.05 * u[None, :] ** 2).astype(np.float32)
    signal = painted.values(MR_T2)
    signal *= bias
    rng = np.random.default_rng((seed, 1))
    real = rng.standard_normal(signal.shape, dtype=np.float32)
    real *= MR_NOISE
    real += signal
    imaginary = rng.standard_normal(signal.shape, dtype=np.float32)
    imaginary *= MR_NOISE
    image = np.hypot(real, imaginary, out=real)
    np.rint(image, out=image)
    return Phantom(image, painted.labels, dict(enumerate(MR_SEGMENTS, start=1)), geometry.spacing)


def make_pet_ct_phantoms(
    ct_geometry: SeriesGeometry,
    pet_geometry: SeriesGeometry,
    seed: int = 0,
) -> tuple[Phantom, Phantom]:
    """CT (HU) and FDG PET (SUV) phantoms of one patient on two grids of one frame of reference.

    The anatomy fills the CT field of view and includes breasts and FDG-avid tumours in both lungs and the left
    breast. The PET image is blurred to the scanner resolution and carries count-dependent noise.

    Parameters
    ----------
    ct_geometry, pet_geometry : SeriesGeometry
        Grids of the two series; they must share their orientation.
    seed : int
        Seed of the image noise.

    Returns
    -------
    tuple of Phantom
        CT phantom (HU) and PET phantom (SUV body weight), both with labels of ``PET_CT_SEGMENTS``.
    """
    if not np.allclose(ct_geometry.orientation, pet_geometry.orientation):
        raise ValueError(f"PET orientation {pet_geometry.orientation} differs from CT orientation "
                         f"{ct_geometry.orientation}")
    box = BodyBox.covering(ct_geometry)
    structures = thorax_abdomen() + breasts_and_tumors(box)
    names = dict(enumerate(PET_CT_SEGMENTS, start=1))
    ct_painted = _painted(structures, PET_CT_SEGMENTS, ct_geometry, box)
    ct = Phantom(_ct_image(ct_painted, np.random.default_rng((seed, 2))), ct_painted.labels, names,
                 ct_geometry.spacing)
    pet_painted = _painted(structures, PET_CT_SEGMENTS, pet_geometry, box)
    sigma = [PET_FWHM_MM / 2.3548 / s for s in reversed(pet_geometry.spacing)]
    suv = ndimage.gaussian_filter(pet_painted.values(PET_SUV), sigma=sigma, mode="constant")
    noise = np.random.default_rng((seed, 3)).standard_normal(suv.shape, dtype=np.float32)
    noise *= 0.12 * np.sqrt(np.maximum(suv, 0.0))
    suv += noise
    np.maximum(suv, 0.0, out=suv)
    return ct, Phantom(suv, pet_painted.labels, names, pet_geometry.spacing)
