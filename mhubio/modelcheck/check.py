"""``mhub check-model``: everything a model folder must satisfy to join the zoo."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mhubio.core.errors import ConfigError
from mhubio.core.runner import RunOptions, prepare_chain
from mhubio.modelcard import validate_model_card
from mhubio.modelcheck.dockerfile import check_dockerfile
from mhubio.weights import load_manifest


@dataclass(frozen=True)
class Finding:
    """One check of a model folder and its outcome."""

    check: str
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """Whether the check found no problem."""
        return not self.problems


def check_model(model_dir: Path) -> list[Finding]:
    """Run every contributor check on ``model_dir``."""
    name = model_dir.name
    findings = [Finding("meta.json", tuple(validate_model_card(model_dir / "meta.json", name)))]
    findings.append(Finding("mhub.toml", tuple(_check_manifest(model_dir, name))))
    workflows = sorted((model_dir / "config").glob("*.yml"))
    if not workflows:
        findings.append(Finding("workflows", (f"{model_dir}/config has no workflow (*.yml); default.yml is required",)))
    elif not (model_dir / "config" / "default.yml").is_file():
        findings.append(Finding("workflows", (f"{model_dir}/config/default.yml is missing",)))
    for workflow in workflows:
        findings.append(Finding(f"workflow {workflow.stem}", tuple(_check_workflow(workflow, name))))
    findings.append(Finding("Dockerfile", tuple(check_dockerfile(model_dir / "Dockerfile", name))))
    return findings


def _check_manifest(model_dir: Path, name: str) -> list[str]:
    try:
        manifest = load_manifest(model_dir)
    except ConfigError as exc:
        return exc.problems
    problems = []
    if manifest.model.name != name:
        problems.append(f"mhub.toml: [model] name is {manifest.model.name!r}, expected {name!r}")
    meta = model_dir / "meta.json"
    if meta.is_file():
        try:
            version = json.loads(meta.read_text()).get("details", {}).get("version")
        except json.JSONDecodeError:
            version = None
        if version and version != manifest.model.version:
            problems.append(f"mhub.toml: version {manifest.model.version!r} differs from meta.json {version!r}")
    return problems


def _check_workflow(path: Path, name: str) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="mhub-check-") as tmp:
        try:
            chain = prepare_chain(path, RunOptions(Path(tmp), Path(tmp), workflow=path.stem), Path(tmp))
        except ConfigError as exc:
            return [f"{path.name}: {p}" for p in exc.problems]
    if chain.config.general.model != name:
        return [f"{path.name}: general.model is {chain.config.general.model!r}, expected {name!r}"]
    return []
