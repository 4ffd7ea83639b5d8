"""Base of the steps that build DICOM objects (SEG, SR, RTSTRUCT) with highdicom."""

from __future__ import annotations

from mhubio.core.module import Module
from mhubio.dicom.standard import load_standard_tables


class HighdicomWriter(Module):
    """A step that builds DICOM objects with highdicom: forked workers share highdicom's tables of the standard."""

    def preload(self) -> None:
        """Load highdicom's tables of the standard (:func:`~mhubio.dicom.standard.load_standard_tables`)."""
        load_standard_tables()
