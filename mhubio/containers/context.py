"""Staging of Docker build contexts: only what an image needs, linked rather than copied where possible."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: Names never copied into a build context.
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


def _link_or_copy(src: str, dst: str) -> str:
    """Hard-link ``src`` to ``dst``, copying when the two are on different file systems."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def add_tree(context: Path, source: Path, target: str, *, link: bool = False) -> Path:
    """Put the folder ``source`` at ``context/target``.

    Copies are made readable by everyone, so that images read them under any ``--user``; linked files (for
    large folders such as weights) keep the modes of their source.

    Raises
    ------
    FileNotFoundError
        If ``source`` is not a folder.
    """
    if not source.is_dir():
        raise FileNotFoundError(f"{source} is not a folder")
    dest = context / target
    shutil.copytree(
        source, dest, copy_function=_link_or_copy if link else shutil.copy2, ignore=_IGNORED, dirs_exist_ok=True
    )
    if not link:
        for path in [dest, *dest.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | (0o555 if path.is_dir() else 0o444))
    return dest


def add_file(context: Path, source: Path, target: str) -> Path:
    """Put the file ``source`` at ``context/target``, keeping its mode."""
    dest = context / target
    dest.parent.mkdir(parents=True, exist_ok=True)
    _link_or_copy(str(source), str(dest))
    return dest
