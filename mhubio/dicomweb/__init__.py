"""DICOMweb input and output: pull a run's series from a DICOMweb server, push its SEG/SR results back.

``mhub run --input https://host/dicom-web/studies/<uid>`` downloads the series (QIDO-RS search, WADO-RS retrieve) into
the scratch folder and runs on them like on a folder; ``--push https://host/dicom-web`` stores every DICOM output
(STOW-RS) after the outputs are written and checks that each one is found again (QIDO-RS). Credentials come from
environment variables or a file (:mod:`mhubio.dicomweb.credentials`), never from the command line.
"""

from mhubio.dicomweb.credentials import Credentials
from mhubio.dicomweb.download import DownloadResult, SeriesDownload, download_series
from mhubio.dicomweb.errors import DicomwebError
from mhubio.dicomweb.location import DicomwebLocation, is_dicomweb_url
from mhubio.dicomweb.push import PushRecord, PushStatus, push_files
from mhubio.dicomweb.session import connect

__all__ = [
    "Credentials", "DicomwebError", "DicomwebLocation", "DownloadResult", "PushRecord", "PushStatus",
    "SeriesDownload", "connect", "download_series", "is_dicomweb_url", "push_files",
]
