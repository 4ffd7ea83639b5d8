"""Verified offline model weights.

Each model lists its weights in ``models/<name>/mhub.toml`` with the sha256 of
every archive.  :func:`fetch` installs them at build time (download or copy
from a local folder, verify, unpack safely, stamp); at run time
:func:`require_weights` only checks what is installed and never downloads.
"""

from mhubio.weights.check import (
    check_installed,
    fetch_command,
    require_weights,
    trusted_unpinned_weights,
    verify,
)
from mhubio.weights.fetch import fetch
from mhubio.weights.layout import WeightsLayout, check_layout, missing_paths
from mhubio.weights.location import weights_dir
from mhubio.weights.manifest import (
    MANIFEST_NAME,
    ArchiveFormat,
    ModelSection,
    WeightsEntry,
    WeightsManifest,
    load_manifest,
    parse_manifest,
)
from mhubio.weights.stamp import STAMP_NAME, InstalledWeights, read_stamp

__all__ = [
    "MANIFEST_NAME",
    "STAMP_NAME",
    "ArchiveFormat",
    "InstalledWeights",
    "ModelSection",
    "WeightsEntry",
    "WeightsLayout",
    "WeightsManifest",
    "check_installed",
    "check_layout",
    "fetch",
    "fetch_command",
    "load_manifest",
    "missing_paths",
    "parse_manifest",
    "read_stamp",
    "require_weights",
    "trusted_unpinned_weights",
    "verify",
    "weights_dir",
]
