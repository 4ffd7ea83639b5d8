"""RadiomicsRunner: pyradiomics features of every segment of a label map or a DICOM SEG."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import highdicom as hd
import SimpleITK as sitk
from pydantic import field_validator

from mhubio.core.data import AlgorithmInfo, DataItem, Instance
from mhubio.core.errors import StepError
from mhubio.core.filetypes import FileType
from mhubio.core.module import Input, Module, Output
from mhubio.core.params import Params
from mhubio.radiomics import (
    DEFAULT_SHAPE_FEATURES,
    ExtractionConfig,
    FeatureClass,
    RadiomicsResult,
    SegmentMask,
    extract_features,
    extract_mask_features,
    write_csv,
    write_json,
)
from mhubio.seg.codes import is_unregistered_id
from mhubio.seg.decode import (
    DEFAULT_FRACTIONAL_THRESHOLD,
    FRACTIONAL_THRESHOLD_META,
    decode_segments,
    segment_mask,
)
from mhubio.segdb import SegmentMap, get_segment

SettingValue = bool | int | float | str | list[float] | None


class RadiomicsRunner(Module):
    """Compute radiomics features (shape by default: the 14 of paper 000) for every segment.

    The segmentation is a label map (``nifti:mod=seg`` with its label ->
    segment id map) or a DICOM SEG (``dicomseg:mod=seg``; overlaps allowed;
    FRACTIONAL segments thresholded as the item's ``fractional_threshold``
    says): the segments the item names (SegmentNumber -> name, set by the
    importer that read it, e.g. from RT ROIs), else every segment, named from
    its codes or, without a registry entry, ``segment-<number>``.  Results are
    named by segment id; empty or
    too small segments are listed as missing and never shift the names of the
    others.  ``include`` limits the work to some segment ids.  The shape
    features are pyradiomics' (its mesh measured in linear time, see
    :mod:`mhubio.radiomics.mesh`); the series log gets one progress line per
    segment.  Writes a JSON table (read by
    :class:`RadiomicsSREncoder`) and a CSV table of the same numbers.
    """

    class Params(Params):
        feature_classes: list[FeatureClass] = [FeatureClass.SHAPE]
        shape_features: list[str] = list(DEFAULT_SHAPE_FEATURES)
        settings: dict[str, SettingValue] = {}
        segment_map: SegmentMap = None
        include: list[str] | None = None
        """Segment ids to measure: registry ids, or ``segment-<number>`` for SEG segments without one."""

        @field_validator("include")
        @classmethod
        def _known_ids(cls, value: list[str] | None) -> list[str] | None:
            if value is not None and not value:
                raise ValueError("include must name at least one segment id, or be null for all")
            for segment_id in value or []:
                if is_unregistered_id(segment_id):
                    continue
                try:
                    get_segment(segment_id)
                except KeyError as exc:
                    raise ValueError(f"{exc.args[0]} SEG segments without a registry entry are named "
                                     "segment-<SegmentNumber>.") from None
            return value

        @field_validator("settings")
        @classmethod
        def _no_label(cls, value: dict[str, SettingValue]) -> dict[str, SettingValue]:
            if "label" in value:
                raise ValueError("'label' is chosen per segment; remove it from settings")
            return value

    inputs = {
        "image": Input("nifti:mod=ct", description="image the features are computed on", needs_file=False),
        "segmentation": Input("nifti:mod=seg", description="label map, or a DICOM SEG (dicomseg:mod=seg)",
                              needs_file=False),
    }
    outputs = {
        "features": Output(FileType.JSON, {"kind": "radiomics"}, optional=True),
        "table": Output(FileType.CSV, {"kind": "radiomics"}, optional=True),
    }

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        """Extract the features and write both tables."""
        config = ExtractionConfig(self.params.feature_classes, self.params.shape_features, self.params.settings)
        image = inputs["image"].read_image()
        segmentation: DataItem = inputs["segmentation"]
        try:
            if segmentation.type is FileType.DICOMSEG:
                result = self._from_seg(image, segmentation, config)
            elif segmentation.type in (FileType.NIFTI, FileType.NRRD):
                result = self._from_label_map(image, segmentation, config)
            else:
                raise StepError(f"segmentation {segmentation} is neither a label map nor a DICOM SEG")
        except ValueError as exc:
            raise StepError(f"radiomics on {segmentation.path.name}: {exc}") from exc
        for missing in result.missing:
            instance.warn(f"no radiomics features for {missing.segment_id} (label {missing.label_value}): "
                          f"{missing.reason}")
        if not result.segments:
            instance.warn("no segment has radiomics features; no tables written")
            return
        algorithm = AlgorithmInfo(
            result.algorithm_name, result.algorithm_version, parameters=dict(result.settings),
        )
        for name, writer in (("features", write_json), ("table", write_csv)):
            item = outputs[name]
            writer(result, item.path)
            item.algorithm = algorithm

    def _from_label_map(self, image: sitk.Image, item: DataItem, config: ExtractionConfig) -> RadiomicsResult:
        segments = self.params.segment_map or item.labels
        if not segments:
            raise StepError(
                f"label map {item.path.name} has no label -> segment id map; set RadiomicsRunner.segment_map "
                "or use a runner that records one"
            )
        labels = item.read_image()
        if self.params.include is None:
            return extract_features(image, labels, segments, config)
        masks = [SegmentMask(i, v, labels, v) for v, i in sorted(segments.items())]
        return extract_mask_features(image, self._selected(masks), config)

    def _from_seg(self, image: sitk.Image, item: DataItem, config: ExtractionConfig) -> RadiomicsResult:
        seg = hd.seg.segread(item.path)
        threshold = float(item.meta.get(FRACTIONAL_THRESHOLD_META, DEFAULT_FRACTIONAL_THRESHOLD))
        if item.labels:
            masks = [SegmentMask(name, number, segment_mask(seg, number, image, threshold))
                     for number, name in item.labels.items()]
            return extract_mask_features(image, self._selected(masks), config)
        decoded = decode_segments(seg, image, threshold)
        masks = [SegmentMask(d.segment_id, d.number, d.mask) for d in decoded]
        return extract_mask_features(image, self._selected(masks), config)

    def _selected(self, masks: list[SegmentMask]) -> list[SegmentMask]:
        """The masks named in ``include`` (all when it is not set)."""
        if self.params.include is None:
            return masks
        available = {m.segment_id for m in masks}
        absent = sorted(set(self.params.include) - available)
        if absent:
            raise StepError(f"RadiomicsRunner.include names segments the segmentation does not have: "
                            f"{', '.join(absent)} (it has {', '.join(sorted(available))})")
        return [m for m in masks if m.segment_id in self.params.include]
