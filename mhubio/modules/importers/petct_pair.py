"""PetCtPairImporter: one instance per FDG PET series paired with the CT of its PET/CT acquisition.

Pairing rule (per PET series that passed series QC):

1. candidates are the CT series that passed QC and belong to the same study
   (StudyInstanceUID) and patient;
2. CTs that share the PET's FrameOfReferenceUID are preferred: if any exist,
   only they remain;
3. otherwise a CT qualifies when both AcquisitionTimes are known and at most
   ``max_time_difference_s`` apart;
4. exactly one remaining CT makes a pair; none or several skip the PET series
   with the check ``pairing`` and the candidates named in the reason.

Several CTs for one PET are never resolved by guessing (a low-dose attenuation
CT and a diagnostic CT of one study look alike): the PET is skipped, and when
no pair is left the run ends with exit code 3 (NO_INPUT).  CT series that no
PET uses are listed as skipped too.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field
from pydicom import dcmread

from mhubio.core.data import DataItem, Instance
from mhubio.core.filetypes import FileType
from mhubio.core.module import Importer, ImportResult, Output, SkippedSeries
from mhubio.core.naming import path_inside, safe_name
from mhubio.core.params import Params
from mhubio.dicom.qc import QCConfig, run_qc, settings_of_step
from mhubio.dicom.scan import scan_folder
from mhubio.dicom.series import DicomSeries
from mhubio.dicom.walk import ScanLimits

PAIRING_CHECK = "pairing"
ATTENUATION_CHECK = "attenuation_correction"
MODALITY_CHECK = "modality"


@dataclass(frozen=True)
class SeriesPair:
    """A PET series and the CT series it was paired with."""

    pet: DicomSeries
    ct: DicomSeries
    rule: str
    """How the pair was found: ``frame_of_reference`` or ``acquisition_time``."""


@dataclass(frozen=True)
class UnpairedSeries:
    """A series left without a partner, and why."""

    series: DicomSeries
    reason: str


def acquisition_seconds(value: str) -> float | None:
    """Seconds since midnight of a DICOM TM value (``HHMMSS.FFFFFF``, parts optional); ``None`` if invalid."""
    text = value.strip()
    digits, _, fraction = text.partition(".")
    if not digits.isdigit() or len(digits) not in (2, 4, 6) or (fraction and not fraction.isdigit()):
        return None
    hours, minutes, seconds = int(digits[:2]), int(digits[2:4] or 0), int(digits[4:6] or 0)
    if hours > 23 or minutes > 59 or seconds > 60:
        return None
    return hours * 3600 + minutes * 60 + seconds + (float(f"0.{fraction}") if fraction else 0.0)


def pair_pet_with_ct(
    pets: Sequence[DicomSeries], cts: Sequence[DicomSeries], max_time_difference_s: float
) -> tuple[list[SeriesPair], list[UnpairedSeries]]:
    """Pair every PET series with exactly one CT series (see the module docstring for the rule).

    Parameters
    ----------
    pets, cts:
        Series that passed QC.
    max_time_difference_s:
        Largest AcquisitionTime difference accepted when the frames of reference differ.

    Returns
    -------
    tuple
        The pairs (in PET order), and the PET and CT series left unpaired with the reason.
    """
    pairs: list[SeriesPair] = []
    unpaired: list[UnpairedSeries] = []
    for pet in pets:
        same_study = [ct for ct in cts if ct.study_uid == pet.study_uid and ct.patient_id == pet.patient_id]
        same_frame = [ct for ct in same_study if pet.frame_of_reference_uid
                      and ct.frame_of_reference_uid == pet.frame_of_reference_uid]
        if same_frame:
            candidates, rule = same_frame, "frame_of_reference"
        else:
            candidates, rule = _close_in_time(pet, same_study, max_time_difference_s), "acquisition_time"
        if len(candidates) == 1:
            pairs.append(SeriesPair(pet, candidates[0], rule))
        elif not candidates:
            unpaired.append(UnpairedSeries(pet, _no_ct_reason(pet, same_study, max_time_difference_s)))
        else:
            names = ", ".join(ct.label for ct in candidates)
            unpaired.append(UnpairedSeries(
                pet,
                f"PET {pet.label} is ambiguous: {len(candidates)} CT series match by {rule.replace('_', ' ')} "
                f"({names}); leave exactly one CT of this PET/CT acquisition in the input folder",
            ))
    used = {pair.ct.series_uid for pair in pairs}
    for ct in cts:
        if ct.series_uid not in used:
            unpaired.append(UnpairedSeries(ct, f"CT {ct.label} is not paired with any PET series of the input"))
    return pairs, unpaired


def _close_in_time(pet: DicomSeries, cts: Sequence[DicomSeries], limit_s: float) -> list[DicomSeries]:
    pet_time = acquisition_seconds(pet.acquisition_time)
    if pet_time is None:
        return []
    found = []
    for ct in cts:
        ct_time = acquisition_seconds(ct.acquisition_time)
        if ct_time is not None and abs(ct_time - pet_time) <= limit_s:
            found.append(ct)
    return found


def _no_ct_reason(pet: DicomSeries, same_study: Sequence[DicomSeries], limit_s: float) -> str:
    if not same_study:
        return f"PET {pet.label} has no CT series of the same study that passed QC"
    if acquisition_seconds(pet.acquisition_time) is None:
        return (f"PET {pet.label}: no CT of the study shares its FrameOfReferenceUID and the PET has no valid "
                "AcquisitionTime to match by time")
    return (f"PET {pet.label}: no CT of the study shares its FrameOfReferenceUID or was acquired within "
            f"{limit_s:g} s ({', '.join(ct.label for ct in same_study)} checked)")


def is_attenuation_corrected(series: DicomSeries) -> bool:
    """Whether CorrectedImage (0028,0051) of the series' first file lists ``ATTN``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = dcmread(series.files[0], stop_before_pixels=True, specific_tags=["CorrectedImage"], force=True)
    value = dataset.get("CorrectedImage", [])
    values = [value] if isinstance(value, str) else list(value)
    return "ATTN" in {str(v).strip().upper() for v in values}


