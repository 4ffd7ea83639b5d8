"""Segment volumes in the tables, read from SEG pixel bytes in place (native syntaxes) or decoded frame by frame
(compressed): BINARY (frames byte-aligned or not), FRACTIONAL and LABELMAP (8 and 16 bits), overlapping segments
and SEGs that store only their non-empty frames, each against the masks the SEG was made from."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes

from mhubio.geometry import sort_datasets
from mhubio.synthetic import write_ct_series
from mhubio.tables.extract import _scanned_segment_numbers, output_rows

SPACING = (0.8, 0.8, 2.5)


def _sources(root: Path, shape: tuple[int, int, int]) -> list[pydicom.Dataset]:
    series = write_ct_series(root, shape=shape, spacing=SPACING, seed=3)
    return sort_datasets([pydicom.dcmread(path) for path in series.files])


def _description(number: int, algorithm: hd.AlgorithmIdentificationSequence) -> hd.seg.SegmentDescription:
    return hd.seg.SegmentDescription(
        segment_number=number, segment_label=f"segment {number}",
        segmented_property_category=codes.SCT.Tissue, segmented_property_type=codes.SCT.Tissue,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC, algorithm_identification=algorithm)


def _write_seg(root: Path, sources: list[pydicom.Dataset], pixels: np.ndarray, kind: hd.seg.SegmentationTypeValues,
               segments: int, syntax: str = pydicom.uid.ExplicitVRLittleEndian) -> Path:
    algorithm = hd.AlgorithmIdentificationSequence("test", codes.DCM.ArtificialIntelligence, "1")
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=pixels, segmentation_type=kind,
        segment_descriptions=[_description(n, algorithm) for n in range(1, segments + 1)],
        series_instance_uid=hd.UID(), series_number=1, sop_instance_uid=hd.UID(), instance_number=1,
        manufacturer="test", manufacturer_model_name="test", software_versions="1", device_serial_number="1",
        max_fractional_value=255, transfer_syntax_uid=syntax)
    path = root / f"{kind.value.lower()}-{segments}-{syntax}.seg.dcm"
    seg.save_as(path)
    return path


def _volumes(path: Path) -> dict[int, float]:
    rows = output_rows(path, path.parent, series_uid="1.2.3", model="test")["measurements"]
    return {row["segmentationSegmentNumber"]: row["value"] for row in rows}


def _expected(counts: dict[int, int]) -> dict[int, float]:
    return {number: count * SPACING[0] * SPACING[1] * SPACING[2] for number, count in counts.items()}


def _masks(shape: tuple[int, int, int], segments: int, seed: int = 0) -> np.ndarray:
    """Overlapping random masks, (slices, rows, columns, segments); the first and last slices empty."""
    masks = np.random.default_rng(seed).random((*shape, segments)) < 0.3
    masks[0] = masks[-1] = False
    return masks


@pytest.mark.parametrize("shape", [(6, 16, 16), (6, 5, 7)], ids=["frames-byte-aligned", "frames-split-bytes"])
@pytest.mark.parametrize("syntax", [pydicom.uid.ExplicitVRLittleEndian, pydicom.uid.ImplicitVRLittleEndian])
def test_binary_volumes_equal_the_masks(tmp_path, shape, syntax):
    masks = _masks(shape, 3)
    path = _write_seg(tmp_path, _sources(tmp_path / "ct", shape), masks, hd.seg.SegmentationTypeValues.BINARY, 3,
                      syntax)
    assert _volumes(path) == pytest.approx(_expected({n: int(masks[..., n - 1].sum()) for n in (1, 2, 3)}))


@pytest.mark.parametrize("syntax", [pydicom.uid.ExplicitVRLittleEndian, pydicom.uid.RLELossless])
def test_fractional_volumes_count_nonzero_voxels(tmp_path, syntax):
    shape = (5, 12, 10)
    fractions = np.random.default_rng(1).random((*shape, 2)).astype(np.float32)
    fractions[fractions < 0.5] = 0.0
    path = _write_seg(tmp_path, _sources(tmp_path / "ct", shape), fractions,
                      hd.seg.SegmentationTypeValues.FRACTIONAL, 2, syntax)
    stored = np.round(fractions * 255)
    assert _volumes(path) == pytest.approx(_expected({n: int(np.count_nonzero(stored[..., n - 1]))
                                                      for n in (1, 2)}))


@pytest.mark.parametrize(("segments", "syntax"), [(3, pydicom.uid.ExplicitVRLittleEndian),
                                                  (3, pydicom.uid.RLELossless),
                                                  (300, pydicom.uid.ExplicitVRLittleEndian)],
                         ids=["8-bit", "8-bit-rle", "16-bit"])
def test_labelmap_volumes_equal_the_label_counts(tmp_path, segments, syntax):
    shape = (4, 20, 20)
    labels = np.random.default_rng(2).integers(0, segments + 1, shape).astype(np.uint16)
    path = _write_seg(tmp_path, _sources(tmp_path / "ct", shape), labels,
                      hd.seg.SegmentationTypeValues.LABELMAP, segments, syntax)
    assert int(pydicom.dcmread(path, stop_before_pixels=True).BitsAllocated) == (16 if segments > 255 else 8)
    counts = np.bincount(labels.ravel(), minlength=segments + 1)  # highdicom describes the background as 0
    assert _volumes(path) == pytest.approx(_expected({n: int(counts[n]) for n in range(segments + 1)}))


def _parsed_segment_numbers(path: Path) -> list[int]:
    seg = pydicom.dcmread(path, stop_before_pixels=True)
    return [int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
            for item in seg.PerFrameFunctionalGroupsSequence]


@pytest.mark.parametrize("syntax", [pydicom.uid.ExplicitVRLittleEndian, pydicom.uid.ImplicitVRLittleEndian])
def test_segment_numbers_found_in_the_encoded_groups_equal_the_parsed_ones(tmp_path, syntax):
    shape = (6, 16, 16)
    path = _write_seg(tmp_path, _sources(tmp_path / "ct", shape), _masks(shape, 4),
                      hd.seg.SegmentationTypeValues.BINARY, 4, syntax)
    seg = pydicom.dcmread(path)
    found = _scanned_segment_numbers(seg, int(seg.NumberOfFrames))
    assert found is not None
    assert found == _parsed_segment_numbers(path)
    assert set(found) == {1, 2, 3, 4}


def test_segment_numbers_are_parsed_when_other_elements_hold_the_same_bytes(tmp_path):
    # a SEG derived from a SEG: each frame's source reference also names a segment, (0062,000B) as well
    shape = (6, 16, 16)
    masks = _masks(shape, 3)
    path = _write_seg(tmp_path, _sources(tmp_path / "ct", shape), masks, hd.seg.SegmentationTypeValues.BINARY, 3)
    seg = pydicom.dcmread(path)
    for item in seg.PerFrameFunctionalGroupsSequence:
        item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSegmentNumber = 3
    seg.save_as(path)
    reread = pydicom.dcmread(path)
    # the groups are still encoded (not parsed on reading), so it is the count that sends them to the parser
    assert isinstance(reread.get_item("PerFrameFunctionalGroupsSequence"), pydicom.dataelem.RawDataElement)
    assert _scanned_segment_numbers(reread, int(reread.NumberOfFrames)) is None
    assert _volumes(path) == pytest.approx(_expected({n: int(masks[..., n - 1].sum()) for n in (1, 2, 3)}))


def test_a_segment_identified_in_the_shared_groups_counts_every_frame(tmp_path):
    shape = (5, 16, 16)
    masks = _masks(shape, 1)
    path = _write_seg(tmp_path, _sources(tmp_path / "ct", shape), masks, hd.seg.SegmentationTypeValues.BINARY, 1)
    seg = pydicom.dcmread(path)
    assert "SegmentIdentificationSequence" in seg.SharedFunctionalGroupsSequence[0]  # highdicom, for one segment
    assert "SegmentIdentificationSequence" not in seg.PerFrameFunctionalGroupsSequence[0]
    assert _volumes(path) == pytest.approx(_expected({1: int(masks.sum())}))
