"""File helpers: atomic writes (the only way mhubio writes a result file) and checksums."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

_TEMPORARY_NAME = re.compile(r"\.tmp-[0-9a-f]{16}-.")


def _new_temporary(target: Path) -> tuple[Path, int]:
    """Create an empty hidden file beside ``target`` whose name ends with the name of ``target``.

    Returns the path and an open descriptor that holds an exclusive ``flock`` on the file until it is closed,
    which marks the file as in use to :func:`remove_stale_temporaries` (the lock ends with the process).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".tmp-{secrets.token_hex(8)}-{target.name}"
    # Created like any new file (mode 0666 less the umask), not 0600 as by mkstemp: the files must stay
    # readable by other users, e.g. weights installed as root in an image that runs as another uid.
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    with contextlib.suppress(OSError):  # a file system without locks: the file is written all the same
        fcntl.flock(fd, fcntl.LOCK_EX)
    return tmp, fd


@contextmanager
def atomic_paths(targets: Sequence[Path]) -> Iterator[list[Path]]:
    """Yield one temporary path beside each of ``targets``; rename them all to their targets on success.

    This is the one way mhubio writes a file: no target is ever half-written. On an error before the renames
    every temporary file is removed and no target is touched; should a rename itself fail, the targets already
    renamed are removed too, so that the group is written whole or not at all. The temporary names end with
    the target names, so that writers that choose a format by extension (``.nii.gz``) still work.

    Parameters
    ----------
    targets
        Files to write, each at most once.
    """
    targets = [Path(t) for t in targets]
    if len(set(targets)) != len(targets):
        raise ValueError("atomic_paths: a target is given twice")
    temporaries: list[Path] = []
    descriptors: list[int] = []
    renamed: list[Path] = []
    try:
        for target in targets:
            tmp, fd = _new_temporary(target)
            temporaries.append(tmp)
            descriptors.append(fd)
        yield list(temporaries)
        for tmp, target in zip(temporaries, targets, strict=True):
            os.replace(tmp, target)
            renamed.append(target)
    except BaseException:
        for target in renamed:
            target.unlink(missing_ok=True)
        raise
    finally:
        for tmp in temporaries:
            tmp.unlink(missing_ok=True)
        for fd in descriptors:
            os.close(fd)


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it to ``target`` on success (see :func:`atomic_paths`)."""
    with atomic_paths([target]) as (tmp,):
        yield tmp


def remove_stale_temporaries(folder: Path) -> int:
    """Remove the temporary files of :func:`atomic_paths` that a killed process left anywhere under ``folder``.

    A temporary file that a live writer still holds (its ``flock``) is kept. Links are not followed; only regular
    files named as :func:`atomic_paths` names them are removed.

    Returns
    -------
    int
        How many files were removed.
    """
    removed = 0
    for root, _, files in os.walk(folder):
        for name in files:
            if _TEMPORARY_NAME.match(name) and _remove_if_unlocked(Path(root, name)):
                removed += 1
    return removed


def _remove_if_unlocked(path: Path) -> bool:
    """Remove ``path`` if it is a regular file that no process holds a ``flock`` on."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    else:
        path.unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)


def copy_atomic(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` through a temporary file."""
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()
