"""Anatomy of the synthetic phantoms: structures in a normalised body frame and tissue values per modality.

Patient LPS for a standard axial head-first-supine grid: +u = patient left (+column index), +v = posterior
(+row index), +w = superior (+slice index along the normal).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mhubio.synthetic.geometry import SeriesGeometry
from mhubio.synthetic.shapes import Ellipsoid, Structure, Tube

CT_SEGMENTS: tuple[str, ...] = (
    "BODY", "LEFT_LUNG", "RIGHT_LUNG", "HEART", "AORTA", "TRACHEA", "ESOPHAGUS", "VERTEBRAL_COLUMN", "LIVER",
    "LEFT_KIDNEY", "RIGHT_KIDNEY",
)
"""Segment ids of the CT phantom, label value = position + 1."""

MR_SEGMENTS: tuple[str, ...] = ("BODY", "LIVER", "URINARY_BLADDER", "PROSTATE")
"""Segment ids of the MR phantom, label value = position + 1."""

PET_CT_SEGMENTS: tuple[str, ...] = CT_SEGMENTS + ("FDG_AVID_LUNG_TUMOR", "FDG_AVID_BREAST_TUMOR")
"""Segment ids of the PET/CT phantom, label value = position + 1."""

CT_HU: dict[str, float] = {
    "air": -1000.0, "fat": -100.0, "soft_tissue": 40.0, "breast": -60.0, "lung": -850.0, "myocardium": 40.0,
    "blood": 150.0, "aorta": 200.0, "esophagus": 30.0, "bone_cortical": 700.0, "bone_cancellous": 250.0,
    "liver": 60.0, "kidney": 150.0, "tumor": 35.0,
}
"""CT attenuation of each tissue (HU, contrast-enhanced venous phase)."""

CT_NOISE_HU: dict[str, float] = {"air": 6.0, "lung": 35.0}
"""Noise standard deviation (HU) where it differs from ``CT_DEFAULT_NOISE_HU``."""

CT_DEFAULT_NOISE_HU = 12.0

MR_T2: dict[str, float] = {
    "air": 0.0, "fat": 900.0, "soft_tissue": 260.0, "liver": 180.0, "urine": 1600.0, "prostate_peripheral": 720.0,
    "prostate_transition": 430.0, "bone_cortical": 40.0, "bone_cancellous": 420.0,
}
"""T2-weighted fast spin echo signal of each tissue (arbitrary units)."""

MR_NOISE = 18.0

PET_SUV: dict[str, float] = {
    "air": 0.0, "fat": 0.35, "soft_tissue": 0.9, "breast": 0.7, "lung": 0.4, "myocardium": 4.0, "blood": 1.8,
    "aorta": 1.8, "esophagus": 1.3, "bone_cortical": 0.8, "bone_cancellous": 1.6, "liver": 2.4, "kidney": 3.2,
    "tumor": 9.0,
}
"""FDG uptake of each tissue (SUV body weight, about 60 min after injection)."""


@dataclass(frozen=True)
class BodyBox:
    """Region, in the coordinates of a grid's axes (mm), that the normalised body frame spans.

    Parameters
    ----------
    center : tuple of float
        Centre of the frame along the row, column and normal axes (mm).
    half_width : tuple of float
        Half extent along the row and column axes (mm): u, v = +-1 there.
    z_range : tuple of float
        Extent along the normal (mm): w = 0 at the low end, 1 at the high end.
    """

    center: tuple[float, float]
    half_width: tuple[float, float]
    z_range: tuple[float, float]

    @classmethod
    def covering(cls, geometry: SeriesGeometry) -> BodyBox:
        """Body frame that fills the field of view of ``geometry``."""
        x, y, z = grid_axes(geometry)
        return cls(((x[0] + x[-1]) / 2, (y[0] + y[-1]) / 2), (max((x[-1] - x[0]) / 2, 1e-3),
                   max((y[-1] - y[0]) / 2, 1e-3)), (z[0], z[-1] if z.size > 1 else z[0] + 1.0))

    def frame(self, geometry: SeriesGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Body-frame coordinates (u, v, w) of the columns, rows and slices of ``geometry``."""
        x, y, z = grid_axes(geometry)
        return ((x - self.center[0]) / self.half_width[0], (y - self.center[1]) / self.half_width[1],
                (z - self.z_range[0]) / (self.z_range[1] - self.z_range[0]))

    def sphere(self, center: tuple[float, float, float], radius_mm: float) -> Ellipsoid:
        """Ellipsoid that is a sphere of ``radius_mm`` in physical space."""
        height = self.z_range[1] - self.z_range[0]
        return Ellipsoid(center, (radius_mm / self.half_width[0], radius_mm / self.half_width[1], radius_mm / height))


