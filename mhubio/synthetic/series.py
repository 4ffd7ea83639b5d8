"""Writing a stack of slices as a DICOM series, and the description of what was written."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import get_encoder
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
)
from pydicom.valuerep import DSfloat

from mhubio.core.fileio import atomic_path
from mhubio.synthetic.dataset import SeriesIdentity, SyntheticPatient, ds_values
from mhubio.synthetic.geometry import SeriesGeometry, orientation_cosines
from mhubio.synthetic.phantom import Phantom
from mhubio.synthetic.uids import synthetic_uid

TRANSFER_SYNTAXES: tuple[UID, ...] = (ExplicitVRLittleEndian, RLELossless, JPEG2000Lossless, JPEGLSLossless)
"""Transfer syntaxes the generator writes (compressed ones need their pydicom encoder plugin)."""

J2K_MIN_SIZE = 32
"""Smallest number of rows and columns the JPEG 2000 encoder (pylibjpeg-openjpeg) accepts."""


class SliceOrder(str, Enum):
    """Order of InstanceNumber along the slice normal."""

    ASCENDING = "ascending"
    DESCENDING = "descending"


class FileNaming(str, Enum):
    """How the files of a series are named."""

    INSTANCE = "instance"
    """``<MODALITY>_<InstanceNumber:04d>.dcm``."""
    RANDOM = "random"
    """A hex name derived from the SOP Instance UID, without extension (as unsorted exports look)."""


@dataclass(frozen=True)
class SyntheticSeries:
    """A written synthetic DICOM series and its ground truth.

    Parameters
    ----------
    directory : pathlib.Path
        Folder holding the files (and nothing else of this series).
    files : list of pathlib.Path
        Files in acquisition order (InstanceNumber 1, 2, ...).
    sop_instance_uids : list of str
        SOPInstanceUID of each file, in the order of ``files``.
    study_uid, series_uid, frame_of_reference_uid : str
        StudyInstanceUID, SeriesInstanceUID and FrameOfReferenceUID.
    modality : str
        DICOM modality ("CT", "MR", "PT").
    phantom : Phantom
        Ground truth as stored (after rescale), slices sorted by position along the slice normal, ascending.
    geometry : SeriesGeometry
        Geometry of ``phantom``: ``geometry.origin`` is ImagePositionPatient of its slice 0.
    """

    directory: Path
    files: list[Path]
    sop_instance_uids: list[str]
    study_uid: str
    series_uid: str
    frame_of_reference_uid: str
    modality: str
    phantom: Phantom
    geometry: SeriesGeometry

    @property
    def origin(self) -> tuple[float, float, float]:
        """Position of voxel (0, 0, 0), as SimpleITK's ``GetOrigin()`` reports it."""
        return self.geometry.origin

    @property
    def direction(self) -> tuple[float, ...]:
        """Direction matrix, as SimpleITK's ``GetDirection()`` reports it."""
        return self.geometry.direction

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Spacing (x, y, z) in mm, as SimpleITK's ``GetSpacing()`` reports it."""
        return self.geometry.spacing


@dataclass(frozen=True)
class PixelEncoding:
    """How real-world values map to stored pixel values: ``value = stored * slope + intercept``.

    Parameters
    ----------
    slope, intercept : float
        RescaleSlope and RescaleIntercept.
    signed : bool
        Whether stored values are int16 (PixelRepresentation 1) rather than uint16.
    """

    slope: float
    intercept: float
    signed: bool

    def __post_init__(self) -> None:
        if not self.slope > 0:
            raise ValueError(f"rescale slope must be positive, got {self.slope}")

    @property
    def dtype(self) -> np.dtype:
        """numpy dtype of the stored values."""
        return np.dtype(np.int16 if self.signed else np.uint16)

    def store(self, image: np.ndarray, what: str) -> np.ndarray:
        """Stored values of ``image``; raises if any value does not fit the stored range.

        Parameters
        ----------
        image : numpy.ndarray
            Real-world values.
        what : str
            Name of the series, for the error message.
        """
        stored = np.rint((image - np.float32(self.intercept)) / np.float32(self.slope))
        info = np.iinfo(self.dtype)
        low, high = float(stored.min()), float(stored.max())
        if low < info.min or high > info.max:
            raise ValueError(
                f"{what}: values {float(image.min())}..{float(image.max())} do not fit {self.dtype} stored pixels "
                f"with slope {self.slope} and intercept {self.intercept}; change the rescale parameters")
        return stored.astype(self.dtype)

    def restore(self, stored: np.ndarray) -> np.ndarray:
        """Real-world float32 values of ``stored``."""
        image = stored.astype(np.float32)
        image *= np.float32(self.slope)
        image += np.float32(self.intercept)
        return image


