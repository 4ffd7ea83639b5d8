"""Run-time and full checks of installed weights; nothing here downloads."""

from __future__ import annotations

import logging
from pathlib import Path

from mhubio.core.errors import ConfigError, WeightsError
from mhubio.core.fileio import sha256_file
from mhubio.core.module import RunContext
from mhubio.weights.location import weights_dir
from mhubio.weights.manifest import WeightsEntry, WeightsManifest, load_manifest
from mhubio.weights.stamp import STAMP_NAME, InstalledWeights, StampError, read_stamp

log = logging.getLogger("mhub.weights")


def fetch_command(model: str, root: Path) -> str:
    """The ``mhub weights fetch`` command that installs ``model``'s weights into ``root``."""
    default = weights_dir(None)
    suffix = "" if Path(root) == default else f" --weights-dir {root}"
    return f"mhub weights fetch {model}{suffix}"


def require_weights(context: RunContext, model_dir: Path, entry: str) -> InstalledWeights:
    """The installed weights ``entry`` of the model in ``model_dir``; never downloads.

    Cheap enough for :meth:`Module.preflight`: the stamp is checked against
    the manifest's archive sha256 and every recorded file must exist; the
    per-file sha256 check is ``mhub weights verify``.

    Raises
    ------
    WeightsError
        The weights are not installed, incomplete, or from another archive; the
        message names the file and the fetch command.
    ConfigError
        The manifest is invalid or declares no such entry.
    """
    manifest = load_manifest(model_dir)
    try:
        declared = manifest.entry(entry)
    except KeyError as exc:
        raise ConfigError(exc.args[0]) from None
    return check_installed(manifest, declared, weights_dir(context))


_TRUSTED_IN_USE: dict[tuple[str, str], dict[str, str]] = {}


def trusted_unpinned_weights(model: str) -> list[dict[str, str]]:
    """Unpinned weights of ``model`` that this process accepted because they were installed with
    ``--trust-unpinned`` (entry name, observed archive sha256, URL), for the run report."""
    return [dict(record) for (name, _), record in sorted(_TRUSTED_IN_USE.items()) if name == model]


def check_installed(manifest: WeightsManifest, entry: WeightsEntry, root: Path) -> InstalledWeights:
    """Cheap check of one entry (stamp and file presence); see :func:`require_weights`.

    An entry without sha256 is accepted only when it was installed with
    ``--trust-unpinned``: the sha256 observed then is the reference, a warning is
    logged and the entry is listed by :func:`trusted_unpinned_weights`.
    """
    target = Path(root) / entry.target
    command = fetch_command(manifest.model.name, root)
    what = f"weights {entry.name!r} of model {manifest.model.name!r}"
    expected = entry.sha256 or _trusted_sha256(target)
    if not expected:
        raise WeightsError(
            f"{what}: no sha256 is recorded in {manifest.source or 'mhub.toml'}, so they cannot be verified; "
            f"pin it (mhub weights pin {manifest.model.name}) and run: {command} "
            f"(or, at your own risk: {command} --trust-unpinned)"
        )
    if not target.is_dir():
        raise WeightsError(f"{what} are not installed ({target} does not exist); run: {command}")
    try:
        stamp = read_stamp(target)
    except StampError as exc:
        raise WeightsError(f"{what} in {target} were not installed by mhub ({exc}); run: {command} --force") from None
    if stamp.archive_sha256 != expected:
        raise WeightsError(
            f"{what} in {target} come from an archive with sha256 {stamp.archive_sha256}, "
            f"not {expected} as the manifest requires; run: {command} --force"
        )
    for rel in stamp.files:
        if not (target / rel).is_file():
            raise WeightsError(f"{what}: file {target / rel} is missing; run: {command} --force")
    if stamp.trusted_unpinned:
        log.warning("%s are not pinned: trusted at install time (--trust-unpinned) with archive sha256 %s",
                    what, stamp.archive_sha256)
        _TRUSTED_IN_USE[(manifest.model.name, entry.name)] = {
            "entry": entry.name, "archive_sha256": stamp.archive_sha256, "url": stamp.url,
        }
    return stamp


def _trusted_sha256(target: Path) -> str:
    """The archive sha256 of a ``--trust-unpinned`` installation in ``target``; "" if there is none."""
    try:
        stamp = read_stamp(target)
    except StampError:
        return ""
    return stamp.archive_sha256 if stamp.trusted_unpinned else ""


def verify(manifest: WeightsManifest, root: Path) -> list[str]:
    """Full check of every entry: stamp, then the sha256 of every file.

    Returns
    -------
    list[str]
        One sentence per problem (missing, changed or unexpected file); empty
        when everything matches.
    """
    problems = []
    for entry in manifest.weights:
        try:
            stamp = check_installed(manifest, entry, root)
        except WeightsError as exc:
            problems.append(str(exc))
            continue
        target = stamp.path
        for rel, expected in stamp.files.items():
            actual = sha256_file(target / rel)
            if actual != expected:
                problems.append(f"weights {entry.name!r}: {target / rel} has sha256 {actual}, stamp says {expected}")
        extra = sorted(
            p.relative_to(target).as_posix()
            for p in target.rglob("*")
            if p.is_file() and p.name != STAMP_NAME and p.relative_to(target).as_posix() not in stamp.files
        )
        problems += [f"weights {entry.name!r}: unexpected file {target / rel} (not in the archive)" for rel in extra]
    return problems
