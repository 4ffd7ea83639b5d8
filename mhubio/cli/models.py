"""``mhub models``: list the models and their workflows."""

from __future__ import annotations

import argparse
import json

from mhubio.core.config import list_models, models_root


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` sub-command."""
    p = subparsers.add_parser("models", help="list the available models")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print one line per model: name, workflows and title from meta.json."""
    root = models_root()
    for name in list_models():
        folder = root / name
        workflows = ", ".join(sorted(p.stem for p in (folder / "config").glob("*.yml")))
        title = ""
        meta = folder / "meta.json"
        if meta.is_file():
            title = json.loads(meta.read_text()).get("title", "")
        print(f"{name:28s} {title}  [workflows: {workflows}]")
    return 0
