"""``mhub build``: build the base image or a model image.

``mhub build base`` builds the base image; ``mhub build NAME`` builds the base image, then the image of
``models/NAME``. With ``--offline`` nothing is fetched inside ``docker build``: the operating system image is
a local debootstrap image (made once, then kept), Python packages come from the host-side wheelhouse and
weights from ``--weights-from``. ``--gpu`` builds both images with PyPI's CUDA build of torch into separate
tags (``mhub/NAME:VERSION-gpu``) from their own wheelhouse; run them with ``docker run --gpus all``. A failed
build step exits 20 (its output is shown above the message).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mhubio.containers.build import DEFAULT_OS_IMAGE, build_base, build_model, check_buildable
from mhubio.containers.images import BASE_NAME, ImageBuild
from mhubio.containers.rootfs import make_local_base
from mhubio.containers.variant import ImageVariant
from mhubio.core.exitcodes import ExitCode


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``build`` sub-command (to ``mhub`` and to ``python -m mhubio.containers``)."""
    parser = subparsers.add_parser(
        "build",
        help="build the base image or a model image",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", help=f"model folder name under models/, or '{BASE_NAME}' for the base image")
    parser.add_argument(
        "--offline",
        action="store_true",
        help="build without network inside docker build: local OS image, wheelhouse only, local weights",
    )
    parser.add_argument(
        "--base-image",
        metavar="IMAGE",
        help="image to build on: the OS image for 'base' (default: local debootstrap image with --offline, "
        f"else {DEFAULT_OS_IMAGE}); an existing MHub base image for a model (skips building the base)",
    )
    parser.add_argument("--tag", help="name of the image to build (default mhub/NAME:VERSION)")
    parser.add_argument("--weights-from", type=Path, metavar="DIR", help="folder with the model's weight files")
    parser.add_argument("--wheelhouse", type=Path, metavar="DIR", help="wheelhouse folder (default: in the cache)")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="mhubio checkout (default: .)")
    parser.add_argument("--quiet", action="store_true", help="do not show the docker build output")
    parser.add_argument("--gpu", action="store_true",
                        help="GPU variant: CUDA torch from PyPI, tags VERSION-gpu and latest-gpu, own wheelhouse")
    parser.add_argument("--trust-unpinned", action="store_true",
                        help="build even if weights have no sha256 yet, with a warning: the observed sha256 is "
                        "recorded in the image labels, the weights stamp and every run report")
    parser.set_defaults(func=run)


def _variant(args: argparse.Namespace) -> ImageVariant:
    return ImageVariant.GPU if args.gpu else ImageVariant.CPU


def _report(build: ImageBuild) -> None:
    """Print one line about a built image."""
    print(f"{build.tag}: {build.size_bytes / 1e6:.0f} MB, built in {build.seconds:.0f} s")


def _build_base_image(args: argparse.Namespace, os_image: str | None, tag: str | None) -> ImageBuild:
    """Build the base image on ``os_image``, by default the local debootstrap image when offline."""
    if os_image is None:
        os_image = make_local_base().tag if args.offline else DEFAULT_OS_IMAGE
    return build_base(
        args.repo,
        base_image=os_image,
        tag=tag,
        offline=args.offline,
        wheelhouse=args.wheelhouse,
        stream=not args.quiet,
        variant=_variant(args),
    )


def run(args: argparse.Namespace) -> int:
    """Carry out ``mhub build``; return the exit status.

    Raises
    ------
    ConfigError
        If the model folder is incomplete or the build cannot be done as asked (exit 2).
    DockerError
        If a build step fails (exit 20).
    """
    if args.name == BASE_NAME:
        _report(_build_base_image(args, os_image=args.base_image, tag=args.tag))
        return int(ExitCode.SUCCESS)
    check_buildable(args.name, args.repo.absolute(), offline=args.offline, weights_dir=args.weights_from)
    base_image = args.base_image
    if base_image is None:
        base = _build_base_image(args, os_image=None, tag=None)
        _report(base)
        base_image = base.tag
    _report(
        build_model(
            args.name,
            args.repo,
            base_image=base_image,
            tag=args.tag,
            offline=args.offline,
            wheelhouse=args.wheelhouse,
            weights_dir=args.weights_from,
            stream=not args.quiet,
            variant=_variant(args),
            trust_unpinned=args.trust_unpinned,
        )
    )
    return int(ExitCode.SUCCESS)
