"""``mhub build --trust-unpinned``: build a model whose weights have no sha256 yet, recording what was seen.

The archives are put into a host folder (downloaded, or taken from ``--weights-from``) and hashed there; the
staged copy of the model's ``mhub.toml`` gets the observed sha256 and size with ``trusted_unpinned = true``,
so that ``mhub weights fetch`` inside the build verifies the archives against them, the weights stamp and the
run report say that they were trusted, and the image labels record them. The checkout is not changed.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import tomllib
from pathlib import Path

from mhubio.containers.model import ModelSource
from mhubio.core.fileio import sha256_file
from mhubio.weights.fetch import obtain_entry, unpinned_warning
from mhubio.weights.manifest import WeightsEntry, parse_manifest
from mhubio.weights.pin import write_pins

logger = logging.getLogger(__name__)


def _archive(entry: WeightsEntry, archives: Path) -> Path:
    """``archives/<archive name>``, downloaded into the folder first if it is not there."""
    path = archives / entry.archive_name
    if not path.is_file():
        staging = Path(tempfile.mkdtemp(prefix=".mhub-download-", dir=archives))
        try:
            os.replace(obtain_entry(entry, staging, None).path, path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return path


def observe_unpinned(model: ModelSource, archives: Path) -> dict[str, dict[str, str | int | bool]]:
    """Put every archive of ``model`` into ``archives``; the observed pin of each unpinned entry.

    Returns
    -------
    dict
        Entry name -> ``{"sha256", "size", "trusted_unpinned": True}``, for the entries without sha256.

    Raises
    ------
    WeightsError
        If a download fails.
    """
    archives.mkdir(parents=True, exist_ok=True)
    observed: dict[str, dict[str, str | int | bool]] = {}
    for entry in model.manifest.weights:
        path = _archive(entry, archives)
        if not entry.sha256:
            sha256 = sha256_file(path)
            logger.warning(unpinned_warning(entry, sha256))
            observed[entry.name] = {"sha256": sha256, "size": path.stat().st_size, "trusted_unpinned": True}
    return observed


def stage_trusted(staged_folder: Path, observed: dict[str, dict[str, str | int | bool]]) -> ModelSource:
    """Write the observed pins into the staged model folder's ``mhub.toml``; the staged model."""
    write_pins(staged_folder / "mhub.toml", observed)  # replaced by rename: a hard-linked source stays as it is
    manifest_path = staged_folder / "mhub.toml"
    manifest = parse_manifest(tomllib.loads(manifest_path.read_text(encoding="utf-8")), source=manifest_path)
    return ModelSource(folder=staged_folder, manifest=manifest)
