"""Synthetic FDG PET/CT: a PET series (PET Image Storage, Bq/ml) and a CT series of one study and frame of
reference on different grids."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import ExplicitVRLittleEndian, PositronEmissionTomographyImageStorage
from pydicom.valuerep import DSfloat

from mhubio.synthetic.ct import write_ct_series
from mhubio.synthetic.dataset import SeriesIdentity, SyntheticPatient, common_dataset
from mhubio.synthetic.geometry import AXIAL, SeriesGeometry
from mhubio.synthetic.phantom import make_pet_ct_phantoms
from mhubio.synthetic.series import (
    FileNaming,
    PixelEncoding,
    SliceOrder,
    SyntheticSeries,
    series_identity,
    write_phantom_series,
)
from mhubio.synthetic.uids import synthetic_uid

F18_HALF_LIFE_S = 6586.2
"""Half-life of fluorine-18 (s)."""

F18_POSITRON_FRACTION = 0.9673
"""Positron fraction of fluorine-18."""


def _seconds(hhmmss: str) -> int:
    return int(hhmmss[:2]) * 3600 + int(hhmmss[2:4]) * 60 + int(hhmmss[4:6])


def _code_item(code: Code) -> Dataset:
    item = Dataset()
    item.CodeValue = code.value
    item.CodingSchemeDesignator = code.scheme_designator
    item.CodeMeaning = code.meaning
    return item


@dataclass(frozen=True)
class FdgAcquisition:
    """Injection and acquisition timing of a static FDG PET scan.

    Parameters
    ----------
    injected_dose_bq : float
        RadionuclideTotalDose (Bq) at injection.
    injection_time : str
        RadiopharmaceuticalStartTime (HHMMSS).
    series_time : str
        SeriesTime and AcquisitionTime of the PET (HHMMSS); the decay-correction reference (DecayCorrection START).
    frame_duration_s : float
        ActualFrameDuration (s) of the single bed position.
    """

    injected_dose_bq: float = 370.0e6
    injection_time: str = "110000"
    series_time: str = "120000"
    frame_duration_s: float = 180.0

    def __post_init__(self) -> None:
        if not self.injected_dose_bq > 0 or not self.frame_duration_s > 0:
            raise ValueError("injected dose and frame duration must be positive")
        if _seconds(self.series_time) <= _seconds(self.injection_time):
            raise ValueError(f"PET series time {self.series_time} must follow injection time {self.injection_time}")

    @property
    def uptake_s(self) -> int:
        """Seconds from injection to the decay-correction reference."""
        return _seconds(self.series_time) - _seconds(self.injection_time)

    def bqml_per_suv(self, weight_kg: float) -> float:
        """Activity concentration (Bq/ml) of SUV 1 (body weight, 1 g = 1 ml), decay-corrected to series start."""
        decayed_dose = self.injected_dose_bq * 2.0 ** (-self.uptake_s / F18_HALF_LIFE_S)
        return decayed_dose / (weight_kg * 1000.0)


def pet_template(identity: SeriesIdentity, patient: SyntheticPatient, geometry: SeriesGeometry,
                 encoding: PixelEncoding, acquisition: FdgAcquisition) -> Dataset:
    """Series-constant attributes of a static FDG PET image (PET Series, PET Isotope, NM/PET Patient Orientation
    and PET Image modules).

    Parameters
    ----------
    identity : SeriesIdentity
        Identifiers of the series.
    patient : SyntheticPatient
        The fake patient (PatientWeight is needed for SUV).
    geometry : SeriesGeometry
        Slice geometry.
    encoding : PixelEncoding
        Rescale slope (the intercept of PET images is 0).
    acquisition : FdgAcquisition
        Dose and timing.
    """
    ds = common_dataset(identity, patient, geometry)
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.LossyImageCompression = "00"
    ds.Units = "BQML"
    ds.CountsSource = "EMISSION"
    ds.SeriesType = ["STATIC", "IMAGE"]
    ds.NumberOfSlices = geometry.shape[0]
    ds.CorrectedImage = ["NORM", "DTIM", "ATTN", "SCAT", "DECY", "RAN"]
    ds.DecayCorrection = "START"
    ds.RandomsCorrectionMethod = "DLYD"
    ds.AttenuationCorrectionMethod = "CT-based"
    ds.ScatterCorrectionMethod = "Model-based"
    ds.ReconstructionMethod = "OSEM 3i21s"
    ds.CollimatorType = "NONE"
    ds.AcquisitionStartCondition = "MANU"
    ds.AcquisitionTerminationCondition = "TIME"

    radiopharmaceutical = Dataset()
    radiopharmaceutical.Radiopharmaceutical = "Fluorodeoxyglucose"
    radiopharmaceutical.RadiopharmaceuticalRoute = "Intravenous route"
    radiopharmaceutical.RadiopharmaceuticalStartTime = acquisition.injection_time
    radiopharmaceutical.RadiopharmaceuticalStartDateTime = ds.SeriesDate + acquisition.injection_time
    radiopharmaceutical.RadionuclideTotalDose = DSfloat(acquisition.injected_dose_bq, auto_format=True)
    radiopharmaceutical.RadionuclideHalfLife = DSfloat(F18_HALF_LIFE_S, auto_format=True)
    radiopharmaceutical.RadionuclidePositronFraction = DSfloat(F18_POSITRON_FRACTION, auto_format=True)
    radiopharmaceutical.RadionuclideCodeSequence = [_code_item(codes.SCT._18Fluorine)]
    radiopharmaceutical.RadiopharmaceuticalCodeSequence = [_code_item(codes.SCT.FluorodeoxyglucoseF18)]
    radiopharmaceutical.AdministrationRouteCodeSequence = [_code_item(codes.SCT.IntravenousRoute)]
    ds.RadiopharmaceuticalInformationSequence = [radiopharmaceutical]

    del ds.PatientPosition  # NM/PET images give the position as codes instead
    orientation = _code_item(codes.SCT.Recumbent)
    orientation.PatientOrientationModifierCodeSequence = [_code_item(codes.SCT.Supine)]
    ds.PatientOrientationCodeSequence = [orientation]
    ds.PatientGantryRelationshipCodeSequence = [_code_item(codes.SCT.Headfirst)]

    frame_reference_ms = acquisition.frame_duration_s * 500.0
    ds.RescaleIntercept = 0
    ds.RescaleSlope = DSfloat(encoding.slope, auto_format=True)
    ds.FrameReferenceTime = DSfloat(frame_reference_ms, auto_format=True)
    ds.ActualFrameDuration = int(acquisition.frame_duration_s * 1000)
    decay_constant = math.log(2.0) / F18_HALF_LIFE_S
    ds.DecayFactor = DSfloat(math.exp(decay_constant * frame_reference_ms / 1000.0), auto_format=True)
    ds.DoseCalibrationFactor = 1
    ds.WindowCenter = DSfloat(2.5 * acquisition.bqml_per_suv(patient.weight_kg), auto_format=True)
    ds.WindowWidth = DSfloat(5.0 * acquisition.bqml_per_suv(patient.weight_kg), auto_format=True)
    return ds


def _set_image_index(ds: Dataset, index: int) -> None:
    ds.ImageIndex = ds.InstanceNumber


def write_pet_ct_pair(
    out_dir: str | Path,
    *,
    seed: int = 0,
    study_uid: str | None = None,
    patient_id: str = "MHUB-DEMO-0001",
    ct_shape: tuple[int, int, int] = (60, 128, 128),
    ct_spacing: tuple[float, float, float] = (3.0, 3.0, 3.0),
    pet_shape: tuple[int, int, int] = (45, 96, 96),
    pet_spacing: tuple[float, float, float] = (4.0, 4.0, 4.0),
    slice_order: SliceOrder | str = SliceOrder.ASCENDING,
    transfer_syntax: str = ExplicitVRLittleEndian,
    file_names: FileNaming | str = FileNaming.INSTANCE,
    acquisition: FdgAcquisition = FdgAcquisition(),
    patient: SyntheticPatient | None = None,
) -> tuple[SyntheticSeries, SyntheticSeries]:
    """Write an FDG PET/CT study: a CT series in ``out_dir/CT`` and a PET series in ``out_dir/PT``.

    Both series share StudyInstanceUID and FrameOfReferenceUID and are centred on the same point, on different
    grids. The anatomy is that of the CT phantom plus breasts, with FDG-avid tumours in both lungs and the left
    breast (segments ``FDG_AVID_LUNG_TUMOR`` and ``FDG_AVID_BREAST_TUMOR``).

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Parent folder of the two series folders.
    seed : int
        Seed of the noise and of all UIDs.
    study_uid : str, optional
        StudyInstanceUID; by default derived from the seed and patient id.
    patient_id : str
        PatientID (ignored when ``patient`` is given).
    ct_shape, pet_shape : tuple of int
        Array shapes (slices, rows, columns).
    ct_spacing, pet_spacing : tuple of float
        Spacings (x, y, z) in mm.
    slice_order, transfer_syntax, file_names
        As for ``write_ct_series``, used for both series.
    acquisition : FdgAcquisition
        Injected dose and timing.
    patient : SyntheticPatient, optional
        The fake patient; by default a 70 kg female ``SyntheticPatient(patient_id=patient_id)``.

    Returns
    -------
    tuple of SyntheticSeries
        CT series (HU) and PET series; the PET phantom image is in Bq/ml as stored, its SUV (body weight) is the
        image divided by ``acquisition.bqml_per_suv(patient.weight_kg)``.
    """
    out_dir = Path(out_dir)
    patient = patient or SyntheticPatient(patient_id=patient_id, sex="F", weight_kg=70.0, size_m=1.68)
    study = study_uid or synthetic_uid(seed, patient.patient_id, "study")
    frame_of_reference = synthetic_uid(seed, study, "pet-ct", "frame-of-reference")
    ct_geometry = SeriesGeometry.centered(ct_shape, ct_spacing, AXIAL)
    pet_geometry = SeriesGeometry.centered(pet_shape, pet_spacing, AXIAL)
    ct_phantom, suv_phantom = make_pet_ct_phantoms(ct_geometry, pet_geometry, seed)

    ct = write_ct_series(
        out_dir / "CT", phantom=ct_phantom, seed=seed, study_uid=study, slice_order=slice_order,
        transfer_syntax=transfer_syntax, file_names=file_names, series_number=1,
        frame_of_reference_uid=frame_of_reference, series_description="Synthetic PET/CT: CT", patient=patient,
    )

    bqml = suv_phantom.image * acquisition.bqml_per_suv(patient.weight_kg)
    slope = float(DSfloat(max(float(bqml.max()), 1.0) / 32767.0, auto_format=True))
    encoding = PixelEncoding(slope, 0.0, signed=True)
    identity = series_identity(
        seed=seed, variant=repr((pet_geometry, str(SliceOrder(slice_order).value), str(transfer_syntax),
                                 acquisition)),
        patient=patient, study_uid=study, frame_of_reference_uid=frame_of_reference,
        sop_class_uid=PositronEmissionTomographyImageStorage, modality="PT", series_number=2,
        series_description="Synthetic PET/CT: FDG PET AC", study_description="Synthetic CT study",
        body_part="CHEST", series_time=acquisition.series_time,
    )
    pet = write_phantom_series(
        out_dir / "PT", replace(suv_phantom, image=bqml), pet_geometry,
        pet_template(identity, patient, pet_geometry, encoding, acquisition), encoding,
        slice_order=slice_order, transfer_syntax=transfer_syntax, file_names=file_names,
        slice_hook=_set_image_index,
    )
    return ct, pet
