"""Radiomics features (pyradiomics) of segmented structures, named by segment id, with their IBSI codes.

- :func:`extract_features`: every segment of a label map; :func:`extract_mask_features`: separate masks;
- :class:`SegmentFeatures` / :class:`RadiomicsResult`: typed results keyed by segment id;
- :func:`write_csv` / :func:`write_json` / :func:`read_json`: tables of the same numbers;
- :func:`feature_code`: the IBSI quantity and UCUM unit of a feature (``data/feature_codes.csv``).

pyradiomics is imported only when features are computed.
"""

from mhubio.radiomics.codes import FeatureCode, coded_features, feature_code
from mhubio.radiomics.extract import (
    DEFAULT_SHAPE_FEATURES,
    ExtractionConfig,
    SegmentMask,
    extract_features,
    extract_mask_features,
    pyradiomics_version,
)
from mhubio.radiomics.features import FeatureClass, MissingSegment, RadiomicsResult, SegmentFeatures
from mhubio.radiomics.table import read_json, write_csv, write_json

__all__ = [
    "DEFAULT_SHAPE_FEATURES",
    "ExtractionConfig",
    "FeatureClass",
    "FeatureCode",
    "MissingSegment",
    "RadiomicsResult",
    "SegmentFeatures",
    "SegmentMask",
    "coded_features",
    "extract_features",
    "extract_mask_features",
    "feature_code",
    "pyradiomics_version",
    "read_json",
    "write_csv",
    "write_json",
]
