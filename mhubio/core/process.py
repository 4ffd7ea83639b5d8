"""Running external commands with checked exit status."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from mhubio.core.errors import ExternalCommandError

log = logging.getLogger("mhub.process")


def run_command(
    command: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
) -> str:
    """Run ``command``, return its combined output; raise on a non-zero exit.

    Raises
    ------
    ExternalCommandError
        If the command is missing, times out or exits with a non-zero status.
    """
    args = [str(c) for c in command]
    (logger or log).debug("running %s", " ".join(args))
    try:
        done = subprocess.run(
            args, cwd=cwd, env=dict(env) if env is not None else None, timeout=timeout,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", check=False,
        )
    except FileNotFoundError:
        raise ExternalCommandError(args, 127, f"{args[0]} not found on PATH") from None
    except subprocess.TimeoutExpired as exc:
        raise ExternalCommandError(args, -1, f"timed out after {timeout} s: {exc.output or ''}") from None
    if done.returncode != 0:
        raise ExternalCommandError(args, done.returncode, done.stdout)
    return done.stdout
