"""DICOM instances and series as indexed by the scanner, with their 3D geometry."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk
from pydicom import dcmread
from pydicom.dataset import Dataset

from mhubio.dicom._quiet import quiet_pydicom
from mhubio.geometry import SeriesGeometry, SeriesGeometryError, orientation_normal

__all__ = [
    "DicomInstance",
    "DicomSeries",
    "SeriesGeometry",
    "SeriesGeometryError",
    "orientation_normal",
]


@dataclass(frozen=True, slots=True)
class DicomInstance:
    """Minimal header of one single-frame DICOM file, or of one frame of an enhanced multi-frame file.

    A multi-frame file whose frames carry their own plane (Enhanced CT, Enhanced MR,
    Legacy Converted Enhanced) is indexed as one instance per frame: the frame's
    position, orientation, pixel measures and rescale from the functional groups,
    the file's other values, and ``frame_number``.

    Parameters
    ----------
    path
        Location of the file; it is never copied.
    sop_instance_uid, series_instance_uid, study_instance_uid
        Identifiers; validated to be non-empty.
    sop_class_uid
        SOP Class UID (may be empty for files without one).
    modality
        Modality code string, e.g. ``"CT"``.
    image_position, image_orientation
        ImagePositionPatient (3 values) and ImageOrientationPatient (6 values), or
        ``None`` when the file has none.
    pixel_spacing
        PixelSpacing as (row spacing, column spacing) in mm, or ``None``.
    rows, columns
        Matrix size, or ``None``.
    bits_allocated, samples_per_pixel
        Declared pixel layout, or ``None``; with the matrix size and NumberOfFrames
        they bound the memory that decoding the pixel data takes.
    rescale_slope, rescale_intercept
        RescaleSlope and RescaleIntercept, or ``None`` when absent.
    frame_number
        One-based frame of a multi-frame file this instance stands for, ``None`` for a whole file.
    """

    path: Path
    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    sop_class_uid: str = ""
    frame_of_reference_uid: str = ""
    modality: str = ""
    patient_id: str = field(default="", repr=False)
    series_number: int | None = None
    series_description: str = ""
    instance_number: int | None = None
    acquisition_time: str = ""
    image_type: tuple[str, ...] = ()
    image_position: tuple[float, float, float] | None = None
    image_orientation: tuple[float, float, float, float, float, float] | None = None
    pixel_spacing: tuple[float, float] | None = None
    slice_thickness: float | None = None
    rows: int | None = None
    columns: int | None = None
    number_of_frames: int = 1
    transfer_syntax_uid: str = ""
    bits_allocated: int | None = None
    samples_per_pixel: int | None = None
    rescale_slope: float | None = None
    rescale_intercept: float | None = None
    frame_number: int | None = None

    def __post_init__(self) -> None:
        for name in ("sop_instance_uid", "series_instance_uid", "study_instance_uid"):
            if not getattr(self, name):
                raise ValueError(f"{name} is empty")
        for keyword, value, count in (
            ("ImagePositionPatient", self.image_position, 3),
            ("ImageOrientationPatient", self.image_orientation, 6),
            ("PixelSpacing", self.pixel_spacing, 2),
        ):
            if value is not None and len(value) != count:
                raise ValueError(f"{keyword} must have {count} values, got {len(value)}")
        if self.frame_number is not None and not 1 <= self.frame_number <= self.number_of_frames:
            raise ValueError(f"frame number {self.frame_number} outside 1..{self.number_of_frames}")

    @property
    def is_frame(self) -> bool:
        """Whether this instance is one frame of an enhanced multi-frame file."""
        return self.frame_number is not None

    @property
    def label(self) -> str:
        """The file name, and the frame for a frame of a multi-frame file (for messages)."""
        return self.path.name if self.frame_number is None else f"{self.path.name} frame {self.frame_number}"

    @property
    def is_localizer(self) -> bool:
        """Whether ImageType marks the image as a localizer (scout)."""
        return "LOCALIZER" in self.image_type

    @property
    def has_geometry(self) -> bool:
        """Whether position, orientation, spacing and matrix size are all present."""
        return None not in (
            self.image_position,
            self.image_orientation,
            self.pixel_spacing,
            self.rows,
            self.columns,
        )


@dataclass(frozen=True)
class DicomSeries:
    """All indexed instances that share one SeriesInstanceUID.

    Series-level attributes are taken from the first instance in file order;
    their consistency across instances is the job of :func:`mhubio.dicom.qc.run_qc`.

    Parameters
    ----------
    instances
        One or more instances of the same series.
    """

    instances: tuple[DicomInstance, ...]

    def __post_init__(self) -> None:
        instances = tuple(sorted(self.instances, key=lambda i: str(i.path)))
        if not instances:
            raise ValueError("a DicomSeries needs at least one instance")
        uids = {i.series_instance_uid for i in instances}
        if len(uids) != 1:
            raise ValueError(f"instances of several series given: {sorted(uids)}")
        object.__setattr__(self, "instances", instances)

    @property
    def _first(self) -> DicomInstance:
        return self.instances[0]

    @property
    def series_uid(self) -> str:
        """SeriesInstanceUID."""
        return self._first.series_instance_uid

    @property
    def study_uid(self) -> str:
        """StudyInstanceUID."""
        return self._first.study_instance_uid

    @property
    def frame_of_reference_uid(self) -> str:
        """FrameOfReferenceUID (empty string when absent)."""
        return self._first.frame_of_reference_uid

    @property
    def modality(self) -> str:
        """Modality."""
        return self._first.modality

    @property
    def patient_id(self) -> str:
        """PatientID (not to be used in messages or logs)."""
        return self._first.patient_id

    @property
    def series_number(self) -> int | None:
        """SeriesNumber."""
        return self._first.series_number

    @property
    def series_description(self) -> str:
        """SeriesDescription."""
        return self._first.series_description

    @property
    def acquisition_time(self) -> str:
        """Earliest AcquisitionTime of the series (empty string when absent)."""
        times = sorted(i.acquisition_time for i in self.instances if i.acquisition_time)
        return times[0] if times else ""

    @property
    def label(self) -> str:
        """Identification for messages: SeriesNumber and SeriesInstanceUID, no PHI."""
        number = "?" if self.series_number is None else str(self.series_number)
        return f"series {number} ({self.series_uid})"

    @property
    def files(self) -> tuple[Path, ...]:
        """Paths of all files in file-name order (a multi-frame file once)."""
        return tuple(dict.fromkeys(i.path for i in self.instances))

    def __len__(self) -> int:
        return len(self.instances)

    def __repr__(self) -> str:
        return f"DicomSeries({self.label}, {len(self.instances)} instances)"

    def without(self, paths: Iterable[Path]) -> DicomSeries:
        """Return a copy of the series without the instances at ``paths``."""
        drop = set(paths)
        return DicomSeries(tuple(i for i in self.instances if i.path not in drop))

    @cached_property
    def slice_normal(self) -> np.ndarray:
        """Unit normal (row x column direction) of the first instance's orientation."""
        orientation = self._first.image_orientation
        if orientation is None:
            raise SeriesGeometryError(f"{self.label}: ImageOrientationPatient is missing")
        try:
            return orientation_normal(orientation)
        except SeriesGeometryError as error:
            raise SeriesGeometryError(f"{self.label}: {error}") from error

    def slice_locations(self, instances: Sequence[DicomInstance] | None = None) -> np.ndarray:
        """Distances (mm) of instance positions along the slice normal."""
        chosen = self.instances if instances is None else instances
        missing = [i.label for i in chosen if i.image_position is None]
        if missing:
            raise SeriesGeometryError(
                f"{self.label}: ImagePositionPatient is missing in {len(missing)} file(s), "
                f"e.g. {missing[0]}"
            )
        positions = np.asarray([i.image_position for i in chosen], dtype=float)
        return positions @ self.slice_normal

    def sorted_instances(self) -> tuple[DicomInstance, ...]:
        """Instances sorted along the slice normal (ascending position . normal), sorted once.

        Ties (equal positions) are broken by InstanceNumber, then by path.
        """
        return self._sorted

    @cached_property
    def _sorted(self) -> tuple[DicomInstance, ...]:
        locations = self.slice_locations()
        order = sorted(
            range(len(self.instances)),
            key=lambda k: (
                locations[k],
                self.instances[k].instance_number or 0,
                str(self.instances[k].path),
            ),
        )
        return tuple(self.instances[k] for k in order)

    def sorted_files(self) -> tuple[Path, ...]:
        """Paths sorted along the slice normal (see :meth:`sorted_instances`; a multi-frame file once)."""
        return tuple(dict.fromkeys(i.path for i in self.sorted_instances()))

    def sorted_sop_instances(self) -> tuple[DicomInstance, ...]:
        """:meth:`sorted_instances` with each SOP instance once (the first frame of a multi-frame file)."""
        unique: dict[str, DicomInstance] = {}
        for instance in self.sorted_instances():
            unique.setdefault(instance.sop_instance_uid, instance)
        return tuple(unique.values())

    @cached_property
    def geometry(self) -> SeriesGeometry:
        """Voxel grid of the series built from its DICOM headers (see :meth:`SeriesGeometry.from_slices`).

        Raises
        ------
        SeriesGeometryError
            If a geometry attribute is missing from an instance.
        """
        incomplete = [i for i in self.instances if not i.has_geometry]
        if incomplete:
            raise SeriesGeometryError(
                f"{self.label}: {len(incomplete)} file(s) lack ImagePositionPatient, "
                f"ImageOrientationPatient, PixelSpacing, Rows or Columns, "
                f"e.g. {incomplete[0].label}"
            )
        ordered = self.sorted_instances()
        first = ordered[0]
        assert first.image_orientation is not None and first.pixel_spacing is not None
        assert first.image_position is not None and first.rows and first.columns
        return SeriesGeometry.from_slices(
            first.image_position,
            first.image_orientation,
            first.pixel_spacing,
            first.rows,
            first.columns,
            self.slice_locations(ordered),
            first.slice_thickness,
        )

    def reference_image(self) -> sitk.Image:
        """Empty ``SimpleITK.Image`` carrying the series geometry."""
        return self.geometry.reference_image()

    def headers(self) -> tuple[Dataset, ...]:
        """Complete headers (no pixel data) of :meth:`sorted_sop_instances`, e.g. the source images of a SEG.

        A series of enhanced multi-frame images gives one header per file, with its functional groups.

        Each file is parsed at most once per process: the headers kept by the
        pixel read (:func:`mhubio.dicom.volume.read_series_image`) are reused, and
        headers read here are kept until :meth:`release_headers`.

        Raises
        ------
        SeriesGeometryError
            If a file cannot be read again or no longer holds the indexed instance.
        """
        kept = self.__dict__.get("_headers")
        if kept is None:
            kept = tuple(self._read_header(i) for i in self.sorted_sop_instances())
            self.keep_headers(kept)
        return kept

    def _read_header(self, instance: DicomInstance) -> Dataset:
        try:
            with quiet_pydicom():
                return dcmread(instance.path, stop_before_pixels=True, force=True)
        except Exception as exc:  # malformed files make pydicom raise almost anything
            raise SeriesGeometryError(
                f"{self.label}: {instance.label} changed since the input was scanned (cannot be read: {exc})"
            ) from exc

    def keep_headers(self, datasets: Sequence[Dataset]) -> None:
        """Keep the headers of :meth:`sorted_sop_instances` (in that order) for :meth:`headers`.

        Raises
        ------
        SeriesGeometryError
            If the datasets are not those of the sorted instances.
        """
        indexed = [i.sop_instance_uid for i in self.sorted_sop_instances()]
        given = [str(ds.get("SOPInstanceUID", "")).strip() for ds in datasets]
        if given != indexed:
            pairs = zip(self.sorted_sop_instances(), given, strict=False)  # a file may have been removed
            changed = next((i.path.name for i, uid in pairs if i.sop_instance_uid != uid), "a file")
            raise SeriesGeometryError(f"{self.label}: {changed} changed since the input was scanned")
        self.__dict__["_headers"] = tuple(datasets)

    def release_headers(self) -> None:
        """Forget the kept headers (they are read again when needed)."""
        self.__dict__.pop("_headers", None)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled state (for worker processes): the index, sorting and geometry, not the kept headers."""
        state = dict(self.__dict__)
        state.pop("_headers", None)
        return state