class PetCtPairImporter(Importer):
    """Import PET/CT studies: one instance per PET series with its CT (id = PET SeriesInstanceUID).

    Every series goes through the shared series QC (:func:`mhubio.dicom.qc.run_qc`)
    first.  The instance holds the items ``dicom:mod=pt`` and ``dicom:mod=ct``;
    its attributes are those of the PET series, which the outputs reference.
    """

    class Params(Params):
        max_time_difference_s: Annotated[float, Field(ge=0)] = 1800.0
        """Largest AcquisitionTime difference when the PET and CT frames of reference differ."""
        require_attenuation_correction: bool = True
        """Skip PET series whose CorrectedImage lacks ATTN (the models need attenuation-corrected PET)."""
        qc: QCConfig = QCConfig()
        """Series QC applied to both modalities (``modalities`` is ignored: PT and CT are selected here)."""
        scan_limits: ScanLimits = ScanLimits()
        """Folder depth and file count limits of the input scan (:class:`~mhubio.dicom.walk.ScanLimits`)."""

    outputs = {
        "pt": Output(FileType.DICOM, {"mod": "pt"}, description="the PET series"),
        "ct": Output(FileType.DICOM, {"mod": "ct"}, description="the CT series paired with it"),
    }

    def import_instances(self, input_dir: Path) -> ImportResult:
        """Scan (the headers parsed on :attr:`scan_processes`), run QC, pair; return one instance per pair and
        every other series as skipped."""
        scan = scan_folder(input_dir, self.params.scan_limits, self.scan_processes, self.files_read)
        skipped: list[SkippedSeries] = []
        accepted: dict[str, list[DicomSeries]] = {"PT": [], "CT": []}
        qc = self.params.qc.model_copy(update={"modalities": None})
        for series in scan.series.values():
            if series.modality not in accepted:
                skipped.append(_skip(series, MODALITY_CHECK,
                                     f"{series.label}: modality {series.modality or '<none>'} is neither PT nor CT"))
                continue
            result = run_qc(series, qc)
            if not result.passed:
                assert result.failed_check is not None  # a rejected series names its check
                skipped.append(_skip(series, result.failed_check.value, settings_of_step(result.message, self.step_id)))
                continue
            assert result.accepted is not None
            if series.modality == "PT" and self.params.require_attenuation_correction \
                    and not is_attenuation_corrected(result.accepted):
                skipped.append(_skip(series, ATTENUATION_CHECK,
                                     f"PET {series.label} is not attenuation corrected (no ATTN in CorrectedImage)"))
                continue
            accepted[series.modality].append(result.accepted)
        pairs, unpaired = pair_pet_with_ct(accepted["PT"], accepted["CT"], self.params.max_time_difference_s)
        skipped += [_skip(u.series, PAIRING_CHECK, u.reason) for u in unpaired]
        instances = [self._instance(pair) for pair in pairs]
        return ImportResult(
            instances=instances,
            skipped=skipped,
            files_scanned=scan.n_files,
            non_dicom=[*scan.non_dicom, *(issue.path for issue in scan.ignored)],
            unreadable=[(issue.path, issue.reason) for issue in scan.unreadable],
            rejected_files=[(issue.path, issue.reason) for issue in scan.rejected_files],
        )

    def _instance(self, pair: SeriesPair) -> Instance:
        pet, ct = pair.pet, pair.ct
        instance = Instance(pet.series_uid, _attributes(pet, ct),
                            path_inside(self.context.work_dir, safe_name(pet.series_uid)))
        for name, series in (("pt", pet), ("ct", ct)):
            files = series.sorted_files()
            instance.add(DataItem(FileType.DICOM, _common_folder(files), {"mod": name}, files=files,
                                  producer=self.step_id, series=series))
        instance.log.info("paired PET %s with CT %s by %s", pet.label, ct.label, pair.rule.replace("_", " "))
        return instance


def _attributes(pet: DicomSeries, ct: DicomSeries) -> dict[str, str]:
    values: Mapping[str, Any] = {
        "SeriesInstanceUID": pet.series_uid,
        "StudyInstanceUID": pet.study_uid,
        "FrameOfReferenceUID": pet.frame_of_reference_uid,
        "Modality": pet.modality,
        "SeriesNumber": "" if pet.series_number is None else pet.series_number,
        "SeriesDescription": pet.series_description,
        "PatientID": pet.patient_id,
        "CTSeriesInstanceUID": ct.series_uid,
        "CTSeriesNumber": "" if ct.series_number is None else ct.series_number,
    }
    return {key: str(value) for key, value in values.items()}


def _common_folder(files: Sequence[Path]) -> Path:
    """Deepest folder holding every file of a series."""
    return Path(os.path.commonpath([str(f.parent) for f in files]))


def _skip(series: DicomSeries, check: str, reason: str) -> SkippedSeries:
    number = "" if series.series_number is None else str(series.series_number)
    return SkippedSeries(series.series_uid, series.modality, number, check, reason)
