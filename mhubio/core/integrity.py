"""Integrity of the output folder: one run at a time, SIGTERM as an interrupt, a full disk as a named error."""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from mhubio.core.errors import ConfigError, DiskFullError

__all__ = ["as_disk_full", "locked_output", "sigterm_as_interrupt"]


@contextmanager
def locked_output(output_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``output_dir`` (the folder itself: no lock file is left behind).

    Raises
    ------
    ConfigError
        At once, if another run holds the lock.
    """
    fd = os.open(output_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ConfigError(
                f"output folder {output_dir} is in use by another mhub run; wait for it to finish or "
                "choose another --output"
            ) from exc
        yield
    finally:
        os.close(fd)  # closing releases the lock


def as_disk_full(exc: BaseException) -> DiskFullError | None:
    """A :class:`DiskFullError` when ``exc`` (or an exception it was raised from) is ENOSPC or EDQUOT."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return DiskFullError(f"no space left on device: {current.filename or current}")
        if "No space left on device" in str(current):  # native writers (ITK, dcmqi) lose the errno
            return DiskFullError(f"no space left on device: {str(current)[-300:]}")
        current = current.__cause__ or current.__context__
    return None


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM (``docker stop``, a batch scheduler) into ``KeyboardInterrupt`` in the main thread.

    Processes forked meanwhile (the ``multiprocessing`` pools of nnU-Net and TotalSegmentator) get the default
    action back, so ``Pool.terminate()`` ends them: a Python handler inherited through ``fork`` loses a SIGTERM
    that arrives before the child has re-initialised its signal state, and the pool then waits for that worker
    forever. SIGTERM is blocked across the fork, so a signal sent that early stays pending until the default
    action is back.
    """

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    _FORK_GUARD.active = True
    try:
        yield
    finally:
        _FORK_GUARD.active = False
        signal.signal(signal.SIGTERM, previous)


class _ForkGuard:
    """``os.register_at_fork`` hooks (registered once) that act while :func:`sigterm_as_interrupt` is active.

    Whether a fork blocked SIGTERM is kept per thread: the mask is per thread, and two threads may fork at once.
    """

    def __init__(self) -> None:
        self.active = False
        self._fork = threading.local()

    def before(self) -> None:
        self._fork.blocked = self.active
        if self._fork.blocked:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})

    def in_parent(self) -> None:
        if getattr(self._fork, "blocked", False):
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})

    def in_child(self) -> None:
        if getattr(self._fork, "blocked", False):
            self.active = False
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


_FORK_GUARD = _ForkGuard()
os.register_at_fork(before=_FORK_GUARD.before, after_in_parent=_FORK_GUARD.in_parent,
                    after_in_child=_FORK_GUARD.in_child)
