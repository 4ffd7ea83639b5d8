"""What an image build needs to know about one model folder."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from mhubio.containers.images import check_model_name


@dataclass(frozen=True)
class WeightFile:
    """One weight file a model image carries: its path under the model's weights folder and its sha256."""

    path: str
    sha256: str


@dataclass(frozen=True)
class ModelSource:
    """A model folder ``models/<name>/`` as the image build sees it.

    Parameters
    ----------
    name
        Model name, also the image name.
    folder
        The model folder.
    version
        Model version, the image tag.
    weights
        Weight files declared in ``mhub.toml``.
    """

    name: str
    folder: Path
    version: str
    weights: tuple[WeightFile, ...]

    @property
    def dockerfile(self) -> Path:
        """The model's Dockerfile."""
        return self.folder / "Dockerfile"

    @property
    def requirements(self) -> Path | None:
        """The model's pinned pip requirements (``requirements.txt``), if it has any."""
        path = self.folder / "requirements.txt"
        return path if path.is_file() else None

    @classmethod
    def load(cls, models_dir: Path, name: str) -> ModelSource:
        """Read model ``name`` from ``models_dir/name``.

        Raises
        ------
        ValueError
            If the folder, its Dockerfile or its ``mhub.toml`` is missing, or ``mhub.toml`` lacks
            ``[model] version`` or has a weight entry without ``path`` and ``sha256``.
        """
        check_model_name(name)
        folder = models_dir / name
        for required in (folder / "Dockerfile", folder / "mhub.toml"):
            if not required.is_file():
                raise ValueError(f"model {name!r}: {required} is missing")
        try:
            manifest = tomllib.loads((folder / "mhub.toml").read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"model {name!r}: {folder / 'mhub.toml'} is not valid TOML: {exc}") from exc
        version = manifest.get("model", {}).get("version")
        if not isinstance(version, str) or not version:
            raise ValueError(f"model {name!r}: {folder / 'mhub.toml'} has no [model] version")
        weights = []
        for entry in manifest.get("weights", []):
            if not isinstance(entry.get("path"), str) or not isinstance(entry.get("sha256"), str):
                raise ValueError(f"model {name!r}: every [[weights]] entry needs 'path' and 'sha256'")
            weights.append(WeightFile(path=entry["path"], sha256=entry["sha256"]))
        return cls(name=name, folder=folder, version=version, weights=tuple(weights))
