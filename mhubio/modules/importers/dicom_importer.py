"""DicomImporter: index the input folder, run series QC, one instance per eligible series."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import model_validator

from mhubio.core.data import DataItem, Instance
from mhubio.core.filetypes import FileType
from mhubio.core.module import Importer, ImportResult, Output, SkippedSeries
from mhubio.core.naming import path_inside, safe_name
from mhubio.core.params import Params
from mhubio.core.query import ANY
from mhubio.dicom.qc import QCConfig, QCResult, run_qc, settings_of_step
from mhubio.dicom.scan import scan_folder
from mhubio.dicom.series import DicomSeries
from mhubio.dicom.walk import ScanLimits


class DicomImporter(Importer):
    """Find every DICOM series below the input folder and keep those passing QC.

    Files are indexed in place (never copied). Each eligible series becomes an
    instance holding one ``dicom:mod=<modality>`` item whose files are sorted
    along the slice normal; localizer images dropped by QC are not among them.
    The item carries the indexed series (:attr:`DataItem.series`), so later
    steps neither parse the headers again nor sort the slices again.
    Series rejected by QC are listed as skipped with the failed check. Files
    never stop the run: non-DICOM files and DICOMDIR media directories are
    reported as ``non_dicom``; unreadable files as ``unreadable`` and DICOM files
    without usable UIDs (blank UIDs, duplicated SOPInstanceUID) as ``rejected_files``,
    each with the reason.

    Parameters
    ----------
    modalities
        Modalities to process (e.g. ``[CT]``); ``None`` accepts any.
    qc
        Series QC settings (:class:`~mhubio.dicom.qc.QCConfig`); its
        ``modalities`` are taken from ``modalities`` above.
    scan_limits
        Folder depth and file count limits of the input scan
        (:class:`~mhubio.dicom.walk.ScanLimits`).
    """

    class Params(Params):
        modalities: list[str] | None = None
        qc: QCConfig = QCConfig()
        scan_limits: ScanLimits = ScanLimits()

        @model_validator(mode="after")
        def _modalities_once(self) -> DicomImporter.Params:
            if self.qc.modalities is not None:
                raise ValueError("set DicomImporter.modalities, not qc.modalities")
            if self.modalities is not None and not self.modalities:
                raise ValueError("modalities must name at least one modality, or be null for any")
            return self

    def declare_outputs(self) -> Mapping[str, Output]:
        """One DICOM output per accepted modality (``mod`` is lower case)."""
        if self.params.modalities is None:
            return {"dicom": Output(FileType.DICOM, {"mod": ANY})}
        return {m.lower(): Output(FileType.DICOM, {"mod": m.lower()}) for m in self.params.modalities}

    @property
    def qc_config(self) -> QCConfig:
        """The QC configuration including the modality filter."""
        settings = self.params.qc.model_dump()
        settings["modalities"] = self.params.modalities
        return QCConfig.model_validate(settings)

    def import_instances(self, input_dir: Path) -> ImportResult:
        """Scan ``input_dir`` (the headers parsed on :attr:`scan_processes`) and QC every series found."""
        scanned = scan_folder(input_dir, self.params.scan_limits, self.scan_processes, self.files_read)
        config = self.qc_config
        instances: list[Instance] = []
        skipped: list[SkippedSeries] = []
        ordered = sorted(
            scanned.series.values(),
            key=lambda s: (s.study_uid, s.series_number or 0, s.series_uid),
        )
        for series in ordered:
            result = run_qc(series, config)
            if result.failed_check is not None:
                skipped.append(
                    SkippedSeries(
                        series_uid=series.series_uid,
                        modality=series.modality,
                        series_number="" if series.series_number is None else str(series.series_number),
                        check=result.failed_check.value,
                        reason=settings_of_step(result.message, self.step_id),
                    )
                )
                continue
            instances.append(self._instance(result))
        return ImportResult(
            instances=instances,
            skipped=skipped,
            files_scanned=scanned.n_files,
            non_dicom=[*scanned.non_dicom, *(issue.path for issue in scanned.ignored)],
            unreadable=list(scanned.unreadable),
            rejected_files=list(scanned.rejected_files),
        )

    def _instance(self, result: QCResult) -> Instance:
        assert result.accepted is not None
        series: DicomSeries = result.accepted
        instance = Instance(
            id=series.series_uid,
            attributes=_attributes(series),
            workdir=path_inside(self.context.work_dir, safe_name(series.series_uid)),
        )
        files = series.sorted_files()
        instance.add(
            DataItem(
                FileType.DICOM,
                Path(os.path.commonpath([f.parent for f in files])),
                {"mod": series.modality.lower()},
                files=files,
                producer=self.step_id,
                series=series,
            )
        )
        for warning in result.warnings:
            instance.warn(warning)
        return instance


def _attributes(series: DicomSeries) -> dict[str, str]:
    number = series.series_number
    return {
        "SeriesInstanceUID": series.series_uid,
        "StudyInstanceUID": series.study_uid,
        "FrameOfReferenceUID": series.frame_of_reference_uid,
        "Modality": series.modality,
        "SeriesNumber": "" if number is None else str(number),
        "SeriesDescription": series.series_description,
        "PatientID": series.patient_id,
        "AcquisitionTime": series.acquisition_time,
    }

