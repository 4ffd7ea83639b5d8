"""Executes a validated chain on every instance and produces the run report."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mhubio.cohort.hooks import CohortRun, finish_cohort, start_cohort
from mhubio.core.config import Chain, Step, WorkflowConfig, apply_overrides, build_chain, load_config, models_root
from mhubio.core.data import AlgorithmInfo, DataItem, Failure, Instance, InstanceStatus, StepTiming
from mhubio.core.errors import ConfigError, MhubError, MissingOutputError, NoInputError, StepError
from mhubio.core.exitcodes import ExitCode
from mhubio.core.filetypes import FileType
from mhubio.core.logs import ProgressPrinter, series_log_handler
from mhubio.core.module import ModelInfo, RunContext
from mhubio.core.query import ANY
from mhubio.core.registry import ModuleRegistry
from mhubio.core.report import RunReport

log = logging.getLogger("mhub")
LOG_DIR_NAME = "mhub_logs"


@dataclass(frozen=True)
class RunOptions:
    """How to run a workflow (the ``mhub run`` options)."""

    input_dir: Path
    output_dir: Path
    overrides: Sequence[str] = ()
    fail_fast: bool = False
    work_dir: Path | None = None
    keep_work: bool = False
    weights_dir: Path | None = None
    workflow: str = "default"
    workers: int = 1
    """Worker processes on this machine; 1 runs every series in this process."""
    scheduler: str | None = None
    """Address of a Dask scheduler (``tcp://host:8786``) whose workers run the series."""
    resume: bool = False
    """Skip series whose outputs are up to date (see :mod:`mhubio.cohort`)."""

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {self.workers}")
        if self.scheduler is not None and self.workers != 1:
            raise ConfigError("--workers and --scheduler exclude each other (Dask workers are started separately)")
        if self.scheduler is not None and importlib.util.find_spec("distributed") is None:
            raise ConfigError("--scheduler needs Dask distributed, which is not installed: pip install 'mhubio[dask]'")
        if self.scheduler is not None:
            # Dask workers run in other folders: every path they see must be absolute
            for name in ("input_dir", "output_dir", "work_dir", "weights_dir"):
                value = getattr(self, name)
                if value is not None:
                    object.__setattr__(self, name, Path(value).absolute())

    @property
    def uses_workers(self) -> bool:
        """Whether series run outside this process (a process pool or a Dask cluster)."""
        return self.workers > 1 or self.scheduler is not None


def model_dir_for(config: WorkflowConfig) -> Path | None:
    """The model folder of a workflow: ``models/<model>`` or the folder above ``config/``."""
    candidate = models_root() / config.general.model
    if candidate.is_dir():
        return candidate
    if config.source is not None and config.source.parent.name == "config":
        return config.source.parent.parent
    return None


def prepare_chain(config_path: Path, options: RunOptions, work_dir: Path) -> Chain:
    """Load, override and validate a workflow; nothing is read from the input."""
    config = apply_overrides(load_config(config_path), options.overrides)
    model_dir = model_dir_for(config)
    context = RunContext(
        input_dir=options.input_dir,
        output_dir=options.output_dir,
        work_dir=work_dir,
        model=ModelInfo(config.general.model, config.general.version, model_dir),
        weights_dir=options.weights_dir or _env_path("MHUB_WEIGHTS_DIR"),
        workflow=options.workflow,
    )
    return build_chain(config, ModuleRegistry.discover(model_dir), context)


def run_workflow(config_path: Path, options: RunOptions, progress: ProgressPrinter | None = None) -> RunReport:
    """Run a workflow end to end; always returns a report with its exit code.

    The report is written to the output folder whenever that folder is usable.
    """
    progress = progress or ProgressPrinter()
    report = RunReport(ModelInfo("?", "?"), options.workflow)
    try:
        _check_folders(options)
    except ConfigError as exc:
        report.exit_code, report.error = exc.exit_code, str(exc)
        return report
    work_dir = Path(options.work_dir or tempfile.mkdtemp(prefix="mhub-work-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    cohort = None
    try:
        chain = prepare_chain(config_path, options, work_dir)
        report.model = chain.importer.module.context.model
        cohort = start_cohort(chain, options)
        _execute(chain, options, report, cohort.observe(progress), cohort)
    except MhubError as exc:
        report.exit_code, report.error = exc.exit_code, str(exc)
    except KeyboardInterrupt:
        report.exit_code, report.error = ExitCode.INTERRUPTED, "interrupted"
    finally:
        if not options.keep_work:
            shutil.rmtree(work_dir, ignore_errors=True)
    if report.exit_code != ExitCode.CONFIG_ERROR:
        report.write(options.output_dir, options.input_dir)
        if cohort is not None:
            finish_cohort(cohort, report, options)
    return report


def _check_folders(options: RunOptions) -> None:
    problems = []
    if not options.input_dir.is_dir():
        problems.append(f"input folder {options.input_dir} does not exist or is not a folder")
    try:
        options.output_dir.mkdir(parents=True, exist_ok=True)
        if not os.access(options.output_dir, os.W_OK):
            problems.append(f"output folder {options.output_dir} is not writable")
    except OSError as exc:
        problems.append(f"cannot create output folder {options.output_dir}: {exc.strerror}")
    if problems:
        raise ConfigError(problems)


def _execute(
    chain: Chain, options: RunOptions, report: RunReport, progress: ProgressPrinter, cohort: CohortRun
) -> None:
    for step in chain.all_steps:
        step.module.preflight()
    importer = chain.importer.module
    imported = importer.import_instances(options.input_dir)  # type: ignore[attr-defined]
    report.imported = imported
    report.instances = imported.instances
    if not imported.instances and not imported.skipped:
        raise NoInputError(
            f"no DICOM series found in {options.input_dir} ({imported.files_scanned} files scanned, "
            f"{len(imported.non_dicom)} not DICOM, {len(imported.unreadable)} unreadable)"
        )
    if not imported.instances:
        raise NoInputError(
            f"none of the series in {options.input_dir} is eligible "
            f"({len(imported.skipped)} skipped; see skipped_series in the report)"
        )
    log_dir = options.output_dir / LOG_DIR_NAME
    log_dir.mkdir(exist_ok=True)
    pending = cohort.select(imported.instances)
    report.resumed = cohort.resumed
    try:
        if not pending:
            progress.note(f"--resume: all {len(imported.instances)} series are up to date")
        elif options.uses_workers:
            from mhubio.core.parallel import run_in_workers

            run_in_workers(chain, options, pending, report, progress, log_dir)
        else:
            _run_sequential(chain, options, pending, report, progress, log_dir)
    finally:
        finished = {i.id: i for i in pending}
        imported.instances[:] = [finished.get(i.id, i) for i in imported.instances]
        importer.teardown()
    total = len(imported.instances)
    done = sum(i.status is InstanceStatus.DONE for i in imported.instances)
    failed = sum(i.status is InstanceStatus.FAILED for i in imported.instances)
    if failed == 0 and done == total:
        report.exit_code = ExitCode.SUCCESS
    elif done == 0:
        report.exit_code = ExitCode.ALL_FAILED
    else:
        report.exit_code = ExitCode.PARTIAL_FAILURE


def _run_sequential(
    chain: Chain, options: RunOptions, instances: list[Instance], report: RunReport, progress: ProgressPrinter,
    log_dir: Path,
) -> None:
    total = len(instances)
    try:
        for index, instance in enumerate(instances, start=1):
            progress.series_started(index, total, instance)
            with series_log_handler(instance, log_dir):
                run_instance(chain.steps, instance, report.algorithms, progress)
            progress.series_finished(instance)
            if options.fail_fast and instance.status is InstanceStatus.FAILED:
                progress.note("--fail-fast: stopping after the first failure")
                break
    finally:
        for step in chain.steps:
            step.module.teardown()


def run_instance(
    steps: Sequence[Step], instance: Instance, algorithms: dict[str, AlgorithmInfo], progress: ProgressPrinter
) -> None:
    """Run the per-instance steps on one instance; a failing step marks it failed and skips the rest.

    ``algorithms`` collects, per producing step, the algorithm of the first item that names one.
    """
    instance.workdir.mkdir(parents=True, exist_ok=True)
    for step in steps:
        if instance.status is InstanceStatus.FAILED:
            instance.timings.append(StepTiming(step.id, "skipped", 0.0))
            continue
        start = time.perf_counter()
        try:
            progress.step_started(step.id)
            new_items = _run_step(step, instance)
        except Exception as exc:
            seconds = time.perf_counter() - start
            message = str(exc) if isinstance(exc, StepError) else f"{type(exc).__name__}: {exc}"
            instance.status = InstanceStatus.FAILED
            instance.failure = Failure(step.id, message, traceback.format_exc())
            instance.timings.append(StepTiming(step.id, "failed", seconds))
            instance.log.error("step %s failed: %s\n%s", step.id, message, instance.failure.traceback)
            progress.step_finished(step.id, False, seconds, message)
            continue
        seconds = time.perf_counter() - start
        instance.timings.append(StepTiming(step.id, "done", seconds))
        instance.log.info("step %s done in %.2f s", step.id, seconds)
        progress.step_finished(step.id, True, seconds)
        for item in new_items:
            if item.algorithm is not None and item.producer not in algorithms:
                algorithms[item.producer] = item.algorithm
    if instance.status is not InstanceStatus.FAILED:
        instance.status = InstanceStatus.DONE


def _run_step(step: Step, instance: Instance) -> list[DataItem]:
    declared_inputs = type(step.module).inputs
    inputs: dict[str, Any] = {}
    for name, query in step.inputs.items():
        found = [i for i in instance.items if query.matches(i.type, i.meta)]
        declared = declared_inputs[name]
        if declared.many:
            inputs[name] = found
        elif found:
            inputs[name] = _latest(found, name, query)
        elif declared.optional:
            inputs[name] = None
        else:
            raise StepError(f"input {name!r}: no data item matches {str(query)!r}")
    outputs = {name: _allocate(step, name, instance, inputs) for name, _ in step.outputs.items()}
    step.module.ensure_setup()
    step.module.process(instance, inputs, outputs)
    added = []
    for name, item in outputs.items():
        present = item.path.is_dir() and any(item.path.iterdir()) if item.type is FileType.DICOM else item.path.is_file()
        if not present:
            if step.outputs[name].optional:
                continue
            raise MissingOutputError(f"{step.id} did not write its declared output {name!r} ({item.path.name})")
        added.append(instance.add(item))
    return added


def _latest(found: list[DataItem], name: str, query: Any) -> DataItem:
    """The most recently produced match; several matches from that one step are ambiguous."""
    latest = found[-1]
    rivals = [i for i in found if i.producer == latest.producer]
    if len(rivals) > 1:
        raise StepError(
            f"input {name!r}: {len(rivals)} items from step {latest.producer} match {str(query)!r} "
            f"({', '.join(str(i) for i in rivals)}); narrow the query in the workflow"
        )
    return latest


def _allocate(step: Step, name: str, instance: Instance, inputs: dict[str, Any]) -> DataItem:
    output = step.outputs[name]
    meta: dict[str, str] = {}
    labels = algorithm = None
    base = inputs.get(output.inherit) if output.inherit else None
    if isinstance(base, DataItem):
        meta = {k: v for k, v in base.meta.items() if k != "roi"}
        labels, algorithm = base.labels, base.algorithm
    meta.update({k: v for k, v in output.meta.items() if v != ANY})
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{step.id}.{name}")
    item = DataItem(output.type, instance.workdir / f"{stem}{output.type.suffix}", meta, producer=step.id)
    if labels is not None:
        item.set_labels(labels)
    item.algorithm = algorithm
    return item


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None
