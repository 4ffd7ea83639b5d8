"""``mhub weights pin``: record the sha256 and size of each weights archive in ``mhub.toml``.

Each archive is downloaded (or copied from a local folder), unpacked into a
scratch folder and checked against the entry's ``layout`` before its checksum is
written.  ``mhub.toml`` is edited with tomlkit, so its comments and the order of
its tables and keys stay as they are; the file is replaced atomically.  Entries
that are already pinned are verified and never changed.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import tomlkit

from mhubio.core.errors import WeightsError
from mhubio.core.fileio import atomic_path
from mhubio.weights.fetch import check_checksums, obtain_entry, unpack_entry
from mhubio.weights.layout import check_layout
from mhubio.weights.manifest import WeightsEntry, WeightsManifest


class PinOutcome(Enum):
    """What ``pin`` did with one entry."""

    #: The sha256 and size were written into ``mhub.toml``.
    PINNED = "pinned"
    #: The entry was pinned already and the archive matches it.
    VERIFIED = "verified"


@dataclass(frozen=True)
class PinResult:
    """The pin of one weights entry.

    Parameters
    ----------
    entry:
        Entry name.
    sha256, size:
        Checksum and bytes of the archive as downloaded.
    outcome:
        Whether it was newly pinned or verified.
    """

    entry: str
    sha256: str
    size: int
    outcome: PinOutcome


def pin(
    manifest: WeightsManifest,
    *,
    source_dir: Path | None = None,
    entries: Iterable[str] | None = None,
    work_dir: Path | None = None,
) -> list[PinResult]:
    """Pin the weights of ``manifest`` (read from a file) and write the new pins into that file.

    Parameters
    ----------
    manifest:
        A manifest loaded with :func:`~mhubio.weights.load_manifest`.
    source_dir:
        Folder with the archives already downloaded; nothing is downloaded when given.
    entries:
        Names of the entries to pin (default: all).
    work_dir:
        Scratch folder for the download and the unpacked files (default: the system's temporary folder).

    Returns
    -------
    list[PinResult]
        One per entry that was pinned or verified, in manifest order.

    Raises
    ------
    WeightsError
        Listing every entry that failed (download, wrong layout, or a pinned entry whose archive
        changed); the pins of the other entries are written all the same.
    """
    if manifest.source is None:
        raise ValueError("pin needs a manifest read from its mhub.toml")
    try:
        selected = [manifest.entry(n) for n in entries] if entries is not None else list(manifest.weights)
    except KeyError as exc:
        raise WeightsError(exc.args[0]) from None
    results, problems = [], []
    for entry in selected:
        try:
            results.append(_pin_entry(manifest, entry, source_dir, work_dir))
        except WeightsError as exc:
            problems.append(str(exc))
    write_pins(manifest.source, {r.entry: {"sha256": r.sha256, "size": r.size}
                                 for r in results if r.outcome is PinOutcome.PINNED})
    if problems:
        lines = [f"- {p}" for p in problems] + [f"({len(results)} other entries were pinned or verified)"]
        raise WeightsError(f"{manifest.model.name}: {len(problems)} weights entries not pinned:\n" + "\n".join(lines))
    return results


def _pin_entry(
    manifest: WeightsManifest, entry: WeightsEntry, source_dir: Path | None, work_dir: Path | None
) -> PinResult:
    staging = Path(tempfile.mkdtemp(prefix="mhub-pin-", dir=work_dir))
    try:
        observed = obtain_entry(entry, staging, source_dir)
        if entry.sha256:
            try:
                check_checksums(manifest, entry, observed)
            except WeightsError as exc:
                raise WeightsError(f"{exc}. The entry is pinned: the pin was left unchanged; if the publisher "
                                   "replaced the archive on purpose, check the new one and edit the pin "
                                   "by hand") from None
        elif entry.md5 and observed.md5 != entry.md5:
            raise WeightsError(f"weights {entry.name}: md5 of {entry.archive_name} is {observed.md5}, not the "
                               f"published {entry.md5}; not pinned")
        check_layout(entry.name, entry.layout, unpack_entry(entry, observed, staging))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    outcome = PinOutcome.VERIFIED if entry.sha256 else PinOutcome.PINNED
    return PinResult(entry.name, observed.sha256, observed.size, outcome)


def write_pins(path: Path, pins: Mapping[str, Mapping[str, str | int | bool]]) -> None:
    """Set fields (``sha256``, ``size``, ...) of the named weights entries in the manifest at ``path``.

    Comments, blank lines and the order of tables and keys are kept; a new key
    goes after the entry's last key.
    """
    if not pins:
        return
    document = tomlkit.parse(Path(path).read_text(encoding="utf-8"))
    for table in document.get("weights", []):
        for key, value in pins.get(str(table.get("name")), {}).items():
            table[key] = value
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(tomlkit.dumps(document), encoding="utf-8")
