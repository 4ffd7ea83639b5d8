"""Synthetic CT series (CT Image Storage)."""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from mhubio.synthetic.dataset import SeriesIdentity, SyntheticPatient, common_dataset, ds_values
from mhubio.synthetic.geometry import AXIAL, SeriesGeometry
from mhubio.synthetic.phantom import Phantom, make_ct_phantom
from mhubio.synthetic.series import (
    FileNaming,
    PixelEncoding,
    SliceOrder,
    SyntheticSeries,
    phantom_and_geometry,
    series_identity,
    write_phantom_series,
)

CT_DEFAULT_SHAPE: tuple[int, int, int] = (64, 128, 128)
CT_DEFAULT_SPACING: tuple[float, float, float] = (0.8, 0.8, 2.5)


def ct_template(identity: SeriesIdentity, patient: SyntheticPatient, geometry: SeriesGeometry,
                encoding: PixelEncoding) -> Dataset:
    """Series-constant attributes of a CT image, CT Image and VOI LUT modules included.

    Parameters
    ----------
    identity : SeriesIdentity
        Identifiers of the series.
    patient : SyntheticPatient
        The fake patient.
    geometry : SeriesGeometry
        Slice geometry.
    encoding : PixelEncoding
        Rescale slope and intercept.
    """
    ds = common_dataset(identity, patient, geometry)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.LossyImageCompression = "00"
    ds.RescaleIntercept = ds_values([encoding.intercept])[0]
    ds.RescaleSlope = ds_values([encoding.slope])[0]
    ds.RescaleType = "HU"
    ds.KVP = 120
    ds.DataCollectionDiameter = 500
    ds.ReconstructionDiameter = ds_values([max(geometry.shape[1] * geometry.spacing[1],
                                               geometry.shape[2] * geometry.spacing[0])])[0]
    ds.GantryDetectorTilt = 0
    ds.TableHeight = 150
    ds.RotationDirection = "CW"
    ds.ExposureTime = 500
    ds.XRayTubeCurrent = 200
    ds.ConvolutionKernel = "STANDARD"
    ds.ScanOptions = "HELICAL MODE"
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    ds.WindowCenterWidthExplanation = "SOFT TISSUE"
    return ds


def write_ct_series(
    out_dir: str | Path,
    *,
    phantom: Phantom | None = None,
    shape: tuple[int, int, int] | None = None,
    spacing: tuple[float, float, float] | None = None,
    seed: int = 0,
    study_uid: str | None = None,
    patient_id: str = "MHUB-DEMO-0001",
    slice_order: SliceOrder | str = SliceOrder.ASCENDING,
    transfer_syntax: str = ExplicitVRLittleEndian,
    file_names: FileNaming | str = FileNaming.INSTANCE,
    orientation: tuple[float, float, float, float, float, float] = AXIAL,
    series_number: int = 1,
    rescale_slope: float = 1.0,
    rescale_intercept: float = -1024.0,
    frame_of_reference_uid: str | None = None,
    center: tuple[float, float, float] = (0.0, 0.0, 0.0),
    series_description: str = "Synthetic chest-abdomen CT",
    patient: SyntheticPatient | None = None,
) -> SyntheticSeries:
    """Write a synthetic CT series, one CT Image Storage file per slice.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Folder for the files (created if missing).
    phantom : Phantom, optional
        Ground truth to write; by default ``make_ct_phantom(shape, spacing, seed)``.
    shape : tuple of int, optional
        Array shape (slices, rows, columns) of the default phantom; default (64, 128, 128).
    spacing : tuple of float, optional
        Spacing (x, y, z) in mm of the default phantom; default (0.8, 0.8, 2.5).
    seed : int
        Seed of the noise and of all UIDs: the same arguments give byte-identical files. The UIDs depend on the
        seed and the writing parameters, not on the content of a given ``phantom``: vary ``seed`` or
        ``series_number`` when writing different phantoms into one study.
    study_uid : str, optional
        StudyInstanceUID; by default derived from the seed and patient id.
    patient_id : str
        PatientID (ignored when ``patient`` is given).
    slice_order : SliceOrder or str
        "ascending": InstanceNumber 1 is the lowest slice along the normal; "descending": the highest.
    transfer_syntax : str
        Explicit VR Little Endian, RLE Lossless, JPEG 2000 Lossless or JPEG-LS Lossless.
    file_names : FileNaming or str
        "instance" (``CT_0001.dcm`` ...) or "random" (hex names without extension).
    orientation : tuple of float
        ImageOrientationPatient; any two orthonormal direction cosines (axial by default).
    series_number : int
        SeriesNumber (also enters the series UIDs).
    rescale_slope, rescale_intercept : float
        RescaleSlope and RescaleIntercept. Stored pixels are unsigned when the intercept is -1024 or lower,
        signed otherwise.
    frame_of_reference_uid : str, optional
        FrameOfReferenceUID; by default derived from the study and series.
    center : tuple of float
        Patient coordinates (mm) of the volume centre.
    series_description : str
        SeriesDescription.
    patient : SyntheticPatient, optional
        The fake patient; by default ``SyntheticPatient(patient_id=patient_id)``.

    Returns
    -------
    SyntheticSeries
        Files, UIDs, geometry and the ground truth as stored.
    """
    phantom, geometry = phantom_and_geometry(
        phantom, shape, spacing, seed, make=make_ct_phantom, default_shape=CT_DEFAULT_SHAPE,
        default_spacing=CT_DEFAULT_SPACING, orientation=orientation, center=center,
    )
    patient = patient or SyntheticPatient(patient_id=patient_id)
    encoding = PixelEncoding(rescale_slope, rescale_intercept, signed=rescale_intercept > -1024)
    identity = series_identity(
        seed=seed, variant=repr((geometry, str(SliceOrder(slice_order).value), str(transfer_syntax),
                                 rescale_slope, rescale_intercept)),
        patient=patient, study_uid=study_uid, frame_of_reference_uid=frame_of_reference_uid,
        sop_class_uid=CTImageStorage, modality="CT", series_number=series_number,
        series_description=series_description, study_description="Synthetic CT study", body_part="CHEST",
    )
    return write_phantom_series(
        Path(out_dir), phantom, geometry, ct_template(identity, patient, geometry, encoding), encoding,
        slice_order=slice_order, transfer_syntax=transfer_syntax, file_names=file_names,
    )
