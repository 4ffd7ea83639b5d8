"""Shared data for the radiomics tests: a synthetic CT series, its label map and a SEG of it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import SimpleITK as sitk

from mhubio.core.algorithm import AlgorithmFamily
from mhubio.core.data import AlgorithmInfo
from mhubio.radiomics import DEFAULT_SHAPE_FEATURES
from mhubio.seg import SegOptions, encode_segmentation, load_source_images
from mhubio.synthetic import SyntheticSeries, write_ct_series


def pyradiomics_shape(image: sitk.Image, mask: sitk.Image,
                      features: Sequence[str] = DEFAULT_SHAPE_FEATURES) -> dict[str, float]:
    """pyradiomics' own output for one binary mask (label 1): the shape ``features`` enabled by name, keyed
    ``shape_<Name>``."""
    from radiomics import featureextractor

    extractor = featureextractor.RadiomicsFeatureExtractor()
    extractor.disableAllFeatures()
    extractor.enableFeaturesByName(shape=list(features))
    raw = extractor.execute(image, mask, label=1)
    return {k.removeprefix("original_"): float(v) for k, v in raw.items() if k.startswith("original_shape_")}


THRESHOLDER_WITH_RADIOMICS = """\
general:
  model: thresholder
  version: "1.0.0"
  description: Thresholder segmentation, its SEG, then shape radiomics of its segments as a TID 1500 SR.
execute:
  - DicomImporter
  - NiftiConverter
  - Thresholder
  - SegEncoder
  - RadiomicsRunner
  - RadiomicsSREncoder
  - DataOrganizer
modules:
  DicomImporter:
    modalities: [CT]
  DataOrganizer:
    targets:
      "dicomseg:mod=seg": "{SeriesInstanceUID}/{model}.seg.dcm"
      "dicomsr:kind=radiomics": "{SeriesInstanceUID}/{model}.radiomics.sr.dcm"
      "csv:kind=radiomics": "{SeriesInstanceUID}/{model}.radiomics.csv"
"""

SMALL_SHAPE = (24, 64, 64)
SMALL_SPACING = (2.0, 2.0, 3.0)


@dataclass
class CtWithSeg:
    """A CT series on disk, its CT image, a label map on its grid, and a SEG of that label map."""

    series: SyntheticSeries
    image: sitk.Image
    labels: sitk.Image
    segments: dict[int, str]
    seg_path: Path
    segment_numbers: dict[int, int]

    @property
    def headers(self) -> list[pydicom.Dataset]:
        return load_source_images(self.series.files)

    @property
    def seg(self) -> pydicom.Dataset:
        return pydicom.dcmread(self.seg_path)


def ct_image(series: SyntheticSeries) -> sitk.Image:
    """The CT in HU on the series grid."""
    image = sitk.GetImageFromArray(series.phantom.image)
    image.SetOrigin(series.origin)
    image.SetSpacing(series.spacing)
    image.SetDirection(series.direction)
    return image


def label_image(array: np.ndarray, like: sitk.Image) -> sitk.Image:
    labels = sitk.GetImageFromArray(array.astype(np.uint8))
    labels.CopyInformation(like)
    return labels


def write_seg(
    labels: sitk.Image, series: SyntheticSeries, segments: Mapping[int, str], path: Path, keep_empty: bool = False
):
    """Encode ``labels`` as a BINARY SEG of ``series``; returns label value -> segment number."""
    result = encode_segmentation(
        labels, load_source_images(series.files), segments,
        AlgorithmInfo("Test segmenter", "1.0", AlgorithmFamily.ARTIFICIAL_INTELLIGENCE),
        SegOptions(keep_empty=keep_empty),
    )
    result.dataset.save_as(path, enforce_file_format=True)
    return result.segment_numbers


def make_ct_with_seg(
    folder: Path,
    *,
    drop: tuple[str, ...] = (),
    seed: int = 0,
    shape: tuple[int, int, int] = SMALL_SHAPE,
    spacing: tuple[float, float, float] = SMALL_SPACING,
    keep: tuple[str, ...] | None = None,
    keep_empty: bool = False,
    series_number: int = 1,
) -> CtWithSeg:
    """CT series in ``folder/ct``, SEG in ``folder/seg.dcm``; segments in ``drop`` are erased from the labels
    (kept in the segment map), only ``keep`` segments are mapped when given."""
    series = write_ct_series(folder / "ct", shape=shape, spacing=spacing, seed=seed, series_number=series_number)
    image = ct_image(series)
    names = series.phantom.label_names
    array = series.phantom.labels.copy()
    if keep is not None:
        array[~np.isin(array, [v for v, n in names.items() if n in keep])] = 0
        names = {v: n for v, n in names.items() if n in keep}
    for name in drop:
        array[array == series.phantom.label_value(name)] = 0
    labels = label_image(array, image)
    numbers = write_seg(labels, series, names, folder / "seg.dcm", keep_empty)
    return CtWithSeg(series, image, labels, dict(names), folder / "seg.dcm", numbers)


def read_sr(path: Path) -> hd.sr.EnhancedSR:
    return hd.sr.srread(path)
