"""mhubio: run medical imaging AI models on DICOM data, DICOM results out."""

__version__ = "0.1.0"