def grid_axes(geometry: SeriesGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates (mm) of the columns, rows and slices of ``geometry`` along its row, column and normal axes."""
    origin = np.asarray(geometry.origin, dtype=float)
    nz, ny, nx = geometry.shape
    sx, sy, sz = geometry.spacing
    return (float(origin @ geometry.row_direction) + sx * np.arange(nx),
            float(origin @ geometry.column_direction) + sy * np.arange(ny),
            float(origin @ geometry.normal) + sz * np.arange(nz))


def thorax_abdomen() -> list[Structure]:
    """Structures of the chest and upper abdomen, in painting order."""
    return [
        Structure("BODY", Tube((0.0, 0.0), (0.9, 0.65)), "fat"),
        Structure("BODY", Tube((0.0, 0.0), (0.82, 0.57)), "soft_tissue"),
        Structure("LIVER", Ellipsoid((-0.38, 0.0, 0.3), (0.42, 0.45, 0.22)), "liver"),
        Structure("RIGHT_KIDNEY", Ellipsoid((-0.32, 0.3, 0.15), (0.11, 0.13, 0.12)), "kidney"),
        Structure("LEFT_KIDNEY", Ellipsoid((0.32, 0.3, 0.17), (0.11, 0.13, 0.12)), "kidney"),
        Structure("RIGHT_LUNG", Ellipsoid((-0.38, 0.02, 0.78), (0.3, 0.42, 0.4)), "lung"),
        Structure("LEFT_LUNG", Ellipsoid((0.38, 0.02, 0.8), (0.3, 0.42, 0.4)), "lung"),
        Structure("HEART", Ellipsoid((0.1, -0.22, 0.55), (0.26, 0.24, 0.14)), "myocardium"),
        Structure("HEART", Ellipsoid((0.1, -0.22, 0.55), (0.17, 0.16, 0.09)), "blood"),
        Structure("AORTA", Tube((0.0, -0.12), (0.07, 0.07), (0.55, 0.76)), "aorta"),
        Structure("AORTA", Ellipsoid((0.06, 0.05, 0.76), (0.1, 0.22, 0.05)), "aorta"),
        Structure("AORTA", Tube((0.12, 0.22), (0.07, 0.07), (0.08, 0.76)), "aorta"),
        Structure("ESOPHAGUS", Tube((0.0, 0.16), (0.04, 0.035), (0.3, 1.0)), "esophagus"),
        Structure("TRACHEA", Tube((0.0, 0.02), (0.06, 0.06), (0.72, 1.0)), "air"),
        Structure("VERTEBRAL_COLUMN", Tube((0.0, 0.42), (0.11, 0.12)), "bone_cortical"),
        Structure("VERTEBRAL_COLUMN", Tube((0.0, 0.42), (0.07, 0.08)), "bone_cancellous"),
    ]


def breasts_and_tumors(box: BodyBox) -> list[Structure]:
    """Breasts (part of BODY) and FDG-avid tumours in both lungs and the left breast, in painting order."""
    return [
        Structure("BODY", Ellipsoid((-0.35, -0.6, 0.7), (0.2, 0.16, 0.15)), "breast"),
        Structure("BODY", Ellipsoid((0.35, -0.6, 0.7), (0.2, 0.16, 0.15)), "breast"),
        Structure("FDG_AVID_LUNG_TUMOR", box.sphere((-0.42, 0.05, 0.82), 12.0), "tumor"),
        Structure("FDG_AVID_LUNG_TUMOR", box.sphere((0.42, 0.12, 0.92), 8.0), "tumor"),
        Structure("FDG_AVID_BREAST_TUMOR", box.sphere((0.35, -0.66, 0.7), 9.0), "tumor"),
    ]


def abdomen_pelvis() -> list[Structure]:
    """Structures of a T2-weighted abdomen-pelvis field of view, in painting order."""
    return [
        Structure("BODY", Tube((0.0, 0.0), (0.9, 0.65)), "fat"),
        Structure("BODY", Tube((0.0, 0.02), (0.8, 0.55)), "soft_tissue"),
        Structure("BODY", Tube((0.0, 0.42), (0.11, 0.12)), "bone_cortical"),
        Structure("BODY", Tube((0.0, 0.42), (0.08, 0.09)), "bone_cancellous"),
        Structure("LIVER", Ellipsoid((-0.35, -0.05, 0.85), (0.45, 0.42, 0.22)), "liver"),
        Structure("URINARY_BLADDER", Ellipsoid((0.0, -0.2, 0.3), (0.22, 0.18, 0.12)), "urine"),
        Structure("PROSTATE", Ellipsoid((0.0, -0.05, 0.13), (0.14, 0.12, 0.09)), "prostate_peripheral"),
        Structure("PROSTATE", Ellipsoid((0.0, -0.08, 0.13), (0.09, 0.07, 0.07)), "prostate_transition"),
    ]