def check_transfer_syntax(transfer_syntax: str) -> UID:
    """``transfer_syntax`` as a UID after checking that the generator can write it.

    Raises
    ------
    ValueError
        For an unsupported transfer syntax, or a compressed one whose encoder plugin is not installed.
    """
    uid = UID(transfer_syntax)
    if uid not in TRANSFER_SYNTAXES:
        raise ValueError(f"transfer syntax {uid} ({uid.name}) is not supported; use one of "
                         f"{[ts.name for ts in TRANSFER_SYNTAXES]}")
    if uid.is_compressed:
        encoder = get_encoder(uid)
        if not encoder.is_available:
            raise ValueError(f"no encoder for {uid.name} is installed: {encoder.missing_dependencies}")
    return uid


SliceHook = Callable[[Dataset, int], None]
"""Adds per-slice attributes to a dataset; called with the dataset and the slice's index along the normal."""


def write_slices(
    out_dir: Path,
    template: Dataset,
    geometry: SeriesGeometry,
    stored: np.ndarray,
    *,
    bits_stored: int,
    slice_order: SliceOrder,
    file_naming: FileNaming,
    transfer_syntax: UID,
    slice_hook: SliceHook | None = None,
) -> tuple[list[Path], list[str]]:
    """Write one file per slice; each file is written under a temporary name and then renamed.

    Parameters
    ----------
    out_dir : pathlib.Path
        Target folder (created if missing).
    template : pydicom.dataset.Dataset
        Series-constant attributes, including the SeriesInstanceUID.
    geometry : SeriesGeometry
        Geometry of ``stored``.
    stored : numpy.ndarray
        Stored pixel values (slices, rows, columns), slices ascending along the normal.
    bits_stored : int
        BitsStored.
    slice_order : SliceOrder
        Whether InstanceNumber 1 is the lowest (ascending) or highest slice along the normal.
    file_naming : FileNaming
        File name scheme.
    transfer_syntax : pydicom.uid.UID
        Transfer syntax, checked with ``check_transfer_syntax``.
    slice_hook : callable, optional
        Adds per-slice attributes.

    Returns
    -------
    files, sop_instance_uids : list
        In InstanceNumber order.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    n_slices = stored.shape[0]
    indices = range(n_slices) if slice_order is SliceOrder.ASCENDING else range(n_slices - 1, -1, -1)
    files: list[Path] = []
    uids: list[str] = []
    for instance_number, index in enumerate(indices, start=1):
        ds = copy.deepcopy(template)
        sop_uid = synthetic_uid(template.SeriesInstanceUID, "instance", index)
        ds.SOPInstanceUID = sop_uid
        ds.InstanceNumber = instance_number
        position = geometry.slice_position(index)
        ds.ImagePositionPatient = ds_values(position)
        ds.SliceLocation = DSfloat(float(np.dot(position, geometry.normal)), auto_format=True)
        if slice_hook is not None:
            slice_hook(ds, index)
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.set_pixel_data(stored[index], "MONOCHROME2", bits_stored, generate_instance_uid=False)
        if transfer_syntax.is_compressed:
            ds.compress(transfer_syntax, generate_instance_uid=False)
        name = (f"{ds.Modality}_{instance_number:04d}.dcm" if file_naming is FileNaming.INSTANCE
                else hashlib.sha1(sop_uid.encode()).hexdigest()[:16])
        path = out_dir / name
        with atomic_path(path) as partial:
            ds.save_as(partial, enforce_file_format=True)
        files.append(path)
        uids.append(str(sop_uid))
    return files, uids


def series_identity(
    *,
    seed: int,
    variant: str,
    patient: SyntheticPatient,
    study_uid: str | None,
    frame_of_reference_uid: str | None,
    sop_class_uid: str,
    modality: str,
    series_number: int,
    series_description: str,
    study_description: str,
    body_part: str,
    series_time: str = "120500",
) -> SeriesIdentity:
    """Identity of a synthetic series with UIDs derived from the seed.

    Parameters
    ----------
    seed : int
        Seed of the data set.
    variant : str
        Everything else that changes the written content (shape, slice order, transfer syntax, ...), so that
        differently written series never share a SeriesInstanceUID.
    patient : SyntheticPatient
        The fake patient; the default StudyInstanceUID depends on its id.
    study_uid, frame_of_reference_uid : str, optional
        Given UIDs; derived from the seed when None.
    sop_class_uid, modality, series_number, series_description, study_description, body_part, series_time
        See ``SeriesIdentity``.
    """
    study = study_uid or synthetic_uid(seed, patient.patient_id, "study")
    series = synthetic_uid(seed, study, modality, series_number, variant, "series")
    frame = frame_of_reference_uid or synthetic_uid(seed, series, "frame-of-reference")
    return SeriesIdentity(sop_class_uid, modality, study, series, frame, series_number, series_description,
                          study_description, body_part, series_time)


PhantomMaker = Callable[[tuple[int, int, int], tuple[float, float, float], int], Phantom]
"""Builds a default phantom from (shape, spacing, seed)."""


def phantom_and_geometry(
    phantom: Phantom | None,
    shape: tuple[int, int, int] | None,
    spacing: tuple[float, float, float] | None,
    seed: int,
    *,
    make: PhantomMaker,
    default_shape: tuple[int, int, int],
    default_spacing: tuple[float, float, float],
    orientation: tuple[float, float, float, float, float, float],
    center: tuple[float, float, float],
) -> tuple[Phantom, SeriesGeometry]:
    """The phantom to write and its geometry, centred on ``center`` with ``orientation``.

    Parameters
    ----------
    phantom : Phantom, optional
        The given ground truth; by default ``make(shape or default_shape, spacing or default_spacing, seed)``.
    shape, spacing : tuple, optional
        Array shape (slices, rows, columns) and spacing (x, y, z) in mm of the default phantom.
    seed : int
        Seed of the default phantom's noise.
    make : callable
        Builds the default phantom.
    default_shape, default_spacing : tuple
        Used where ``shape`` or ``spacing`` is None.
    orientation : tuple of float
        ImageOrientationPatient.
    center : tuple of float
        Patient coordinates (mm) of the volume centre.

    Raises
    ------
    ValueError
        If both a phantom and a shape or spacing are given.
    """
    if phantom is None:
        phantom = make(shape or default_shape, spacing or default_spacing, seed)
    elif shape is not None or spacing is not None:
        raise ValueError("give either a phantom or shape/spacing, not both")
    geometry = SeriesGeometry.centered(phantom.shape, phantom.spacing, orientation_cosines(tuple(orientation)), center)
    return phantom, geometry


def write_phantom_series(
    out_dir: Path,
    phantom: Phantom,
    geometry: SeriesGeometry,
    template: Dataset,
    encoding: PixelEncoding,
    *,
    slice_order: SliceOrder | str,
    transfer_syntax: str,
    file_names: FileNaming | str,
    slice_hook: SliceHook | None = None,
) -> SyntheticSeries:
    """Store ``phantom`` with ``encoding`` and write it as one file per slice.

    Parameters
    ----------
    out_dir : pathlib.Path
        Target folder.
    phantom : Phantom
        Ground truth in real-world values.
    geometry : SeriesGeometry
        Geometry of the phantom.
    template : pydicom.dataset.Dataset
        Series-constant attributes (from ``common_dataset`` plus the modality's modules).
    encoding : PixelEncoding
        Rescale and signedness of the stored pixels.
    slice_order, transfer_syntax, file_names
        See ``write_slices``.
    slice_hook : callable, optional
        Adds per-slice attributes.

    Returns
    -------
    SyntheticSeries
        With the phantom image replaced by the values a reader gets back after rescaling.
    """
    if phantom.shape != geometry.shape:
        raise ValueError(f"phantom shape {phantom.shape} differs from geometry shape {geometry.shape}")
    what = f"series {template.SeriesDescription!r}"
    transfer_syntax = check_transfer_syntax(transfer_syntax)
    if transfer_syntax == JPEG2000Lossless and min(geometry.shape[1:]) < J2K_MIN_SIZE:
        raise ValueError(f"{what}: the JPEG 2000 encoder (6 wavelet levels) needs at least {J2K_MIN_SIZE} rows and "
                         f"columns, got {geometry.shape[1:]}; use a larger shape or another transfer syntax")
    stored = encoding.store(phantom.image, what)
    files, uids = write_slices(
        out_dir, template, geometry, stored, bits_stored=16, slice_order=SliceOrder(slice_order),
        file_naming=FileNaming(file_names), transfer_syntax=transfer_syntax, slice_hook=slice_hook,
    )
    return SyntheticSeries(
        directory=out_dir, files=files, sop_instance_uids=uids, study_uid=str(template.StudyInstanceUID),
        series_uid=str(template.SeriesInstanceUID), frame_of_reference_uid=str(template.FrameOfReferenceUID),
        modality=str(template.Modality), phantom=replace(phantom, image=encoding.restore(stored)),
        geometry=geometry,
    )
