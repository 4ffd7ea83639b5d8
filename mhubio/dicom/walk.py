"""Iterative listing of an input folder, with limits on depth and file count."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from mhubio.core.errors import InputLimitError

__all__ = ["ScanLimits", "walk_files"]


class ScanLimits(BaseModel):
    """Limits of the input folder scan; exceeding one stops the run with a named error.

    Attributes
    ----------
    max_depth
        Folder levels below the input folder that are scanned.
    max_files
        Files examined in all.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_depth: int = Field(default=64, ge=0)
    max_files: int = Field(default=1_000_000, ge=1)


def walk_files(
    root: Path, limits: ScanLimits, on_error: Callable[[OSError], None]
) -> Iterator[Path]:
    """Yield the regular and other non-folder entries below ``root`` in sorted order.

    The walk keeps its own stack (no recursion limit) and does not follow symbolic
    links to folders.  Folders that cannot be listed are passed to ``on_error``.

    Raises
    ------
    InputLimitError
        When a folder lies deeper than ``limits.max_depth`` or more than
        ``limits.max_files`` files are found.
    """
    stack: list[tuple[Path, int]] = [(root, 0)]
    count = 0
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as entries:
                listed = sorted(entries, key=lambda e: e.name)
        except OSError as error:
            on_error(error)
            continue
        subfolders = []
        for entry in listed:
            try:
                is_folder = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_folder = False
            if is_folder:
                if depth + 1 > limits.max_depth:
                    raise InputLimitError(
                        f"the input folder is nested deeper than {limits.max_depth} levels "
                        f"(scan_limits.max_depth); raise the limit if the layout is intended"
                    )
                subfolders.append((Path(entry.path), depth + 1))
                continue
            count += 1
            if count > limits.max_files:
                raise InputLimitError(
                    f"the input folder holds more than {limits.max_files} files "
                    f"(scan_limits.max_files); raise the limit or split the input"
                )
            yield Path(entry.path)
        stack.extend(reversed(subfolders))
