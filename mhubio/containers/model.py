"""What an image build needs to know about one model folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mhubio.containers.images import check_model_name
from mhubio.core.errors import ConfigError
from mhubio.weights import WeightsManifest, load_manifest


@dataclass(frozen=True)
class ModelSource:
    """A model folder ``models/<name>/`` as the image build sees it.

    Parameters
    ----------
    folder
        The model folder.
    manifest
        Its validated ``mhub.toml``: name, version (the image tag) and weights.
    """

    folder: Path
    manifest: WeightsManifest

    @property
    def name(self) -> str:
        """Model name, also the image name."""
        return self.manifest.model.name

    @property
    def version(self) -> str:
        """Model version, the image tag."""
        return self.manifest.model.version

    @property
    def system_dockerfile(self) -> Path | None:
        """The model's own Dockerfile of extra system steps, built before the shared one, if it has one."""
        path = self.folder / "Dockerfile"
        return path if path.is_file() else None

    @property
    def requirements(self) -> Path | None:
        """The model's pinned pip requirements (``requirements.txt``), if it has any."""
        path = self.folder / "requirements.txt"
        return path if path.is_file() else None

    def weight_labels(self) -> list[dict[str, str | bool]]:
        """Name, sha256 and URL of every weights entry, as recorded in the image labels; entries whose
        sha256 was observed by ``--trust-unpinned`` carry ``"trusted_unpinned": true``."""
        return [
            {"name": e.name, "sha256": e.sha256, "url": e.url,
             **({"trusted_unpinned": True} if e.trusted_unpinned else {})}
            for e in self.manifest.weights
        ]

    @classmethod
    def load(cls, models_dir: Path, name: str) -> ModelSource:
        """Read model ``name`` from ``models_dir/name``.

        Raises
        ------
        ConfigError
            If the name cannot name an image, or the folder or a valid ``mhub.toml`` is missing.
        """
        try:
            check_model_name(name)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        folder = models_dir / name
        if not folder.is_dir():
            raise ConfigError(f"model {name!r}: no folder {folder}")
        return cls(folder=folder, manifest=load_manifest(folder))
