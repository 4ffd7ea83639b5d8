"""DICOM ingest: folder scanning, series geometry, series QC and volume reading."""

from mhubio.dicom.qc import LocalizerPolicy, QCCheck, QCConfig, QCResult, QCStatus, run_qc
from mhubio.dicom.scan import FileIssue, ScanResult, scan_files, scan_folder
from mhubio.dicom.series import DicomInstance, DicomSeries, SeriesGeometry, SeriesGeometryError
from mhubio.dicom.volume import InputChangedError, VolumeReadError, read_series_image, write_nifti

__all__ = [
    "DicomInstance",
    "DicomSeries",
    "FileIssue",
    "InputChangedError",
    "LocalizerPolicy",
    "QCCheck",
    "QCConfig",
    "QCResult",
    "QCStatus",
    "ScanResult",
    "SeriesGeometry",
    "SeriesGeometryError",
    "VolumeReadError",
    "read_series_image",
    "run_qc",
    "scan_files",
    "scan_folder",
    "write_nifti",
]
