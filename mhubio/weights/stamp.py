"""The stamp file written into every installed weights folder.

``<target>/.mhub-weights.json`` records where the files came from (URL and
archive sha256) and the sha256 of every unpacked file, so that an installation
can be checked cheaply (stamp against manifest) or fully (every file).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from mhubio.core.fileio import atomic_path, sha256_file

STAMP_NAME = ".mhub-weights.json"
STAMP_VERSION = 1


@dataclass(frozen=True)
class InstalledWeights:
    """An installed weights entry.

    Parameters
    ----------
    name:
        Entry name from the manifest.
    path:
        The installed folder (the entry's target inside the weights folder).
    archive_sha256:
        sha256 of the archive the files were unpacked from.
    files:
        Path relative to ``path`` (POSIX form) -> sha256 of the file.
    url:
        Where the archive was fetched from.
    trusted_unpinned:
        The manifest had no sha256: ``archive_sha256`` was observed at a
        ``--trust-unpinned`` fetch and is the reference from then on.
    """

    name: str
    path: Path
    archive_sha256: str
    files: Mapping[str, str] = field(default_factory=dict)
    url: str = ""
    trusted_unpinned: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", MappingProxyType(dict(sorted(self.files.items()))))


class StampError(ValueError):
    """The stamp file is missing or malformed."""


def hash_tree(folder: Path) -> dict[str, str]:
    """sha256 of every regular file below ``folder`` except the stamp."""
    return {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != STAMP_NAME
    }


def write_stamp(installed: InstalledWeights) -> Path:
    """Write the stamp of ``installed`` into its folder (atomically)."""
    content = {
        "stamp_version": STAMP_VERSION,
        "name": installed.name,
        "url": installed.url,
        "archive_sha256": installed.archive_sha256,
        "files": dict(installed.files),
    }
    if installed.trusted_unpinned:
        content["trusted_unpinned"] = True
    path = installed.path / STAMP_NAME
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")
    return path


def read_stamp(folder: Path) -> InstalledWeights:
    """Read the stamp of an installed folder.

    Raises
    ------
    StampError
        The stamp is missing, not JSON, or lacks a field.
    """
    path = Path(folder) / STAMP_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StampError(f"{path} is missing") from None
    except (OSError, ValueError) as exc:
        raise StampError(f"{path} is unreadable: {exc}") from exc
    if not isinstance(data, dict) or data.get("stamp_version") != STAMP_VERSION:
        raise StampError(f"{path} is not a version {STAMP_VERSION} weights stamp")
    try:
        files = data["files"]
        if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
            raise TypeError("files must map paths to sha256 strings")
        return InstalledWeights(str(data["name"]), Path(folder), str(data["archive_sha256"]), files, str(data["url"]),
                                data.get("trusted_unpinned") is True)
    except (KeyError, TypeError) as exc:
        raise StampError(f"{path} is malformed: {exc}") from exc
