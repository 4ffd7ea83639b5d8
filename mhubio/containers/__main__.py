"""``python -m mhubio.containers``: image tooling for CI and maintainers, usable before mhubio is installed.

Commands: ``local-base`` (make the local debootstrap OS image, kept once made), ``wheelhouse`` (fill the
wheelhouse for the base image and every model), ``changed-models`` (JSON list of the models whose image
changed since a git revision, for CI matrices) and ``build`` (as ``mhub build``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from mhubio.containers import build_command
from mhubio.containers.build import DEFAULT_EXTRAS
from mhubio.containers.changes import changed_models, image_models
from mhubio.containers.rootfs import make_local_base
from mhubio.containers.wheelhouse import make_wheelhouse, project_requirements
from mhubio.core.errors import MhubError


def _local_base(args: argparse.Namespace) -> int:
    build = make_local_base(force=args.force)
    state = "kept" if build.cached else f"made in {build.seconds:.0f} s"
    print(f"{build.tag}: {build.size_bytes / 1e6:.0f} MB, {state}")
    return 0


def _wheelhouse(args: argparse.Namespace) -> int:
    repo = args.repo.absolute()
    house = make_wheelhouse(
        args.dest,
        requirements=project_requirements(repo, DEFAULT_EXTRAS),
        requirement_files=sorted((repo / "models").glob("*/requirements.txt")),
        constraints=repo / "constraints.txt",
    )
    size = sum(wheel.stat().st_size for wheel in house.glob("*.whl"))
    print(f"{house}: {len(list(house.glob('*.whl')))} wheels, {size / 1e6:.0f} MB")
    return 0


def _changed_models(args: argparse.Namespace) -> int:
    repo = args.repo.absolute()
    models = image_models(repo) if args.since is None else changed_models(repo, args.since)
    print(json.dumps(models))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status."""
    parser = argparse.ArgumentParser(prog="python -m mhubio.containers", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log every command with its duration")
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local-base", help="make the local debootstrap OS image")
    local.add_argument("--force", action="store_true", help="make it again even if it exists")
    local.set_defaults(func=_local_base)
    wheels = commands.add_parser("wheelhouse", help="fill the wheelhouse for the base image and all models")
    wheels.add_argument("--repo", type=Path, default=Path.cwd(), help="mhubio checkout (default: .)")
    wheels.add_argument("--dest", type=Path, help="wheelhouse folder (default: in the cache)")
    wheels.set_defaults(func=_wheelhouse)
    changed = commands.add_parser("changed-models", help="JSON list of the models whose image a change affects")
    changed.add_argument("--since", metavar="REV", help="git revision to compare with (default: all models)")
    changed.add_argument("--repo", type=Path, default=Path.cwd(), help="mhubio checkout (default: .)")
    changed.set_defaults(func=_changed_models)
    build_command.register(commands)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return args.func(args)
    except MhubError as exc:
        print(f"{parser.prog} {args.command}: {exc}", file=sys.stderr)
        return int(exc.exit_code)


if __name__ == "__main__":
    sys.exit(main())
