"""``mhub run``: run a model's workflow on a folder of DICOM files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mhubio.core.config import workflow_path
from mhubio.core.errors import ConfigError
from mhubio.core.exitcodes import ExitCode
from mhubio.core.integrity import sigterm_as_interrupt
from mhubio.core.logs import ProgressPrinter
from mhubio.core.report import REPORT_NAME, print_summary
from mhubio.core.runner import RunOptions, run_workflow
from mhubio.core.safetext import plain_text

if TYPE_CHECKING:
    from mhubio.dicomweb.run import DicomwebOptions


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` sub-command."""
    p = subparsers.add_parser("run", help="run a model workflow on a DICOM folder")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", "-m", help="model name (a folder of models/)")
    which.add_argument("--config", "-c", type=Path, help="workflow YAML file")
    p.add_argument("--workflow", "-w", default="default", help="workflow of --model (default: default)")
    p.add_argument("--input", "-i", required=True,
                   help="folder with DICOM files (any layout), or a DICOMweb URL of a study, series or QIDO-RS query "
                        "(credentials: MHUB_DICOMWEB_* variables, see README)")
    p.add_argument("--output", "-o", type=Path, required=True, help="output folder")
    p.add_argument("--set", "-s", action="append", default=[], metavar="TARGET.PARAM=VALUE",
                   help="override a parameter of a step or module (PARAM may be a dotted path into a nested one), "
                        "e.g. Thresholder.body_hu=-400 or DicomImporter.qc.min_slices=3 (repeatable)")
    p.add_argument("--push", metavar="URL", help="store the SEG/SR outputs on this DICOMweb server (STOW-RS)")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failed series")
    p.add_argument("--workers", type=_worker_count, default=1, metavar="N",
                   help="process series in N worker processes, each loading the models once (default: 1, in this "
                        "process)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="process series on the workers of a Dask scheduler, e.g. tcp://host:8786 (needs "
                        "mhubio[dask]; folders must be at the same paths on every worker)")
    p.add_argument("--resume", action="store_true",
                   help="skip series whose outputs in the output folder are up to date (same input, model, "
                        "workflow, parameters and weights); redo the others")
    p.add_argument("--weights-dir", type=Path,
                   help="folder with model weights (default: $MHUB_WEIGHTS_DIR, /app/weights in images, "
                        "else ~/.mhub/weights)")
    p.add_argument("--work-dir", type=Path, help="scratch folder (default: a new temporary folder)")
    p.add_argument("--keep-work", action="store_true",
                   help="write every step's outputs to the scratch folder and keep it, for debugging "
                        "(images otherwise go from step to step in memory)")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the summary")
    p.set_defaults(func=run)


def _dicomweb_options(input_text: str, push_text: str | None) -> DicomwebOptions | None:
    """The run's DICOMweb options; None for a folder run without ``--push``, which never imports the DICOMweb client."""
    if push_text is None and not input_text.startswith(("http://", "https://")):
        return None
    from mhubio.dicomweb.run import parse_options

    return parse_options(input_text, push_text)


def run(args: argparse.Namespace) -> int:
    """Execute ``mhub run``."""
    if args.config is not None and args.workflow != "default":
        raise ConfigError("--workflow goes with --model, not with --config")
    config = args.config if args.config is not None else workflow_path(args.model, args.workflow)
    dicomweb = _dicomweb_options(args.input, args.push)
    downloaded = dicomweb is not None and dicomweb.source is not None
    options = RunOptions(
        input_dir=Path() if downloaded else Path(args.input), output_dir=args.output, overrides=args.set,
        fail_fast=args.fail_fast,
        work_dir=args.work_dir, keep_work=args.keep_work, weights_dir=args.weights_dir, workflow=args.workflow,
        workers=args.workers, scheduler=args.scheduler, resume=args.resume,
    )
    progress = ProgressPrinter(quiet=args.quiet)
    with sigterm_as_interrupt():
        if dicomweb is None:
            report = run_workflow(config, options, progress)
        else:
            from mhubio.dicomweb.run import run_with_dicomweb

            report = run_with_dicomweb(config, options, dicomweb, progress)
    if report.exit_code == ExitCode.CONFIG_ERROR:
        print(f"mhub: configuration error in {config}:\n{report.error}", file=sys.stderr)
        return int(report.exit_code)
    if report.error and report.exit_code != ExitCode.SUCCESS:
        print(f"mhub: {plain_text(report.error)}", file=sys.stderr)
    print_summary(report, args.output / REPORT_NAME)
    return int(report.exit_code)


def _worker_count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
