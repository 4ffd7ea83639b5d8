"""``mhub demo``: generate a synthetic CT and run a model on it, end to end."""

from __future__ import annotations

import argparse
from pathlib import Path

from mhubio.core.config import workflow_path
from mhubio.core.logs import ProgressPrinter
from mhubio.core.report import REPORT_NAME, print_summary
from mhubio.core.runner import RunOptions, run_workflow


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` sub-command."""
    p = subparsers.add_parser("demo", help="run a model on generated demo CT data (offline)")
    p.add_argument("--output", "-o", type=Path, default=Path("demo_output"),
                   help="folder for input/ (generated DICOM) and output/ (results)")
    p.add_argument("--model", "-m", default="demo_nnunet", help="model to run (default: demo_nnunet)")
    p.add_argument("--series", type=int, default=1, help="number of generated series")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write demo data to OUTPUT/input, run the model into OUTPUT/output."""
    from mhubio.synthetic import write_demo_dataset

    config = workflow_path(args.model)
    input_dir, output_dir = args.output / "input", args.output / "output"
    series = write_demo_dataset(input_dir, kind="ct", n_series=args.series, seed=args.seed)
    print(f"demo input: {len(series)} synthetic CT series in {input_dir}")
    report = run_workflow(config, RunOptions(input_dir, output_dir), ProgressPrinter())
    print_summary(report, output_dir / REPORT_NAME)
    return int(report.exit_code)
