"""``mhub new-model``: a new model folder from ``models/_template``."""

from __future__ import annotations

import argparse

from mhubio.core.config import models_root
from mhubio.core.exitcodes import ExitCode


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``new-model`` sub-command."""
    p = subparsers.add_parser("new-model", help="create models/NAME from the template")
    p.add_argument("name")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Scaffold a model folder and say what to fill in."""
    from mhubio.modelcheck import new_model

    target = new_model(args.name, models_root())
    print(f"created {target}; fill in meta.json, mhub.toml and config/default.yml, "
          f"then run `mhub check-model {args.name}`")
    return int(ExitCode.SUCCESS)
