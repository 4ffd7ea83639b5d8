"""Runs a workflow end to end: folders, chain, import, executor, exit code and run report."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from mhubio.cohort.hooks import CohortRun, finish_cohort, start_cohort
from mhubio.core.collector import freeze_long_lived
from mhubio.core.config import Chain
from mhubio.core.data import InstanceStatus
from mhubio.core.errors import ConfigError, MhubError, NoInputError
from mhubio.core.execution import SequentialExecutor, SeriesExecutor, run_series_on
from mhubio.core.exitcodes import ExitCode
from mhubio.core.fileio import remove_stale_temporaries
from mhubio.core.integrity import as_disk_full, locked_output
from mhubio.core.logs import ProgressPrinter
from mhubio.core.module import ModelInfo
from mhubio.core.options import RunOptions
from mhubio.core.registry import ModuleRegistry
from mhubio.core.report import RunReport, RunState
from mhubio.core.workflow import ChainSpec, prepare_chain

__all__ = ["LOG_DIR_NAME", "RunOptions", "prepare_chain", "run_workflow"]

LOG_DIR_NAME = "mhub_logs"


def run_workflow(
    config_path: Path, options: RunOptions, progress: ProgressPrinter | None = None,
    registry: ModuleRegistry | None = None,
) -> RunReport:
    """Run a workflow end to end; always returns a report with its exit code.

    The report is written to the output folder whenever that folder is usable.  ``registry`` gives the
    module classes (default: the built-in modules and those of the model folder); worker processes rebuild
    it from the classes' import paths.
    """
    progress = progress or ProgressPrinter()
    report = RunReport(ModelInfo("?", "?"), options.workflow)
    try:
        _check_folders(options)
        with locked_output(options.output_dir):
            return _run_locked(config_path, options, progress, registry, report)
    except ConfigError as exc:
        report.exit_code, report.error = exc.exit_code, str(exc)
        return report


def _run_locked(
    config_path: Path, options: RunOptions, progress: ProgressPrinter, registry: ModuleRegistry | None,
    report: RunReport,
) -> RunReport:
    """The run, holding the output folder's lock; a ``running`` report replaces the old one before any output."""
    stale = remove_stale_temporaries(options.output_dir)
    if stale:
        progress.note(f"removed {stale} unfinished file(s) that an interrupted run had left in the output folder")
    work_dir = Path(options.work_dir or tempfile.mkdtemp(prefix="mhub-work-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    cohort = None
    try:
        chain = prepare_chain(config_path, options, work_dir, registry)
        freeze_long_lived()
        report.model = chain.importer.module.context.model
        report.write(options.output_dir, options.input_dir, RunState.RUNNING)
        cohort = start_cohort(chain, options)
        _execute(chain, options, report, cohort.observe(progress), registry, cohort)
    except MhubError as exc:
        report.exit_code, report.error = exc.exit_code, str(exc)
    except KeyboardInterrupt:
        report.exit_code, report.error = ExitCode.INTERRUPTED, "interrupted"
    except OSError as exc:
        full = as_disk_full(exc)
        if full is None:
            raise
        report.exit_code, report.error = full.exit_code, str(full)
    finally:
        if cohort is not None:
            cohort.close()
        if not options.keep_work:
            shutil.rmtree(work_dir, ignore_errors=True)
    if report.exit_code != ExitCode.CONFIG_ERROR:
        _write_final(report, options)
        if cohort is not None:
            finish_cohort(cohort, report, options)
    return report


def _write_final(report: RunReport, options: RunOptions) -> None:
    """Write the finished report; on a full disk the ``running`` report stays (it lists no outputs)."""
    try:
        report.write(options.output_dir, options.input_dir)
    except OSError as exc:
        full = as_disk_full(exc)
        if full is None:
            raise
        report.exit_code = full.exit_code
        report.error = f"{report.error or ''}; the report could not be written: {full}".lstrip("; ")


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
    chain: Chain, options: RunOptions, report: RunReport, progress: ProgressPrinter, registry: ModuleRegistry | None,
    cohort: CohortRun,
) -> None:
    for step in chain.all_steps:
        step.module.preflight()
    importer = chain.importer.module
    importer.files_read = progress.files_indexed  # type: ignore[attr-defined]
    imported = importer.import_instances(options.input_dir)  # type: ignore[attr-defined]
    imported.set_aside_inputs({m.upper(): step.id for step in chain.steps for m in step.module.reads_modalities})
    report.imported = imported
    report.instances = imported.instances
    if not imported.instances and not imported.skipped:
        left_out = "; ".join(imported.file_summary()) or "none left out"
        raise NoInputError(
            f"no DICOM series found in {options.input_dir} ({imported.files_scanned} files scanned; {left_out})"
        )
    if not imported.instances:
        raise NoInputError(
            f"none of the series in {options.input_dir} is eligible "
            f"({len(imported.skipped)} skipped; see skipped_series in the report)"
        )
    log_dir = options.output_dir / LOG_DIR_NAME
    log_dir.mkdir(exist_ok=True)
    pending = cohort.select(imported.instances)
    report.resumed, report.replaced = cohort.resumed, cohort.replaced
    progress.run_started(len(pending), len(imported.skipped))
    if cohort.replaced:
        progress.note(f"{len(cohort.replaced)} series had results of an earlier run of this model and workflow in "
                      f"the output folder: they were removed and the series run again"
                      + ("" if options.resume else " (--resume keeps those that are up to date)"))
    try:
        if not pending:
            progress.note(f"--resume: all {len(imported.instances)} series are up to date")
        else:
            executor = make_executor(chain, options, log_dir, progress, registry, len(pending))
            run_series_on(executor, pending, report.algorithms, progress, options.fail_fast)
    finally:
        progress.run_finished()
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


def make_executor(
    chain: Chain, options: RunOptions, log_dir: Path, progress: ProgressPrinter, registry: ModuleRegistry | None,
    instances: int,
) -> SeriesExecutor:
    """This process, a pool of ``options.workers`` processes, or the Dask cluster at ``options.scheduler``."""
    if not options.uses_workers:
        return SequentialExecutor(chain, log_dir, progress)
    spec = ChainSpec.of(chain, options, registry)
    if options.scheduler is not None:
        from mhubio.distributed.dask_engine import DaskSeriesExecutor

        return DaskSeriesExecutor(spec, log_dir, options.scheduler)
    from mhubio.core.parallel import ProcessPoolSeriesExecutor

    return ProcessPoolSeriesExecutor(
        spec, log_dir, min(options.workers, instances), preload=[step.module for step in chain.all_steps]
    )
