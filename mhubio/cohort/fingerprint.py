"""Fingerprints that decide whether a series' outputs are up to date.

A series is up to date when both its input fingerprint (the content of its DICOM instances) and the model
fingerprint of the run (model, version, workflow, every step's resolved parameters and the weights' sha256)
equal those recorded when its outputs were written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mhubio.core.config import Chain
from mhubio.core.data import Instance
from mhubio.core.fileio import sha256_file
from mhubio.core.filetypes import FileType
from mhubio.core.module import RunContext


def input_fingerprint(instance: Instance) -> str | None:
    """sha256 over the sorted sha256 of every input file of ``instance`` (independent of names and layout).

    The input files are those of :func:`input_files`; ``None`` when the instance has no input file, so that its
    outputs are never taken as up to date.
    """
    return files_fingerprint(input_files(instance))


def input_files(instance: Instance) -> list[Path]:
    """The input files of ``instance``: the members of its imported DICOM items (else of any imported item)."""
    items = [i for i in instance.items if i.type is FileType.DICOM] or instance.items
    return sorted({Path(f) for item in items for f in (item.files or (item.path,)) if Path(f).is_file()})


def files_fingerprint(files: Sequence[Path]) -> str | None:
    """sha256 over the sorted sha256 of ``files``; ``None`` for no file."""
    if not files:
        return None
    digests = sorted(sha256_file(f) for f in files)
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def model_fingerprint(chain: Chain, workflow: str) -> str:
    """sha256 of the model identity of a validated chain.

    Covers the model name and version, the workflow name, each step's module and resolved parameters
    (defaults, workflow values and ``--set`` overrides) and the weights declared in ``mhub.toml``
    (sha256 from the manifest, and the installed archive's sha256 where a weights stamp is present).
    """
    context = chain.importer.module.context
    identity = {
        "model": context.model.name,
        "version": context.model.version,
        "workflow": workflow,
        "steps": [
            {"id": s.id, "module": type(s.module).__name__, "params": s.module.params.model_dump(mode="json")}
            for s in chain.all_steps
        ],
        "weights": _weights_identity(context),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def _weights_identity(context: RunContext) -> list[dict[str, Any]]:
    model_dir = context.model.directory
    if model_dir is None or not (model_dir / "mhub.toml").is_file():
        return []
    from mhubio.weights.location import weights_dir
    from mhubio.weights.manifest import load_manifest
    from mhubio.weights.stamp import StampError, read_stamp

    root = weights_dir(context)
    entries = []
    for entry in load_manifest(model_dir).weights:
        try:
            installed = read_stamp(root / str(entry.target)).archive_sha256
        except StampError:
            installed = ""
        entries.append({"name": entry.name, "sha256": entry.sha256, "installed": installed})
    return entries
