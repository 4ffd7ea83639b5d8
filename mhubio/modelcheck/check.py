"""``mhub check-model``: everything a model folder must satisfy to join the zoo."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mhubio.core.errors import ConfigError
from mhubio.core.identity import MANIFEST_NAME, read_identity
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
    findings.append(Finding("mhub.toml", tuple(_check_manifest(model_dir))))
    findings.append(Finding("model identity", tuple(_check_identity(model_dir))))
    workflows = sorted((model_dir / "config").glob("*.yml"))
    if not workflows:
        findings.append(Finding("workflows", (f"{model_dir}/config has no workflow (*.yml); default.yml is required",)))
    elif not (model_dir / "config" / "default.yml").is_file():
        findings.append(Finding("workflows", (f"{model_dir}/config/default.yml is missing",)))
    for workflow in workflows:
        findings.append(Finding(f"workflow {workflow.stem}", tuple(_check_workflow(workflow, name))))
    if (model_dir / "Dockerfile").is_file():
        findings.append(Finding("Dockerfile (system steps)", tuple(check_dockerfile(model_dir / "Dockerfile"))))
    return findings


def _check_manifest(model_dir: Path) -> list[str]:
    try:
        load_manifest(model_dir)
    except ConfigError as exc:
        return exc.problems
    return []


def _check_identity(model_dir: Path) -> list[str]:
    """Problems of the model card repeating a name or version other than those of ``mhub.toml``.

    (The workflows take theirs from ``mhub.toml``; one that states others fails its own check.)
    """
    try:
        identity = read_identity(model_dir)
    except ConfigError as exc:
        return exc.problems
    meta = model_dir / "meta.json"
    if identity is None or not meta.is_file():
        return []  # reported by the mhub.toml and meta.json checks
    try:
        card = json.loads(meta.read_text())
    except json.JSONDecodeError:
        return []  # reported by the meta.json check
    details = card.get("details") if isinstance(card.get("details"), dict) else {}
    stated = {"id": card.get("id"), "name": card.get("name"), "details.version": details.get("version")}
    expected = {"id": identity.name, "name": identity.name, "details.version": identity.version}
    return [
        f"{meta}: {key} is {stated[key]!r} but {identity.source} says {expected[key]!r} (the model's name and "
        f"version are written once, in {MANIFEST_NAME})"
        for key in stated
        if stated[key] is not None and stated[key] != expected[key]
    ]


def _check_workflow(path: Path, name: str) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="mhub-check-") as tmp:
        try:
            chain = prepare_chain(path, RunOptions(Path(tmp), Path(tmp), workflow=path.stem), Path(tmp))
        except ConfigError as exc:
            return [f"{path.name}: {p}" for p in exc.problems]
    if chain.config.general.model != name:
        return [f"{path.name}: general.model is {chain.config.general.model!r}, expected {name!r}"]
    return []
