"""Workflow configuration: YAML loading and whole-chain validation.

A workflow file has three sections::

    general:                 # model name, version (default: the model folder's mhub.toml), description
      description: HU thresholds
    execute:                 # the chain, in order
      - DicomImporter
      - NiftiConverter
      - Thresholder: {body_hu: -400}           # inline parameters
      - module: SegEncoder                     # long form: id, params, inputs
        id: seg
        inputs: {segmentation: "nifti:mod=seg"}
      - DataOrganizer
    modules:                 # parameters shared by every step of a module
      DicomImporter: {modalities: [CT]}

Everything is validated before any input file is read and all problems are
reported together.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from mhubio.core.errors import ConfigError
from mhubio.core.filetypes import FileType
from mhubio.core.identity import MANIFEST_NAME, read_identity, workflow_model_dir
from mhubio.core.module import Importer, Module, Output, RunContext
from mhubio.core.query import Query
from mhubio.core.registry import ModuleRegistry, unknown_name_message

SECTIONS = ("general", "execute", "modules")


class GeneralSection(BaseModel):
    """The ``general`` section of a workflow.

    ``model`` and ``version`` come from the model folder's ``mhub.toml`` when the workflow is one of a model
    folder (``<model>/config/*.yml``); only a workflow outside a model folder writes them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    version: str = "0.0.0"
    description: str = ""

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        """YAML reads ``version: 1.0`` as a number; keep it as written."""
        return str(value) if isinstance(value, int | float) else value


@dataclass(frozen=True)
class StepSpec:
    """One entry of ``execute`` as written in the file."""

    id: str
    module: str
    params: Mapping[str, Any] = field(default_factory=dict)
    inputs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkflowConfig:
    """A parsed (not yet validated against modules) workflow file."""

    general: GeneralSection
    steps: tuple[StepSpec, ...]
    modules: Mapping[str, Mapping[str, Any]]
    source: Path | None = None


@dataclass
class Step:
    """A validated step: module instance plus resolved input queries."""

    id: str
    module: Module
    inputs: dict[str, Query]
    outputs: dict[str, Output]


@dataclass
class Chain:
    """A validated chain: the importer then the per-instance steps."""

    config: WorkflowConfig
    importer: Step
    steps: list[Step]

    @property
    def all_steps(self) -> list[Step]:
        """Importer followed by every other step."""
        return [self.importer, *self.steps]


def models_root() -> Path:
    """Folder holding ``<model>/config/<workflow>.yml``.

    ``MHUB_MODELS_DIR`` if set, else the repository's ``models/`` next to the
    package, else ``/app/models`` (the container layout).
    """
    env = os.environ.get("MHUB_MODELS_DIR")
    if env:
        return Path(env)
    repo_models = Path(__file__).resolve().parents[2] / "models"
    return repo_models if repo_models.is_dir() else Path("/app/models")


def list_models() -> list[str]:
    """Names of the model folders that have a default workflow (``_template`` and other ``_`` folders are not)."""
    root = models_root()
    if not root.is_dir():
        return []
    return sorted(
        p.name for p in root.iterdir() if not p.name.startswith("_") and (p / "config" / "default.yml").is_file()
    )


def model_folder(model: str) -> Path:
    """The folder of model ``model`` under :func:`models_root`; ``ConfigError`` naming the known ones if none."""
    model_dir = models_root() / model
    if not model_dir.is_dir():
        raise ConfigError(unknown_name_message("model", model, list_models()))
    return model_dir


def workflow_path(model: str, workflow: str = "default") -> Path:
    """Path of a model's workflow file; ``ConfigError`` if it does not exist."""
    model_dir = model_folder(model)
    path = model_dir / "config" / f"{workflow}.yml"
    if not path.is_file():
        known = sorted(p.stem for p in (model_dir / "config").glob("*.yml"))
        raise ConfigError(unknown_name_message(f"workflow of model {model!r}", workflow, known))
    return path


def load_config(path: Path) -> WorkflowConfig:
    """Read and parse a workflow file (structure only)."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read workflow file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"workflow file {path} is not valid YAML: {exc}") from exc
    return parse_config(raw, source=Path(path))


def parse_config(raw: Any, source: Path | None = None) -> WorkflowConfig:
    """Parse the structure of a workflow mapping; collects every problem."""
    where = f"{source}: " if source else ""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}a workflow must be a mapping with sections {', '.join(SECTIONS)}")
    problems = [f"{where}unknown section {k!r} (allowed: {', '.join(SECTIONS)})" for k in raw if k not in SECTIONS]
    general = None
    try:
        general = GeneralSection.model_validate(_with_identity(raw.get("general") or {}, source))
    except ConfigError as exc:
        problems += exc.problems
    except ValidationError as exc:
        problems += [f"{where}general: {_pydantic_message(e)}" for e in exc.errors()]
    modules = raw.get("modules") or {}
    if not isinstance(modules, dict) or not all(isinstance(v, dict | None) for v in modules.values()):
        problems.append(f"{where}modules: must map module names to parameter mappings")
        modules = {}
    modules = {k: dict(v or {}) for k, v in modules.items()}
    steps: list[StepSpec] = []
    execute = raw.get("execute")
    if not isinstance(execute, list) or not execute:
        problems.append(f"{where}execute: must be a non-empty list of steps")
        execute = []
    for index, entry in enumerate(execute, start=1):
        try:
            steps.append(_parse_step(entry, index, steps))
        except ValueError as exc:
            problems.append(f"{where}execute step {index}: {exc}")
    if problems:
        raise ConfigError(problems)
    assert general is not None
    return WorkflowConfig(general, tuple(steps), modules, source)


def _with_identity(general: Any, source: Path | None) -> Any:
    """``general`` with the model name and version of the model folder's ``mhub.toml`` filled in.

    A workflow of a model folder (``<model>/config/*.yml``) need not repeat them; if it does, they must agree.

    Raises
    ------
    ConfigError
        If the workflow states a name or version that differs from ``mhub.toml``.
    """
    model_dir = workflow_model_dir(source) if source is not None else None
    identity = read_identity(model_dir) if model_dir is not None else None
    if identity is None or not isinstance(general, dict):
        return general
    problems = [
        f"{source}: general.{key} is {general[key]!r} but {identity.source} says {value!r}; "
        f"remove it from the workflow (a model's {key} is written once, in {MANIFEST_NAME})"
        for key, value in (("model", identity.name), ("version", identity.version))
        if key in general and str(general[key]) != value
    ]
    if problems:
        raise ConfigError(problems)
    return {**general, "model": identity.name, "version": identity.version}


def _parse_step(entry: Any, index: int, previous: Sequence[StepSpec]) -> StepSpec:
    params: Mapping[str, Any] = {}
    inputs: Mapping[str, str] = {}
    step_id = None
    if isinstance(entry, str):
        name = entry
    elif isinstance(entry, dict) and "module" in entry:
        unknown = set(entry) - {"module", "id", "params", "inputs"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)} (long form allows module, id, params, inputs)")
        name, step_id = entry["module"], entry.get("id")
        params, inputs = entry.get("params") or {}, entry.get("inputs") or {}
    elif isinstance(entry, dict) and len(entry) == 1:
        name, params = next(iter(entry.items()))
        params = params or {}
    else:
        raise ValueError("must be a module name, {Name: {params}} or {module: Name, id:, params:, inputs:}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"module name must be a string, got {name!r}")
    if not isinstance(params, dict):
        raise ValueError(f"parameters of {name} must be a mapping, got {type(params).__name__}")
    if not isinstance(inputs, dict) or not all(isinstance(v, str) for v in inputs.values()):
        raise ValueError(f"inputs of {name} must map input names to query strings")
    taken = {s.id for s in previous}
    if step_id is None:
        count = sum(s.module == name for s in previous)
        step_id = name if count == 0 else f"{name}#{count + 1}"
    if step_id in taken:
        raise ValueError(f"step id {step_id!r} is used twice")
    return StepSpec(str(step_id), name, dict(params), dict(inputs))


def apply_overrides(config: WorkflowConfig, assignments: Sequence[str]) -> WorkflowConfig:
    """Apply ``--set KEY=VALUE`` assignments.

    ``KEY`` is ``general.<field>``, ``<ModuleName>.<param>`` (every step of that
    module) or ``<step id>.<param>``; ``<param>`` may be a dotted path into a
    nested parameter (``DicomImporter.qc.min_slices``), which changes that one
    value and keeps the rest of the mapping.  ``VALUE`` is parsed as YAML.
    """
    general = config.general.model_dump()
    modules = {k: dict(v) for k, v in config.modules.items()}
    steps = list(config.steps)
    problems = []
    for text in assignments:
        key, sep, value_text = text.partition("=")
        head, dot, param = key.strip().partition(".")
        path = param.split(".")
        if not sep or not dot or not all(path):
            problems.append(
                f"--set {text!r}: expected TARGET.PARAM=VALUE (PARAM may be a dotted path, e.g. qc.min_slices)"
            )
            continue
        value = yaml.safe_load(value_text) if value_text.strip() else ""
        try:
            if head == "general":
                general = _set_path(general, path, value)
            elif any(s.id == head for s in steps):
                steps = [
                    StepSpec(s.id, s.module, _set_step_path(s, modules, path, value), s.inputs) if s.id == head else s
                    for s in steps
                ]
            elif any(s.module == head for s in steps):
                modules[head] = _set_path(modules.get(head, {}), path, value)
                # A step's own value of the parameter would hide the module-wide one.
                steps = [
                    StepSpec(s.id, s.module, _set_path(s.params, path, value), s.inputs)
                    if s.module == head and path[0] in s.params else s
                    for s in steps
                ]
            else:
                problems.append(
                    f"--set {text!r}: {unknown_name_message('step or module', head, [s.id for s in steps])}"
                )
        except ValueError as exc:
            problems.append(f"--set {text!r}: {exc}")
    if problems:
        raise ConfigError(problems)
    try:
        new_general = GeneralSection.model_validate(general)
    except ValidationError as exc:
        raise ConfigError([f"general: {_pydantic_message(e)}" for e in exc.errors()]) from exc
    return WorkflowConfig(new_general, tuple(steps), modules, config.source)


def _set_step_path(step: StepSpec, modules: Mapping[str, Mapping[str, Any]], path: Sequence[str],
                   value: Any) -> dict[str, Any]:
    """The step's parameters with ``path`` set; a nested mapping the step takes from the ``modules:`` section is
    copied into the step first, so that its other values stay in force (the step's own mapping replaces it)."""
    params = dict(step.params)
    inherited = modules.get(step.module, {})
    if len(path) > 1 and path[0] not in params and path[0] in inherited:
        params[path[0]] = inherited[path[0]]
    return _set_path(params, path, value)


def _set_path(params: Mapping[str, Any], path: Sequence[str], value: Any) -> dict[str, Any]:
    """A copy of ``params`` with the value at ``path`` (keys of nested mappings) replaced; missing levels are added.

    Raises ``ValueError`` if a level of the path holds a value that is not a mapping.
    """
    head, *rest = path
    updated = dict(params)
    if not rest:
        updated[head] = value
        return updated
    inner = params.get(head)
    if inner is None:
        inner = {}
    if not isinstance(inner, Mapping):
        raise ValueError(f"{head} is {inner!r}, not a mapping, so it has no {'.'.join(rest)}")
    updated[head] = _set_path(inner, rest, value)
    return updated


def build_chain(config: WorkflowConfig, registry: ModuleRegistry, context: RunContext) -> Chain:
    """Instantiate and validate every step; raise one ``ConfigError`` listing all problems."""
    problems: list[str] = []
    used = {s.module for s in config.steps}
    problems += [
        f"modules: {name!r} is configured but no step uses it" for name in config.modules if name not in used
    ]
    built: list[Step] = []
    for index, spec in enumerate(config.steps, start=1):
        where = f"step {index} ({spec.id})"
        try:
            cls = registry.get(spec.module)
        except KeyError as exc:
            problems.append(f"{where}: {exc.args[0]}")
            continue
        if issubclass(cls, Importer) != (index == 1):
            problems.append(
                f"{where}: the first step must be an importer and only the first"
                if index == 1 or issubclass(cls, Importer)
                else f"{where}: unexpected importer"
            )
        merged = {**config.modules.get(spec.module, {}), **spec.params}
        try:
            params = cls.Params.model_validate(merged)
        except ValidationError as exc:
            problems += [f"{where}: parameter {_pydantic_message(e)}" for e in exc.errors()]
            continue
        module = cls(spec.id, params, context)
        unknown_inputs = set(spec.inputs) - set(cls.inputs)
        problems += [
            f"{where}: {unknown_name_message('input', name, cls.inputs)}" for name in sorted(unknown_inputs)
        ]
        queries = {}
        for name, declared in cls.inputs.items():
            text = spec.inputs.get(name, declared.query)
            try:
                queries[name] = Query.parse(text)
            except ValueError as exc:
                problems.append(f"{where}: input {name!r}: {exc}")
        try:
            outputs = dict(module.declare_outputs())
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        built.append(Step(spec.id, module, queries, outputs))
    # Data flow is checked up to the first step that could not be built, so
    # one broken step does not cascade into errors for every later input.
    built_ids = {s.id for s in built}
    intact = next((i for i, spec in enumerate(config.steps) if spec.id not in built_ids), len(config.steps))
    problems += _check_data_flow(built[:intact])
    if problems:
        raise ConfigError(problems)
    return Chain(config, built[0], built[1:])


Template = tuple[str, FileType, dict[str, str]]


def _check_data_flow(steps: Sequence[Step]) -> list[str]:
    """Every required input must be producible by an earlier step."""
    problems = []
    produced: list[Template] = []
    for index, step in enumerate(steps, start=1):
        matched: dict[str, list[Template]] = {}
        for name, query in step.inputs.items():
            matched[name] = [t for t in produced if query.may_match(t[1], t[2])]
            declared = type(step.module).inputs[name]
            if not matched[name] and not declared.optional:
                available = ", ".join(sorted({_template_str(t) for t in produced})) or "nothing"
                problems.append(
                    f"step {index} ({step.id}): input {name!r} query {str(query)!r} matches nothing "
                    f"produced by earlier steps (available: {available})"
                )
        for name, output in step.outputs.items():
            if output.inherit is not None and output.inherit not in step.inputs:
                problems.append(f"step {index} ({step.id}): output {name!r} inherits unknown input {output.inherit!r}")
                continue
            bases = [t[2] for t in matched.get(output.inherit, [])] if output.inherit else [{}]
            for base in bases or [{}]:
                meta = dict(base)  # roi included: at run time the label table is inherited too
                meta.update(output.meta)
                produced.append((step.id, output.type, meta))
    return problems


def _template_str(template: Template) -> str:
    _, type_, meta = template
    return ":".join([type_.value, *(f"{k}={v}" for k, v in meta.items())])


def _pydantic_message(error: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in error.get("loc", ())) or "(root)"
    if error.get("type") == "extra_forbidden":
        return f"{loc!r}: unknown parameter"
    if error.get("type") == "missing":
        return f"{loc!r}: required but not given"
    return f"{loc!r}: {error.get('msg')} (got {error.get('input')!r})"
