"""Where a viewer drew a SEG: screenshot pixels compared with the label map on the displayed CT slice.

The viewport shows one axial slice fitted into its canvas and centred (cornerstone's default camera). The screenshot is
sampled at the centre of every CT pixel, the displayed slice is the CT slice whose windowed grey values correlate best
with the screenshot's brightness, and each segment's colour must appear inside that slice's segment mask.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from PIL import Image
from scipy import ndimage

COLOUR_TOLERANCE = 25
"""Largest per-channel difference between a drawn pixel and the segment's recommended display colour."""
MARGIN_PX = 2
"""How far (in CT pixels) a drawn segment pixel may lie outside its mask (outline width, resampling)."""
FAR_PX = 10
"""A drawn pixel further than this (in CT pixels) from every segment of the slice is far outside."""


@dataclass(frozen=True)
class SegmentCheck:
    """Pixels of one segment's colour on screen: how many, and how many lie inside its mask (grown by the margin)."""

    number: int
    label: str
    drawn: int
    inside: int
    far_outside: int
    mask_pixels: int

    @property
    def inside_fraction(self) -> float:
        """Share of the drawn pixels that lie inside the mask."""
        return self.inside / self.drawn if self.drawn else 0.0


def load_ct(folder: Path) -> tuple[list[str], np.ndarray, tuple[float, float]]:
    """SOPInstanceUIDs, HU volume (slice, row, column) and pixel spacing of a CT series folder."""
    datasets = [pydicom.dcmread(p) for p in sorted(folder.glob("*.dcm"))]
    volume = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in datasets])
    spacing = tuple(float(v) for v in datasets[0].PixelSpacing)
    return [str(d.SOPInstanceUID) for d in datasets], volume, spacing  # type: ignore[return-value]


def sample_viewport(png: Path, canvas: dict, shape: tuple[int, int], spacing: tuple[float, float]) -> np.ndarray:
    """The screenshot's RGB at the centre of each CT pixel, for an image fitted and centred in ``canvas``."""
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(np.int16)
    rows, cols = shape
    row_mm, col_mm = spacing
    scale = min(canvas["width"] / (cols * col_mm), canvas["height"] / (rows * row_mm))  # screen px per mm
    cx, cy = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2
    x = np.floor(cx + (np.arange(cols) + 0.5 - cols / 2) * col_mm * scale).astype(int)
    y = np.floor(cy + (np.arange(rows) + 0.5 - rows / 2) * row_mm * scale).astype(int)
    x = np.clip(x, 0, rgb.shape[1] - 1)
    y = np.clip(y, 0, rgb.shape[0] - 1)
    return rgb[y[:, None], x[None, :]]


def displayed_slice(sampled: np.ndarray, volume: np.ndarray, window: tuple[float, float] = (400, 60)) -> int:
    """Index of the CT slice whose windowed grey values correlate best with the screenshot's brightness."""
    width, level = window
    brightness = sampled.mean(axis=-1).ravel()
    brightness = (brightness - brightness.mean()) / (brightness.std() or 1.0)
    scores = []
    for hu in volume:
        grey = np.clip((hu - (level - width / 2)) / width, 0, 1).ravel()
        scores.append(float(np.mean(brightness * (grey - grey.mean()) / (grey.std() or 1.0))))
    return int(np.argmax(scores))


def check_segments(seg_path: Path, sop_uids: list[str], sampled: np.ndarray, index: int) -> list[SegmentCheck]:
    """For each segment: the screen pixels of its colour and how many lie inside its mask on slice ``index``."""
    seg = hd.seg.segread(seg_path)
    masks = seg.get_pixels_by_source_instance(
        [sop_uids[index]], ignore_spatial_locations=True, combine_segments=False, assert_missing_frames_are_empty=True,
    )[0]
    anywhere = ndimage.binary_dilation(masks.any(axis=-1), iterations=FAR_PX)
    checks = []
    for position, item in enumerate(seg.SegmentSequence):
        colour = np.array(hd.color.CIELabColor.from_dicom_value(item.RecommendedDisplayCIELabValue).to_rgb())
        drawn = np.abs(sampled - colour).max(axis=-1) < COLOUR_TOLERANCE
        mask = masks[..., position].astype(bool)
        grown = ndimage.binary_dilation(mask, iterations=MARGIN_PX) if mask.any() else mask
        checks.append(SegmentCheck(int(item.SegmentNumber), str(item.SegmentLabel), int(drawn.sum()),
                                   int((drawn & grown).sum()), int((drawn & ~anywhere).sum()), int(mask.sum())))
    return checks
