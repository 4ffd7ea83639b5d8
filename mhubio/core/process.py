"""Running external commands: the one place where mhubio starts a subprocess and checks its exit status."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mhubio.core.errors import ExternalCommandError

log = logging.getLogger("mhub.process")


@dataclass(frozen=True)
class CommandResult:
    """Outcome of one external command.

    Parameters
    ----------
    args
        The command line that was run.
    returncode
        Exit status of the command.
    seconds
        Wall-clock duration.
    stdout, stderr
        Captured output; empty when the output went to this process's streams. With ``merge_stderr``, both
        streams are in ``stdout``.
    """

    args: tuple[str, ...]
    returncode: int
    seconds: float
    stdout: str = ""
    stderr: str = ""

    @property
    def output_tail(self) -> str:
        """The last 20 lines of the error output (or of the output when there is none)."""
        return "\n".join((self.stderr or self.stdout).strip().splitlines()[-20:])


def run_command(
    command: Sequence[str | Path],
    *,
    check: bool = True,
    capture: bool = True,
    merge_stderr: bool = False,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
) -> CommandResult:
    """Run ``command``, time it and check its exit status.

    Parameters
    ----------
    command
        Command line.
    check
        Raise :class:`~mhubio.core.errors.ExternalCommandError` when the exit status is not zero.
    capture
        Capture stdout and stderr (otherwise they go to this process's streams).
    merge_stderr
        Capture stderr into ``stdout``, interleaved as written.
    cwd
        Working folder of the command.
    env
        Variables added to this process's environment.
    timeout
        Seconds after which the command is killed.
    logger
        Logger of the command line and its duration (default ``mhub.process``), e.g. a series log.

    Raises
    ------
    ExternalCommandError
        If the command cannot be started, times out, or (``check``) exits with a non-zero status.
    """
    args = [str(c) for c in command]
    logger = logger or log
    logger.debug("running %s", " ".join(args))
    start = time.monotonic()
    try:
        done = subprocess.run(
            args,
            cwd=cwd,
            env={**os.environ, **env} if env else None,
            timeout=timeout,
            stdout=subprocess.PIPE if capture else None,
            stderr=(subprocess.STDOUT if merge_stderr else subprocess.PIPE) if capture else None,
            text=True,
            errors="replace",
            check=False,
        )
    except OSError as exc:
        raise ExternalCommandError(args, 127, f"cannot run {args[0]!r}: {exc.strerror}") from None
    except subprocess.TimeoutExpired as exc:
        output = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else exc.output or ""
        raise ExternalCommandError(args, -1, f"timed out after {timeout} s: {output}") from None
    result = CommandResult(tuple(args), done.returncode, time.monotonic() - start, done.stdout or "", done.stderr or "")
    logger.debug("%s -> exit %d in %.1f s", args[0], result.returncode, result.seconds)
    if check and result.returncode != 0:
        raise ExternalCommandError(args, result.returncode, result.output_tail)
    return result
