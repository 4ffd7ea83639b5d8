"""``mhub new-model``: a new model folder from ``models/_template``."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from mhubio.core.errors import ConfigError

PLACEHOLDER = "MODEL_NAME"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def new_model(name: str, models_root: Path) -> Path:
    """Copy the template to ``models_root/name`` with the name filled in; returns the folder."""
    if not _NAME.match(name):
        raise ConfigError(
            f"model name {name!r}: use lower case letters, digits and underscores, starting with a letter"
        )
    template, target = models_root / "_template", models_root / name
    if not template.is_dir():
        raise ConfigError(f"template folder {template} is missing")
    if target.exists():
        raise ConfigError(f"{target} already exists")
    shutil.copytree(template, target)
    for path in target.rglob("*"):
        if path.is_file():
            text = path.read_text()
            if PLACEHOLDER in text:
                path.write_text(text.replace(PLACEHOLDER, name))
    return target
