"""What kind of algorithm produced a segmentation: DICOM's Segment Algorithm Family and Type.

The module that makes a label map states both on its :class:`~mhubio.core.data.AlgorithmInfo`; the SEG encoder
writes them unchanged into every segment (Segment Algorithm Type (0062,0008), Segment Algorithm Family in the
Segmentation Algorithm Identification Sequence (0062,0007)).
"""

from __future__ import annotations

from enum import Enum

from pydicom.sr.coding import Code

__all__ = ["AlgorithmFamily", "AlgorithmType"]


class AlgorithmFamily(Enum):
    """Segmentation algorithm families: the concepts of DICOM CID 7162 (coding scheme DCM), by code meaning.

    The concepts of CID 7162 as pydicom's ``codes.cid7162`` lists them; :attr:`code_value` is the DCM code.
    """

    NEIGHBORHOOD_ANALYSIS = "Neighborhood Analysis"
    ADAPTIVE_FILTERING = "Adaptive Filtering"
    EDGE_DETECTION = "Edge Detection"
    MORPHOLOGICAL_OPERATIONS = "Morphological Operations"
    HISTOGRAM_ANALYSIS = "Histogram Analysis"
    """Segmentation from the intensity histogram, e.g. fixed or computed intensity thresholds."""
    MULTI_SCALE_RESOLUTION_FILTERING = "Multi-Scale/Resolution Filtering"
    CLUSTER_ANALYSIS = "Cluster Analysis"
    MULTISPECTRAL_PROCESSING = "Multispectral Processing"
    MANUAL_PROCESSING = "Manual Processing"
    ARTIFICIAL_INTELLIGENCE = "Artificial Intelligence"
    """Trained models: neural networks (nnU-Net, TotalSegmentator, body part regression)."""
    DEFORMABLE_MODELS = "Deformable Models"

    @property
    def code_value(self) -> str:
        """The DCM code value of the concept."""
        return _CODE_VALUES[self]

    @property
    def scheme_designator(self) -> str:
        """The coding scheme of CID 7162: ``DCM``."""
        return "DCM"

    @property
    def code(self) -> Code:
        """The concept as a pydicom code (value, ``DCM``, meaning)."""
        return Code(self.code_value, self.scheme_designator, self.value)


_CODE_VALUES = {
    AlgorithmFamily.NEIGHBORHOOD_ANALYSIS: "123101",
    AlgorithmFamily.ADAPTIVE_FILTERING: "123102",
    AlgorithmFamily.EDGE_DETECTION: "123103",
    AlgorithmFamily.MORPHOLOGICAL_OPERATIONS: "123104",
    AlgorithmFamily.HISTOGRAM_ANALYSIS: "123105",
    AlgorithmFamily.MULTI_SCALE_RESOLUTION_FILTERING: "123106",
    AlgorithmFamily.CLUSTER_ANALYSIS: "123107",
    AlgorithmFamily.MULTISPECTRAL_PROCESSING: "123108",
    AlgorithmFamily.MANUAL_PROCESSING: "123109",
    AlgorithmFamily.ARTIFICIAL_INTELLIGENCE: "123110",
    AlgorithmFamily.DEFORMABLE_MODELS: "123111",
}


class AlgorithmType(Enum):
    """Segment Algorithm Type (0062,0008), the defined terms of DICOM.

    ``AUTOMATIC``: computed without user input; ``SEMIAUTOMATIC``: computed automatically from user input (seeds,
    an initial contour) or edited by a user afterwards; ``MANUAL``: drawn by a user.
    """

    AUTOMATIC = "AUTOMATIC"
    SEMIAUTOMATIC = "SEMIAUTOMATIC"
    MANUAL = "MANUAL"
