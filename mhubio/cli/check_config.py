"""``mhub check-config``: validate a workflow without reading any data."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from mhubio.core.config import workflow_path
from mhubio.core.errors import ConfigError
from mhubio.core.exitcodes import ExitCode
from mhubio.core.runner import RunOptions, prepare_chain


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``check-config`` sub-command."""
    p = subparsers.add_parser("check-config", help="validate a workflow file or a model's workflow")
    p.add_argument("config", nargs="?", type=Path, help="workflow YAML file")
    p.add_argument("--model", "-m", help="model name instead of a file")
    p.add_argument("--workflow", "-w", default="default")
    p.add_argument("--set", "-s", action="append", default=[], metavar="TARGET.PARAM=VALUE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate the chain and print its steps; a usage or configuration error raises ConfigError (exit 2)."""
    if (args.config is None) == (args.model is None):
        raise ConfigError("mhub check-config: give either a workflow file or --model NAME")
    config = args.config if args.config is not None else workflow_path(args.model, args.workflow)
    with tempfile.TemporaryDirectory(prefix="mhub-check-") as tmp:
        options = RunOptions(Path(tmp), Path(tmp), overrides=args.set, workflow=args.workflow)
        chain = prepare_chain(config, options, Path(tmp))
    print(f"{config}: valid ({chain.config.general.model} {chain.config.general.version})")
    for index, step in enumerate(chain.all_steps, start=1):
        print(f"  {index:2d}. {step.id} ({type(step.module).__name__})")
    return int(ExitCode.SUCCESS)
