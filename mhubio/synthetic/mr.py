"""Synthetic T2-weighted MR series (MR Image Storage)."""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

from mhubio.synthetic.dataset import SeriesIdentity, SyntheticPatient, common_dataset, ds_values
from mhubio.synthetic.geometry import AXIAL, SeriesGeometry
from mhubio.synthetic.phantom import Phantom, make_mr_phantom
from mhubio.synthetic.series import (
    FileNaming,
    PixelEncoding,
    SliceOrder,
    SyntheticSeries,
    phantom_and_geometry,
    series_identity,
    write_phantom_series,
)

MR_DEFAULT_SHAPE: tuple[int, int, int] = (40, 128, 128)
MR_DEFAULT_SPACING: tuple[float, float, float] = (1.5, 1.5, 4.0)


def mr_template(identity: SeriesIdentity, patient: SyntheticPatient, geometry: SeriesGeometry) -> Dataset:
    """Series-constant attributes of a 2D turbo spin echo T2-weighted MR image (MR Image module included).

    Parameters
    ----------
    identity : SeriesIdentity
        Identifiers of the series.
    patient : SyntheticPatient
        The fake patient.
    geometry : SeriesGeometry
        Slice geometry.
    """
    ds = common_dataset(identity, patient, geometry)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
    ds.LossyImageCompression = "00"
    ds.ScanningSequence = "SE"
    ds.SequenceVariant = ["SK", "SP"]
    ds.ScanOptions = "PFP"
    ds.MRAcquisitionType = "2D"
    ds.SequenceName = "*tse2d1_25"
    ds.AngioFlag = "N"
    ds.RepetitionTime = 4000
    ds.EchoTime = 100
    ds.EchoNumbers = 1
    ds.EchoTrainLength = 25
    ds.NumberOfAverages = 2
    ds.ImagingFrequency = ds_values([123.25])[0]
    ds.ImagedNucleus = "1H"
    ds.MagneticFieldStrength = 3
    ds.NumberOfPhaseEncodingSteps = geometry.shape[1]
    ds.PercentSampling = 100
    ds.PercentPhaseFieldOfView = 100
    ds.PixelBandwidth = 200
    ds.FlipAngle = 150
    ds.ReceiveCoilName = "Body"
    ds.TransmitCoilName = "Body"
    ds.InPlanePhaseEncodingDirection = "ROW"
    ds.AcquisitionMatrix = [0, geometry.shape[2], geometry.shape[1], 0]
    ds.WindowCenter = 600
    ds.WindowWidth = 1200
    return ds


def write_mr_series(
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
    frame_of_reference_uid: str | None = None,
    center: tuple[float, float, float] = (0.0, 0.0, 0.0),
    series_description: str = "Synthetic T2w TSE axial",
    patient: SyntheticPatient | None = None,
) -> SyntheticSeries:
    """Write a synthetic T2-weighted MR series (liver, urinary bladder, prostate), one MR Image Storage file per
    slice, with unsigned 16-bit pixels and no rescale.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Folder for the files (created if missing).
    phantom : Phantom, optional
        Ground truth to write; by default ``make_mr_phantom(shape, spacing, seed)``.
    shape : tuple of int, optional
        Array shape (slices, rows, columns) of the default phantom; default (40, 128, 128).
    spacing : tuple of float, optional
        Spacing (x, y, z) in mm of the default phantom; default (1.5, 1.5, 4.0).
    seed : int
        Seed of the noise and of all UIDs.
    study_uid : str, optional
        StudyInstanceUID; by default derived from the seed and patient id.
    patient_id : str
        PatientID (ignored when ``patient`` is given).
    slice_order, transfer_syntax, file_names, orientation, series_number, frame_of_reference_uid, center
        As for ``write_ct_series``.
    series_description : str
        SeriesDescription.
    patient : SyntheticPatient, optional
        The fake patient; by default a male ``SyntheticPatient(patient_id=patient_id, sex="M")``.

    Returns
    -------
    SyntheticSeries
        Files, UIDs, geometry and the ground truth as stored.
    """
    phantom, geometry = phantom_and_geometry(
        phantom, shape, spacing, seed, make=make_mr_phantom, default_shape=MR_DEFAULT_SHAPE,
        default_spacing=MR_DEFAULT_SPACING, orientation=orientation, center=center,
    )
    patient = patient or SyntheticPatient(patient_id=patient_id, sex="M")
    identity = series_identity(
        seed=seed, variant=repr((geometry, str(SliceOrder(slice_order).value), str(transfer_syntax))),
        patient=patient, study_uid=study_uid, frame_of_reference_uid=frame_of_reference_uid,
        sop_class_uid=MRImageStorage, modality="MR", series_number=series_number,
        series_description=series_description, study_description="Synthetic MR study", body_part="ABDOMEN",
    )
    return write_phantom_series(
        Path(out_dir), phantom, geometry, mr_template(identity, patient, geometry),
        PixelEncoding(1.0, 0.0, signed=False), slice_order=slice_order, transfer_syntax=transfer_syntax,
        file_names=file_names,
    )
