"""Exit codes of the ``mhub`` command, shared by the CLI and the container images."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit status of ``mhub run``; the README table is generated from ``description``."""

    SUCCESS = 0
    INTERNAL_ERROR = 1
    CONFIG_ERROR = 2
    NO_INPUT = 3
    PARTIAL_FAILURE = 4
    ALL_FAILED = 5
    WEIGHTS_ERROR = 6
    PUSH_FAILED = 7
    DICOMWEB_ERROR = 8
    INTERRUPTED = 130

    @property
    def description(self) -> str:
        """One-line description used in the README table and the report."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    ExitCode.SUCCESS: "every eligible series was processed",
    ExitCode.INTERNAL_ERROR: "unexpected internal error (a bug)",
    ExitCode.CONFIG_ERROR: "usage or configuration error; no data was read",
    ExitCode.NO_INPUT: "no DICOM files, or no series passed selection and QC",
    ExitCode.PARTIAL_FAILURE: "some series failed, the others were processed",
    ExitCode.ALL_FAILED: "every eligible series failed",
    ExitCode.WEIGHTS_ERROR: "model weights missing or not matching their sha256",
    ExitCode.PUSH_FAILED: "every series was processed and its results written, but pushing them (--push) failed",
    ExitCode.DICOMWEB_ERROR: "DICOMweb input server unreachable, TLS failure, credentials refused, or no series downloaded",
    ExitCode.INTERRUPTED: "interrupted by the user",
}
