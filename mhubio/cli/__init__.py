"""The ``mhub`` command line.

The sub-commands are listed in :data:`COMMANDS`: a name, the module that defines it and a one-line summary.
Only the module of the sub-command being run is imported (``mhub run`` never imports the image tooling of
:mod:`mhubio.containers`); the others appear in ``mhub --help`` by their summary. A module defines its
sub-command with ``register(subparsers)``, which adds the parser of that name and sets ``func`` (called with
the parsed arguments, returns an exit code). A new sub-command is a module plus one entry in the list.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from mhubio import __version__
from mhubio.core.collector import own_process
from mhubio.core.errors import MhubError
from mhubio.core.exitcodes import ExitCode


@dataclass(frozen=True)
class SubCommand:
    """One ``mhub`` sub-command.

    Parameters
    ----------
    name
        What the user types, e.g. ``check-model``.
    module
        Module whose ``register(subparsers)`` adds the parser ``name``.
    summary
        One line for ``mhub --help``.
    """

    name: str
    module: str
    summary: str


#: Every sub-command of ``mhub``, in the order of ``mhub --help``.
COMMANDS: tuple[SubCommand, ...] = (
    SubCommand("run", "mhubio.cli.run", "run a model workflow on a DICOM folder"),
    SubCommand("models", "mhubio.cli.models", "list the available models"),
    SubCommand("check-config", "mhubio.cli.check_config", "validate a workflow file or a model's workflow"),
    SubCommand("weights", "mhubio.cli.weights", "install and verify model weights"),
    SubCommand("table", "mhubio.cli.table", "query the cohort tables of an output folder with SQL (DuckDB)"),
    SubCommand("demo", "mhubio.cli.demo", "run a model on generated demo CT data (offline)"),
    SubCommand("demo-data", "mhubio.cli.demo_data", "write synthetic DICOM series (obviously fake patients)"),
    SubCommand("build", "mhubio.containers.build_command", "build the base image or a model image"),
    SubCommand("test", "mhubio.cli.test", "run a model on its sample input and compare with reference outputs"),
    SubCommand("check-model", "mhubio.cli.check_model", "check a model folder (meta.json, mhub.toml, workflows)"),
    SubCommand("new-model", "mhubio.cli.new_model", "create models/NAME from the template"),
)


def _chosen(argv: Sequence[str]) -> str | None:
    """The sub-command named on the command line: the first argument that is not an option."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The argument parser for ``argv``: the sub-command it names in full, the others by their summary.

    Parameters
    ----------
    argv
        The command line (without the program name); only its sub-command's module is imported.
    """
    parser = argparse.ArgumentParser(prog="mhub", description="Run medical imaging AI models on DICOM data.")
    parser.add_argument("--version", action="version", version=f"mhub {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = _chosen(argv)
    for command in COMMANDS:
        if command.name == chosen:
            importlib.import_module(command.module).register(subparsers)
        else:
            subparsers.add_parser(command.name, help=command.summary, add_help=False)
    return parser


def console_main() -> int:
    """Entry point of the ``mhub`` console script and ``python -m mhubio``: :func:`main` in a process of its own.

    The process is declared mhub's own (:func:`mhubio.core.collector.own_process`), so that its long-lived objects
    are not traversed again by Python's garbage collector; :func:`main` called from other code leaves the
    caller's collector as it is.
    """
    own_process()
    return main()


def main(argv: Sequence[str] | None = None) -> int:
    """The ``mhub`` command line run in the calling process; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.func(args))
    except MhubError as exc:
        print(f"mhub: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
