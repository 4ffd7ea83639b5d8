"""Exceptions raised by the framework, each tied to an exit code."""

from __future__ import annotations

from collections.abc import Sequence

from mhubio.core.exitcodes import ExitCode


class MhubError(Exception):
    """Base class of errors that end a run with a documented exit code."""

    exit_code: ExitCode = ExitCode.INTERNAL_ERROR


class ConfigError(MhubError):
    """The workflow configuration or command line is invalid.

    Parameters
    ----------
    problems:
        Every problem found, one actionable sentence each.
    """

    exit_code = ExitCode.CONFIG_ERROR

    def __init__(self, problems: Sequence[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        if not self.problems:
            raise ValueError("ConfigError needs at least one problem")
        super().__init__("\n".join(f"- {p}" for p in self.problems))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[str]]]:
        """Pickle by the problem list (errors raised in worker processes travel back to the caller)."""
        return type(self), (self.problems,)


class NoInputError(MhubError):
    """The input holds no DICOM data or no eligible series."""

    exit_code = ExitCode.NO_INPUT


class InputLimitError(MhubError):
    """The input folder exceeds a scan limit (folder depth, number of files)."""

    exit_code = ExitCode.INPUT_LIMIT


class DiskFullError(MhubError):
    """The output or scratch folder ran out of space; the run stops."""

    exit_code = ExitCode.DISK_FULL


class WeightsError(MhubError):
    """Model weights are missing or do not match their manifest."""

    exit_code = ExitCode.WEIGHTS_ERROR


class StepError(Exception):
    """A step failed on one series; the series is marked failed, the run goes on."""


class ExternalCommandError(StepError):
    """An external command exited with a non-zero status."""

    def __init__(self, command: Sequence[str], returncode: int, output_tail: str) -> None:
        self.command = list(command)
        self.returncode = returncode
        self.output_tail = output_tail
        super().__init__(
            f"command {self.command[0]!r} exited with status {returncode}: "
            f"{output_tail.strip()[-500:] or '(no output)'}"
        )

    def __reduce__(self) -> tuple[type[ExternalCommandError], tuple[list[str], int, str]]:
        """Pickle by the constructor arguments (errors raised in worker processes travel back to the caller)."""
        return type(self), (self.command, self.returncode, self.output_tail)


class MissingOutputError(StepError):
    """A module finished without writing an output it declared."""
