"""Which model images a change of the repository affects, for CI build matrices."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from mhubio.containers.docker import run_tool
from mhubio.core.identity import MANIFEST_NAME

#: Paths whose change affects every image: the base image, the framework and its pins.
SHARED_PATHS = ("base", "mhubio", "configs", "constraints.txt", "pyproject.toml")


def image_models(repo_dir: Path) -> list[str]:
    """Model folders of ``repo_dir/models`` that build an image (have an ``mhub.toml``; ``_template`` excluded)."""
    models = repo_dir / "models"
    return sorted(
        p.name for p in models.iterdir() if not p.name.startswith("_") and (p / MANIFEST_NAME).is_file()
    )


def affected_models(changed_files: list[str], models: list[str]) -> list[str]:
    """Models among ``models`` whose image a change of ``changed_files`` (repository paths) affects."""
    affected: set[str] = set()
    for name in changed_files:
        parts = PurePosixPath(name).parts
        if parts and parts[0] in SHARED_PATHS:
            return sorted(models)
        if len(parts) > 1 and parts[0] == "models" and parts[1] in models:
            affected.add(parts[1])
    return sorted(affected)


def changed_models(repo_dir: Path, since: str) -> list[str]:
    """Models whose image the commits from the merge base with ``since`` to ``HEAD`` affect."""
    diff = run_tool(["git", "-C", str(repo_dir), "diff", "--name-only", f"{since}...HEAD"], timeout=120)
    return affected_models(diff.stdout.split(), image_models(repo_dir))
