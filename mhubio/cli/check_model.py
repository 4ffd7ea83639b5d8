"""``mhub check-model``: the contributor checks of model folders."""

from __future__ import annotations

import argparse
from pathlib import Path

from mhubio.core.config import list_models, model_folder
from mhubio.core.exitcodes import ExitCode


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``check-model`` sub-command."""
    p = subparsers.add_parser("check-model", help="check a model folder (meta.json, mhub.toml, workflows, Dockerfile)")
    p.add_argument("models", nargs="*", help="model names or folders (default: every model)")
    p.set_defaults(func=run)


def _folder(name: str) -> Path:
    """The model folder named ``name``: a path to a folder with ``config/``, else ``models/<name>``."""
    path = Path(name)
    if path.is_dir() and (path / "config").exists():
        return path
    return model_folder(name)


def run(args: argparse.Namespace) -> int:
    """Print a verdict per check; exit 0 only if every check of every model passes, else 8."""
    from mhubio.modelcheck import check_model

    failed = 0
    for folder in [_folder(name) for name in args.models or list_models()]:
        findings = check_model(folder)
        bad = [f for f in findings if not f.passed]
        failed += bool(bad)
        print(f"{folder.name}: {'ok' if not bad else 'FAILED'}")
        for finding in findings:
            print(f"  {'ok  ' if finding.passed else 'FAIL'} {finding.check}")
            for problem in finding.problems:
                print(f"       - {problem}")
    return int(ExitCode.CHECK_FAILED if failed else ExitCode.SUCCESS)
