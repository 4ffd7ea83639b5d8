"""Exit codes of every ``mhub`` sub-command, shared by the CLI and the container images."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit status of ``mhub`` and its sub-commands; the README table is checked against ``description``."""

    SUCCESS = 0
    INTERNAL_ERROR = 1
    CONFIG_ERROR = 2
    NO_INPUT = 3
    PARTIAL_FAILURE = 4
    ALL_FAILED = 5
    WEIGHTS_ERROR = 6
    INPUT_LIMIT = 7
    DISK_FULL = 8
    PUSH_FAILED = 9
    DICOMWEB_ERROR = 10
    BUILD_FAILED = 20
    CHECK_FAILED = 21
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
    ExitCode.INPUT_LIMIT: "the input folder exceeds a scan limit (folder depth or file count)",
    ExitCode.DISK_FULL: "no space left in the output or scratch folder",
    ExitCode.PUSH_FAILED: "every series was processed and its results written, but pushing them (--push) failed",
    ExitCode.DICOMWEB_ERROR: (
        "DICOMweb input server unreachable, TLS failure, credentials refused, or no series downloaded"
    ),
    ExitCode.BUILD_FAILED: "an image build step failed (docker, pip, git or debootstrap; its output is shown)",
    ExitCode.CHECK_FAILED: "`mhub check-model` or `mhub test` found a problem (each one is listed)",
    ExitCode.INTERRUPTED: "interrupted by the user (Ctrl-C) or by SIGTERM",
}
