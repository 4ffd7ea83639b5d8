"""From a workflow file to a validated chain, here or in a worker process."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from mhubio.core.config import Chain, WorkflowConfig, apply_overrides, build_chain, load_config, models_root
from mhubio.core.errors import MhubError
from mhubio.core.module import ModelInfo, RunContext
from mhubio.core.options import RunOptions
from mhubio.core.registry import ModuleRegistry


def model_dir_for(config: WorkflowConfig) -> Path | None:
    """The model folder of a workflow: ``models/<model>`` or the folder above ``config/``."""
    candidate = models_root() / config.general.model
    if candidate.is_dir():
        return candidate
    if config.source is not None and config.source.parent.name == "config":
        return config.source.parent.parent
    return None


def prepare_chain(
    config_path: Path, options: RunOptions, work_dir: Path, registry: ModuleRegistry | None = None
) -> Chain:
    """Load, override and validate a workflow; nothing is read from the input.

    ``registry`` defaults to the built-in modules plus those of the model folder.
    """
    config = apply_overrides(load_config(config_path), options.overrides)
    model_dir = model_dir_for(config)
    context = RunContext(
        input_dir=options.input_dir,
        output_dir=options.output_dir,
        work_dir=work_dir,
        model=ModelInfo(config.general.model, config.general.version, model_dir),
        weights_dir=options.weights_dir,
        workflow=options.workflow,
        keep_work=options.keep_work,
        workers=options.workers,
    )
    return build_chain(config, registry or ModuleRegistry.discover(model_dir), context)


@dataclass(frozen=True)
class ChainSpec:
    """What a worker process needs to rebuild the validated chain of a run.

    Parameters
    ----------
    config_path:
        The workflow file; the same path must be readable by every worker.
    options:
        The run options (overrides, folders, weights folder).
    work_dir:
        Scratch folder of the run.
    modules:
        (module name, class path) of every module of an explicit registry; ``None`` for the default one.
    """

    config_path: Path
    options: RunOptions
    work_dir: Path
    modules: tuple[tuple[str, str], ...] | None = None

    @classmethod
    def of(cls, chain: Chain, options: RunOptions, registry: ModuleRegistry | None = None) -> ChainSpec:
        """The spec of a chain built by :func:`prepare_chain` with ``registry``."""
        source = chain.config.source
        if source is None:
            raise MhubError("the workflow was not read from a file, so workers cannot rebuild it")
        modules = None if registry is None else tuple(registry.class_paths().items())
        return cls(source.resolve(), replace(options, overrides=tuple(options.overrides)),
                   chain.importer.module.context.work_dir, modules)

    def build(self) -> Chain:
        """Load and validate the chain in this process."""
        registry = None if self.modules is None else ModuleRegistry(paths=dict(self.modules))
        return prepare_chain(self.config_path, self.options, self.work_dir, registry)
