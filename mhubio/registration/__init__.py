"""Resampling between image grids and rigid (translation) registration with SimpleITK.

Used to bring a CT onto the grid of its PET (PET/CT models): images are
resampled with linear (or B-spline) interpolation, label maps with nearest
neighbour only, and an optional translation is estimated by Mattes mutual
information with a fixed random seed so that runs are reproducible.
"""

from mhubio.geometry import Interpolation, resample_image, resample_labels
from mhubio.registration.translation import RegistrationResult, TranslationSettings, register_translation

__all__ = [
    "Interpolation",
    "RegistrationResult",
    "TranslationSettings",
    "register_translation",
    "resample_image",
    "resample_labels",
]
