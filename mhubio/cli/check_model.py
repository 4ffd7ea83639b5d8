"""``mhub check-model`` and ``mhub new-model``: contributor tools."""

from __future__ import annotations

import argparse
from pathlib import Path

from mhubio.core.config import list_models, models_root


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``check-model`` and ``new-model`` sub-commands."""
    p = subparsers.add_parser("check-model", help="check a model folder (meta.json, mhub.toml, workflows, Dockerfile)")
    p.add_argument("models", nargs="*", help="model names or folders (default: every model)")
    p.set_defaults(func=run_check)
    n = subparsers.add_parser("new-model", help="create models/NAME from the template")
    n.add_argument("name")
    n.set_defaults(func=run_new)


def _folder(name: str) -> Path:
    path = Path(name)
    return path if path.is_dir() and (path / "config").exists() else models_root() / name


def run_check(args: argparse.Namespace) -> int:
    """Print a verdict per check; exit 0 only if every check of every model passes."""
    from mhubio.modelcheck import check_model

    failed = 0
    for name in args.models or list_models():
        folder = _folder(name)
        findings = check_model(folder)
        bad = [f for f in findings if not f.passed]
        failed += bool(bad)
        print(f"{folder.name}: {'ok' if not bad else 'FAILED'}")
        for finding in findings:
            print(f"  {'ok  ' if finding.passed else 'FAIL'} {finding.check}")
            for problem in finding.problems:
                print(f"       - {problem}")
    return 1 if failed else 0


def run_new(args: argparse.Namespace) -> int:
    """Scaffold a model folder and say what to fill in."""
    from mhubio.modelcheck import new_model

    target = new_model(args.name, models_root())
    print(f"created {target}; fill in meta.json, mhub.toml and config/default.yml, then run `mhub check-model {args.name}`")
    return 0
