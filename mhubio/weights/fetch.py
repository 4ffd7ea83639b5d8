"""Build-time installation of weights: download or copy, verify, unpack, stamp."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mhubio import __version__
from mhubio.core.errors import WeightsError
from mhubio.weights.archive import unpack
from mhubio.weights.layout import check_layout
from mhubio.weights.manifest import ArchiveFormat, WeightsEntry, WeightsManifest
from mhubio.weights.stamp import STAMP_NAME, InstalledWeights, StampError, hash_tree, read_stamp, write_stamp

log = logging.getLogger("mhub.weights")
_CHUNK = 1 << 20
_TIMEOUT_S = 60


@dataclass(frozen=True)
class ObservedArchive:
    """A downloaded archive, not yet checked.

    Parameters
    ----------
    path:
        The archive file.
    sha256, md5:
        Checksums of the archive as downloaded.
    size:
        Bytes of the archive.
    """

    path: Path
    sha256: str
    md5: str
    size: int


def fetch(
    manifest: WeightsManifest,
    weights_dir: Path,
    *,
    source_dir: Path | None = None,
    entries: Iterable[str] | None = None,
    force: bool = False,
    trust_unpinned: bool = False,
) -> list[InstalledWeights]:
    """Install the weights of a manifest into ``weights_dir``.

    Each archive is downloaded from its URL (or copied from ``source_dir``,
    a folder holding the archives under their URL file names, for machines
    without network), its sha256 is checked before anything is unpacked, and
    it is unpacked into a staging folder that is renamed onto the target
    only when complete.  Entries already installed from the same archive are
    kept unless ``force``.

    Parameters
    ----------
    manifest:
        The model's manifest.
    weights_dir:
        Root of the installed weights.
    source_dir:
        Folder with pre-downloaded archives; nothing is downloaded when given.
    entries:
        Names of the entries to install (default: all).
    force:
        Reinstall entries that are already installed.
    trust_unpinned:
        Install entries without a sha256 anyway, with a warning: the observed
        sha256 is recorded in the stamp (``trusted_unpinned``) and later
        fetches of the entry must match it.

    Returns
    -------
    list[InstalledWeights]
        One per installed (or already present) entry, in manifest order.

    Raises
    ------
    WeightsError
        A download failed, an archive is missing from ``source_dir``, a
        checksum is unknown or does not match, or an archive is unsafe.  The
        failing entry leaves nothing behind; entries installed before stay.
    """
    selected = _select(manifest, entries)
    weights_dir = Path(weights_dir)
    installed = []
    for entry in selected:
        target = weights_dir / entry.target
        current = _current(entry, target, trust_unpinned)
        if current is not None and not force:
            log.info("weights %s already installed in %s", entry.name, target)
            installed.append(current)
            continue
        installed.append(_install(manifest, entry, target, weights_dir, source_dir, trust_unpinned))
    return installed


def _select(manifest: WeightsManifest, names: Iterable[str] | None) -> list[WeightsEntry]:
    if names is None:
        return list(manifest.weights)
    try:
        return [manifest.entry(n) for n in names]
    except KeyError as exc:
        raise WeightsError(exc.args[0]) from None


def _stamp_of(target: Path) -> InstalledWeights | None:
    try:
        return read_stamp(target) if target.is_dir() else None
    except StampError:
        return None


def _current(entry: WeightsEntry, target: Path, trust_unpinned: bool) -> InstalledWeights | None:
    stamp = _stamp_of(target)
    if stamp is None or not all((target / f).is_file() for f in stamp.files):
        return None
    if entry.sha256:
        return stamp if stamp.archive_sha256 == entry.sha256 else None
    return stamp if trust_unpinned and stamp.trusted_unpinned else None


def obtain_entry(entry: WeightsEntry, staging: Path, source_dir: Path | None) -> ObservedArchive:
    """Download (or copy from ``source_dir``) the archive of ``entry`` into ``staging``; nothing is checked."""
    (staging / "download").mkdir()
    archive = staging / "download" / entry.archive_name
    sha256, md5 = _obtain(entry, archive, source_dir)
    return ObservedArchive(archive, sha256, md5, archive.stat().st_size)


def unpack_entry(entry: WeightsEntry, observed: ObservedArchive, staging: Path) -> Path:
    """Unpack an obtained archive into ``staging/unpacked`` (laid out like the target folder); delete it."""
    unpacked = staging / "unpacked"
    dest = unpacked.joinpath(*entry.subdir.parts) if entry.subdir else unpacked
    dest.mkdir(parents=True)
    if entry.archive is ArchiveFormat.FILE:
        os.replace(observed.path, dest / entry.installed_name)
    else:
        unpack(observed.path, entry.archive, dest, entry.strip_components)
        observed.path.unlink()
    return unpacked


def _install(
    manifest: WeightsManifest, entry: WeightsEntry, target: Path, weights_dir: Path, source_dir: Path | None,
    trust_unpinned: bool,
) -> InstalledWeights:
    weights_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".mhub-fetch-", dir=weights_dir))
    try:
        observed = obtain_entry(entry, staging, source_dir)
        sha256 = observed.sha256
        trusted = entry.trusted_unpinned
        if not entry.sha256 and trust_unpinned:
            _check_trusted(entry, target, observed)
            trusted = True
        else:
            check_checksums(manifest, entry, observed)
        if trusted:
            log.warning(unpinned_warning(entry, sha256))
        unpacked = unpack_entry(entry, observed, staging)
        check_layout(entry.name, entry.layout, unpacked)
        stamp = InstalledWeights(entry.name, unpacked, sha256, hash_tree(unpacked), entry.url, trusted)
        write_stamp(stamp)
        target.parent.mkdir(parents=True, exist_ok=True)
        previous = staging / "previous"
        if target.exists():
            os.replace(target, previous)
        try:
            os.replace(unpacked, target)
        except OSError:
            if previous.exists():
                os.replace(previous, target)
            raise
        log.info("installed weights %s (%d files) in %s", entry.name, len(stamp.files), target)
        return InstalledWeights(entry.name, target, sha256, stamp.files, entry.url, trusted)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _obtain(entry: WeightsEntry, dest: Path, source_dir: Path | None) -> tuple[str, str]:
    """Write the archive to ``dest``; return its sha256 and md5."""
    if source_dir is not None:
        local = Path(source_dir) / entry.archive_name
        if not local.is_file():
            raise WeightsError(
                f"weights {entry.name}: {entry.archive_name} is not in {source_dir} "
                f"(download it from {entry.url} and put it there)"
            )
        log.info("copying %s from %s", entry.archive_name, source_dir)
        with open(local, "rb") as source:
            return _copy_hashing(source, dest)
    log.info("downloading %s", entry.url)
    request = urllib.request.Request(entry.url, headers={"User-Agent": f"mhubio/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            return _copy_hashing(response, dest)
    except urllib.error.HTTPError as exc:
        raise WeightsError(
            f"weights {entry.name}: download of {entry.url} failed: HTTP {exc.code} {exc.reason}"
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise WeightsError(
            f"weights {entry.name}: cannot download {entry.url}: {reason} "
            "(on a machine without network use --from DIR with the archives)"
        ) from exc


def _copy_hashing(source, dest: Path) -> tuple[str, str]:
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(dest, "wb") as sink:
        for chunk in iter(lambda: source.read(_CHUNK), b""):
            sha256.update(chunk)
            md5.update(chunk)
            sink.write(chunk)
    return sha256.hexdigest(), md5.hexdigest()


def unpinned_warning(entry: WeightsEntry, sha256: str) -> str:
    """The warning printed whenever unpinned weights are trusted."""
    return (
        f"WARNING: weights {entry.name} are NOT pinned: no sha256 was recorded in advance, so nothing proves that "
        f"{entry.url} still serves the archive the model was published with. Trusting the archive as downloaded "
        f"(sha256 {sha256}) because of --trust-unpinned; later fetches must match it. "
        "Pin it with: mhub weights pin"
    )


def _check_trusted(entry: WeightsEntry, target: Path, observed: ObservedArchive) -> None:
    """An unpinned archive fetched again must match the sha256 observed when it was first trusted."""
    if entry.md5 and observed.md5 != entry.md5:
        raise WeightsError(
            f"weights {entry.name}: md5 of {entry.archive_name} is {observed.md5}, but the publisher's md5 is "
            f"{entry.md5}; the archive was deleted and nothing was installed"
        )
    stamp = _stamp_of(target)
    if stamp is not None and stamp.trusted_unpinned and stamp.archive_sha256 != observed.sha256:
        raise WeightsError(
            f"weights {entry.name}: {entry.url} now serves an archive with sha256 {observed.sha256}, but "
            f"{stamp.archive_sha256} was trusted at the first --trust-unpinned fetch ({target / STAMP_NAME}); "
            "the archive changed: nothing was installed"
        )


def check_checksums(manifest: WeightsManifest, entry: WeightsEntry, observed: ObservedArchive) -> None:
    """The archive must match the size, md5 and sha256 of the manifest; an unknown sha256 is refused.

    Raises
    ------
    WeightsError
        Naming the observed and the expected values.
    """
    where = manifest.source or "mhub.toml"
    sha256, md5 = observed.sha256, observed.md5
    if entry.size and observed.size != entry.size:
        raise WeightsError(
            f"weights {entry.name}: {entry.archive_name} has {observed.size} bytes, but {where} records "
            f"size = {entry.size}; the archive changed and nothing was installed"
        )
    if entry.md5 and md5 != entry.md5:
        raise WeightsError(
            f"weights {entry.name}: md5 of {entry.archive_name} is {md5}, but {where} gives the published "
            f"md5 {entry.md5}; the archive was deleted"
        )
    if not entry.sha256:
        md5_note = " (its md5 matches the published md5)" if entry.md5 else ""
        raise WeightsError(
            f"weights {entry.name}: no sha256 recorded in {where}; the archive from {entry.url} has "
            f"sha256 {sha256}{md5_note}. Check it against the publisher's checksum, record it as "
            f"sha256 = \"{sha256}\" and fetch again; nothing was installed"
        )
    if sha256 != entry.sha256:
        raise WeightsError(
            f"weights {entry.name}: sha256 of {entry.archive_name} is {sha256}, but {where} requires "
            f"{entry.sha256}; the archive was deleted and nothing was installed"
        )
