"""pyradiomics feature extraction for every segment of a label map (or of a set of masks)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

from mhubio.geometry import GRID_TOLERANCE_MM, resample_labels, same_grid
from mhubio.radiomics.codes import coded_features
from mhubio.radiomics.features import FeatureClass, MissingSegment, RadiomicsResult, SegmentFeatures
from mhubio.radiomics.shape import shape_extractor

__all__ = ["DEFAULT_SHAPE_FEATURES", "ExtractionConfig", "SegmentMask", "extract_features", "extract_mask_features"]

log = logging.getLogger("mhub.module.radiomics")
"""Progress per segment goes to the series log (segment ids and timings only, no header values)."""

DEFAULT_SHAPE_FEATURES: tuple[str, ...] = tuple(c.feature for c in coded_features() if c.feature_class == "shape")
"""The 14 shape features of paper 000, Appendix D."""

_IMAGE_TYPE_PREFIX = "original_"


@dataclass(frozen=True)
class ExtractionConfig:
    """What pyradiomics computes.

    Parameters
    ----------
    classes: Sequence[FeatureClass]
        Feature classes to compute; shape only by default.
    shape_features: Sequence[str]
        Shape features to compute (pyradiomics names); by default the 14 of
        paper 000, including the deprecated Compactness1, Compactness2 and
        SphericalDisproportion.  Other classes compute all their
        non-deprecated features.
    settings: Mapping[str, Any]
        pyradiomics extractor settings (``binWidth``, ``resampledPixelSpacing``,
        ...); empty means pyradiomics' defaults, as in paper 000.
    """

    classes: Sequence[FeatureClass] = (FeatureClass.SHAPE,)
    shape_features: Sequence[str] = DEFAULT_SHAPE_FEATURES
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        classes = tuple(FeatureClass(c) for c in self.classes)
        if not classes:
            raise ValueError("ExtractionConfig needs at least one feature class")
        if FeatureClass.SHAPE in classes and not self.shape_features:
            raise ValueError("shape features are enabled but the shape feature list is empty")
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "shape_features", tuple(self.shape_features))
        object.__setattr__(self, "settings", dict(self.settings))
        if "label" in self.settings:
            raise ValueError("the pyradiomics setting 'label' is chosen per segment; remove it from the settings")


@dataclass(frozen=True)
class SegmentMask:
    """A binary (or single-label) mask of one segment.

    Parameters
    ----------
    segment_id: str
        Segment id of :mod:`mhubio.segdb`.
    label_value: int
        Label value or SEG segment number, recorded with the features.
    mask: SimpleITK.Image
        Integer image; voxels equal to ``mask_value`` belong to the segment.
    mask_value: int
        Value of the segment's voxels in ``mask``.
    """

    segment_id: str
    label_value: int
    mask: sitk.Image
    mask_value: int = 1


def pyradiomics_version() -> str:
    """Version of the installed pyradiomics, without the leading ``v``."""
    import radiomics

    return str(radiomics.__version__).lstrip("v")


def extract_features(
    image: sitk.Image,
    labels: sitk.Image,
    segments: Mapping[int, str],
    config: ExtractionConfig = ExtractionConfig(),
) -> RadiomicsResult:
    """Features of every segment of a label map.

    Parameters
    ----------
    image:
        The image (CT in HU); the label map is brought onto its grid
        (nearest neighbour) when the geometries differ.
    labels:
        Integer label map.
    segments:
        Label value -> segment id.  Labels absent from the map are reported in
        :attr:`RadiomicsResult.missing`, so that the other segments keep their
        names.

    Raises
    ------
    ValueError
        If the label map holds values without a segment id, or a segment id
        is used twice.
    """
    labels = _on_grid(labels, image)
    present = {int(v) for v in np.unique(sitk.GetArrayViewFromImage(labels))} - {0}
    unmapped = sorted(present - set(segments))
    if unmapped:
        raise ValueError(f"label values {unmapped} occur in the label map but have no segment id")
    masks = [SegmentMask(segments[v], v, labels, v) for v in sorted(segments)]
    return _extract(image, masks, config, present)


def extract_mask_features(
    image: sitk.Image,
    masks: Sequence[SegmentMask],
    config: ExtractionConfig = ExtractionConfig(),
) -> RadiomicsResult:
    """Features of segments given as separate masks (e.g. the segments of a SEG, which may overlap)."""
    masks = [SegmentMask(m.segment_id, m.label_value, _on_grid(m.mask, image), m.mask_value) for m in masks]
    present = {
        m.label_value for m in masks if np.any(sitk.GetArrayViewFromImage(m.mask) == m.mask_value)
    }
    return _extract(image, masks, config, present)


def _on_grid(mask: sitk.Image, image: sitk.Image) -> sitk.Image:
    if same_grid(mask, image, tolerance_mm=GRID_TOLERANCE_MM):
        mask = sitk.Image(mask)
        mask.CopyInformation(image)
        return mask
    log.info("resampling the mask onto the image grid (nearest neighbour)")
    return resample_labels(mask, image)


def _extract(
    image: sitk.Image, masks: Sequence[SegmentMask], config: ExtractionConfig, present: set[int]
) -> RadiomicsResult:
    extractor = _extractor(config)
    found: list[SegmentFeatures] = []
    missing: list[MissingSegment] = []
    for number, item in enumerate(masks, start=1):
        if item.label_value not in present:
            missing.append(MissingSegment(item.segment_id, item.label_value, "empty: no voxel in the mask"))
            log.info("radiomics %d/%d %s: empty, skipped", number, len(masks), item.segment_id)
            continue
        started = time.perf_counter()
        region = _segment_region(image, item) if _mask_only(config) else (image, item.mask)
        try:
            raw = extractor.execute(*region, label=item.mask_value)
        except ValueError as exc:
            missing.append(MissingSegment(item.segment_id, item.label_value, f"pyradiomics: {exc}"))
            log.info("radiomics %d/%d %s: no features (%s)", number, len(masks), item.segment_id, exc)
            continue
        log.info("radiomics %d/%d %s: %.1f s", number, len(masks), item.segment_id, time.perf_counter() - started)
        values = {
            key.removeprefix(_IMAGE_TYPE_PREFIX): float(np.asarray(value))
            for key, value in raw.items()
            if key.startswith(_IMAGE_TYPE_PREFIX)
        }
        found.append(SegmentFeatures(item.segment_id, item.label_value, values))
    return RadiomicsResult(
        found,
        missing,
        algorithm_name="pyradiomics",
        algorithm_version=pyradiomics_version(),
        settings=_recorded_settings(config),
    )


def _mask_only(config: ExtractionConfig) -> bool:
    """Whether the features depend on the mask's voxels alone: shape features on the image's own grid."""
    return config.classes == (FeatureClass.SHAPE,) and "resampledPixelSpacing" not in config.settings


def _segment_region(image: sitk.Image, item: SegmentMask) -> tuple[sitk.Image, sitk.Image]:
    """Image and mask cut to the segment's bounding box plus one voxel (pyradiomics crops to the box itself)."""
    inside = sitk.GetArrayViewFromImage(item.mask) == item.mask_value
    lower, upper = [], []
    for axis in range(3):
        hits = np.flatnonzero(inside.any(axis=tuple(a for a in range(3) if a != axis)))
        lower.append(max(int(hits[0]) - 1, 0))
        upper.append(min(int(hits[-1]) + 2, inside.shape[axis]))
    index = [int(i) for i in lower[::-1]]
    size = [u - low for low, u in zip(lower[::-1], upper[::-1], strict=True)]
    return sitk.RegionOfInterest(image, size, index), sitk.RegionOfInterest(item.mask, size, index)


def _extractor(config: ExtractionConfig) -> Any:
    import radiomics
    import radiomics.shape

    radiomics.setVerbosity(logging.ERROR)
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    extractor = shape_extractor(additionalInfo=False, **config.settings)
    extractor.disableAllImageTypes()
    extractor.enableImageTypeByName("Original")
    extractor.disableAllFeatures()
    for feature_class in config.classes:
        if feature_class is FeatureClass.SHAPE:
            known = radiomics.shape.RadiomicsShape.getFeatureNames()
            unknown = [name for name in config.shape_features if name not in known]
            if unknown:
                raise ValueError(f"unknown pyradiomics shape features {unknown} (known: {', '.join(sorted(known))})")
            extractor.enableFeaturesByName(shape=list(config.shape_features))
        else:
            extractor.enableFeatureClassByName(feature_class.value)
    return extractor


def _recorded_settings(config: ExtractionConfig) -> dict[str, str]:
    recorded = {"classes": ",".join(c.value for c in config.classes)}
    if FeatureClass.SHAPE in config.classes:
        recorded["shape_features"] = ",".join(config.shape_features)
    recorded.update({k: str(v) for k, v in sorted(config.settings.items())})
    return recorded
