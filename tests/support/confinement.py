"""Record every file-system write of a block of code, to prove a run stays in its folders.

A ``sys.addaudithook`` hook sees the ``open`` (for writing), ``os.mkdir``, ``os.rename``,
``os.remove``, ``os.rmdir`` and ``shutil.rmtree`` events of Python code; writes done by
native libraries are not audited, so tests pair it with a listing of the folders around.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["WriteRecorder", "recording_writes"]

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# event -> (indices of its paths, indices of their dir_fd arguments); paths relative to a dir_fd
# (as shutil.rmtree removes the entries below its top folder) are covered by the top folder's event.
_EVENTS = {
    "os.mkdir": ((0,), (2,)),
    "os.rename": ((0, 1), (2, 3)),
    "os.remove": ((0,), (1,)),
    "os.rmdir": ((0,), (1,)),
    "shutil.rmtree": ((0,), (1,)),
}


class WriteRecorder:
    """Absolute paths written, created, renamed or removed while recording."""

    def __init__(self) -> None:
        self.paths: list[Path] = []
        self.active = False

    def outside(self, *allowed: Path) -> list[Path]:
        """Recorded paths under none of the ``allowed`` folders."""
        roots = [Path(os.path.abspath(a)) for a in allowed]
        return [p for p in self.paths if not any(p == r or r in p.parents for r in roots)]

    def _hook(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        if event == "open":
            path, mode, flags = args
            writing = (mode is not None and any(c in str(mode) for c in "wax+")) or (
                mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writing:
                self._add(path)
        elif event in _EVENTS:
            paths, dir_fds = _EVENTS[event]
            if all(args[k] is None for k in dir_fds if k < len(args)):
                for index in paths:
                    self._add(args[index])

    def _add(self, path: object) -> None:
        if isinstance(path, (str, bytes, os.PathLike)):
            self.paths.append(Path(os.path.abspath(os.fsdecode(path))))


_RECORDER = WriteRecorder()
_INSTALLED = False


@contextmanager
def recording_writes() -> Iterator[WriteRecorder]:
    """Record the writes of the enclosed block (the audit hook stays installed, idle, afterwards)."""
    global _INSTALLED
    if not _INSTALLED:
        sys.addaudithook(_RECORDER._hook)
        _INSTALLED = True
    _RECORDER.paths = []
    _RECORDER.active = True
    try:
        yield _RECORDER
    finally:
        _RECORDER.active = False
