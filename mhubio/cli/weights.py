"""``mhub weights``: install, pin, verify and list a model's weights."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from mhubio.core.config import list_models, models_root
from mhubio.core.errors import ConfigError, WeightsError
from mhubio.core.registry import unknown_name_message
from mhubio.weights import (
    InstalledWeights,
    WeightsManifest,
    check_installed,
    fetch,
    load_manifest,
    verify,
    weights_dir,
)
from mhubio.weights.pin import pin

_TRUST_HELP = ("install archives whose sha256 is not recorded yet, with a warning; the observed sha256 is "
               "recorded in the weights stamp and checked from then on")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``weights`` sub-command with ``fetch``, ``pin``, ``verify`` and ``list``."""
    p = subparsers.add_parser("weights", help="install and verify model weights")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, help_text, func in (
        ("fetch", "download (or copy with --from), verify and install a model's weights", run_fetch),
        ("verify", "check every installed file of a model's weights against its sha256", run_verify),
        ("list", "list a model's weights and whether they are installed", run_list),
    ):
        a = actions.add_parser(name, help=help_text)
        a.add_argument("model", help="model name (a folder of models/) or path of a model folder")
        a.add_argument("--weights-dir", type=Path, help="weights folder (default: $MHUB_WEIGHTS_DIR, "
                       "/app/weights in images, else ~/.mhub/weights)")
        if name == "fetch":
            a.add_argument("--from", dest="source_dir", type=Path, metavar="DIR",
                           help="folder with the archives already downloaded (no network is used)")
            a.add_argument("--entry", action="append", help="install only this entry (repeatable)")
            a.add_argument("--force", action="store_true", help="reinstall entries that are already installed")
            a.add_argument("--trust-unpinned", action="store_true", help=_TRUST_HELP)
        a.set_defaults(func=func)
    _register_pin(actions)


def _register_pin(actions: argparse._SubParsersAction) -> None:
    a = actions.add_parser("pin", help="download each unpinned archive, check its layout and write its sha256 "
                           "and size into mhub.toml; verify the pinned ones")
    which = a.add_mutually_exclusive_group(required=True)
    which.add_argument("model", nargs="?", help="model name (a folder of models/) or path of a model folder")
    which.add_argument("--all", action="store_true", help="every model of models/ that declares weights")
    a.add_argument("--from", dest="source_dir", type=Path, metavar="DIR",
                   help="folder with the archives already downloaded (no network is used)")
    a.add_argument("--entry", action="append", help="pin only this entry (repeatable)")
    a.add_argument("--work-dir", type=Path, help="scratch folder for downloads (default: the temporary folder)")
    a.set_defaults(func=run_pin)


def _manifest(model: str) -> WeightsManifest:
    candidate = Path(model)
    if (candidate / "mhub.toml").is_file():
        return load_manifest(candidate)
    folder = models_root() / model
    if not folder.is_dir():
        raise ConfigError(unknown_name_message("model", model, list_models()))
    return load_manifest(folder)


def run_fetch(args: argparse.Namespace) -> int:
    """Install the weights; a failure raises WeightsError (exit 6)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    manifest = _manifest(args.model)
    root = weights_dir(args.weights_dir)
    if args.trust_unpinned and any(not e.sha256 for e in manifest.weights):
        print("mhub weights fetch: --trust-unpinned: archives without a recorded sha256 are installed as "
              "downloaded; see the warnings below", file=sys.stderr)
    installed = fetch(manifest, root, source_dir=args.source_dir, entries=args.entry, force=args.force,
                      trust_unpinned=args.trust_unpinned)
    for item in installed:
        trusted = ", NOT PINNED: trusted as downloaded" if item.trusted_unpinned else ""
        print(f"{item.name}: {len(item.files)} files in {item.path} (archive sha256 {item.archive_sha256}{trusted})")
    return 0


def run_pin(args: argparse.Namespace) -> int:
    """Pin one model or all; a failed entry raises WeightsError (exit 6) after the others are written."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.all:
        manifests = [m for m in (load_manifest(models_root() / name) for name in list_models()) if m.weights]
    else:
        manifests = [_manifest(args.model)]
    failures = []
    for manifest in manifests:
        try:
            results = pin(manifest, source_dir=args.source_dir, entries=args.entry, work_dir=args.work_dir)
        except WeightsError as exc:
            failures.append(str(exc))
            continue
        for r in results:
            print(f"{manifest.model.name}/{r.entry}: {r.outcome.value} sha256 {r.sha256} ({r.size} bytes)")
    if failures:
        raise WeightsError("\n".join(failures))
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """Check every file; print the problems and exit 6 if there are any."""
    manifest = _manifest(args.model)
    root = weights_dir(args.weights_dir)
    problems = verify(manifest, root)
    if problems:
        raise WeightsError("\n".join(f"- {p}" for p in problems))
    files = sum(len(check_installed(manifest, e, root).files) for e in manifest.weights)
    print(f"{manifest.model.name}: {len(manifest.weights)} weights entries, {files} files verified in {root}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    """One line per entry: name, state, target and URL."""
    manifest = _manifest(args.model)
    root = weights_dir(args.weights_dir)
    for entry in manifest.weights:
        try:
            installed: InstalledWeights | None = check_installed(manifest, entry, root)
            state = "installed"
        except WeightsError:
            installed, state = None, "missing"
        if not entry.sha256:
            state = "trusted" if installed else "no sha256"  # trusted: installed with --trust-unpinned
        count = f" ({len(installed.files)} files)" if installed else ""
        print(f"{entry.name:48s} {state:10s} {root / entry.target}{count}  {entry.url}")
    return 0
