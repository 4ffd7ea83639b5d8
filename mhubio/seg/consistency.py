"""Checks of a third-party DICOM SEG against the image series it claims to describe."""

from __future__ import annotations

from enum import Enum

import numpy as np
import SimpleITK as sitk
from pydicom.dataset import Dataset

from mhubio.core.errors import StepError
from mhubio.dicom.series import DicomSeries

__all__ = ["MissingReferencePolicy", "SegCheck", "SegMismatchError", "check_seg_against_series"]


class SegCheck(str, Enum):
    """The checks, in the order they are applied."""

    FRAME_OF_REFERENCE = "frame_of_reference"
    REFERENCED_INSTANCES = "referenced_instances"
    OVERLAP = "overlap"


class MissingReferencePolicy(str, Enum):
    """What to do when the SEG references images that are not in the series."""

    REJECT = "reject"
    WARN = "warn"


class SegMismatchError(StepError):
    """The SEG does not describe the image series; ``check`` names the failed check."""

    def __init__(self, check: SegCheck, detail: str) -> None:
        self.check = check
        super().__init__(f"SEG check '{check.value}' failed: {detail}")

    def __reduce__(self) -> tuple[type[SegMismatchError], tuple[SegCheck, str]]:
        """Pickle by check and detail (errors travel back from worker processes)."""
        return type(self), (self.check, str(self).split(": ", 1)[1])


def check_seg_against_series(
    seg: Dataset,
    series: DicomSeries,
    missing_references: MissingReferencePolicy = MissingReferencePolicy.REJECT,
) -> list[str]:
    """Check that ``seg`` belongs to the indexed ``series`` (and overlaps its voxel grid).

    Returns
    -------
    list of str
        Warnings (referenced instances missing under the ``warn`` policy).

    Raises
    ------
    SegMismatchError
        Another FrameOfReferenceUID; referenced instances missing under ``reject``; no
        frame of the SEG overlapping the image volume.
    """
    series_for = series.frame_of_reference_uid
    seg_for = str(seg.get("FrameOfReferenceUID", ""))
    if seg_for != series_for:
        raise SegMismatchError(
            SegCheck.FRAME_OF_REFERENCE,
            f"the SEG's FrameOfReferenceUID {seg_for or '(none)'} is not the series' {series_for or '(none)'}",
        )
    warnings = []
    missing = _referenced_instances(seg) - {i.sop_instance_uid for i in series.sorted_instances()}
    if missing:
        detail = f"{len(missing)} referenced image(s) are not in the series, e.g. {sorted(missing)[0]}"
        if missing_references is MissingReferencePolicy.REJECT:
            raise SegMismatchError(SegCheck.REFERENCED_INSTANCES, detail)
        warnings.append(f"SEG check '{SegCheck.REFERENCED_INSTANCES.value}': {detail}")
    if not _overlaps(seg, series.reference_image()):
        raise SegMismatchError(SegCheck.OVERLAP, "no frame of the SEG lies inside the image volume")
    return warnings


def _referenced_instances(seg: Dataset) -> set[str]:
    uids = {
        str(item.ReferencedSOPInstanceUID)
        for series in seg.get("ReferencedSeriesSequence", [])
        for item in series.get("ReferencedInstanceSequence", [])
    }
    for frame in seg.get("PerFrameFunctionalGroupsSequence", []):
        for derivation in frame.get("DerivationImageSequence", []):
            uids.update(str(s.ReferencedSOPInstanceUID) for s in derivation.get("SourceImageSequence", []))
    return uids


def _overlaps(seg: Dataset, reference: sitk.Image) -> bool:
    """Whether the bounding box of the SEG's frames meets the image volume (in voxel index space)."""
    shared = seg.SharedFunctionalGroupsSequence[0]
    orientation = np.asarray(shared.PlaneOrientationSequence[0].ImageOrientationPatient, dtype=float)
    row_spacing, column_spacing = (float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing)
    across = orientation[:3] * column_spacing * (int(seg.Columns) - 1)
    down = orientation[3:] * row_spacing * (int(seg.Rows) - 1)
    corners = []
    for frame in seg.get("PerFrameFunctionalGroupsSequence", []):
        origin = np.asarray(frame.PlanePositionSequence[0].ImagePositionPatient, dtype=float)
        corners += [origin, origin + across, origin + down, origin + across + down]
    if not corners:
        return False
    indices = np.asarray([reference.TransformPhysicalPointToContinuousIndex(c.tolist()) for c in corners])
    size = np.asarray(reference.GetSize(), dtype=float)
    return bool(np.all(indices.max(axis=0) >= -0.5) and np.all(indices.min(axis=0) <= size - 0.5))
