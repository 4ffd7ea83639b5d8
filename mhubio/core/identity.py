"""A model's identity: its name and version, written once in the ``[model]`` table of ``mhub.toml``.

The workflows (``general``), the image labels and ``mhub check-model`` take them from there; the model card
(``meta.json``) repeats them because its format requires them, and ``mhub check-model`` holds it to them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from mhubio.core.errors import ConfigError

#: File of a model folder that holds its identity (and its weights and test cases).
MANIFEST_NAME = "mhub.toml"


@dataclass(frozen=True)
class ModelIdentity:
    """Name and version of a model, as written in ``source``.

    Parameters
    ----------
    name
        Model name: the folder name, the image name, ``general.model`` of its workflows.
    version
        Model version: the image tag, ``general.version`` of its workflows.
    source
        The ``mhub.toml`` they were read from.
    """

    name: str
    version: str
    source: Path


def read_identity(model_dir: Path) -> ModelIdentity | None:
    """The identity in ``model_dir/mhub.toml``, or None when the folder has no such file.

    Raises
    ------
    ConfigError
        If the file is not valid TOML or its ``[model]`` table lacks a name or version.
    """
    path = Path(model_dir) / MANIFEST_NAME
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the model identity ({exc})") from exc
    table = raw.get("model")
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: a [model] table with name and version is required")
    name, version = table.get("name"), table.get("version")
    problems = [
        f"{path}: model.{key} must be a non-empty string (got {value!r})"
        for key, value in (("name", name), ("version", version))
        if not isinstance(value, str) or not value.strip()
    ]
    if problems:
        raise ConfigError(problems)
    return ModelIdentity(str(name), str(version), path)


def workflow_model_dir(workflow: Path) -> Path | None:
    """The model folder of a workflow file ``<model>/config/<workflow>.yml``, or None elsewhere."""
    config_dir = Path(workflow).parent
    return config_dir.parent if config_dir.name == "config" else None
