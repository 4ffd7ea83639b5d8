"""``mhub demo-data``: write synthetic DICOM series for demos and tests."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo-data`` sub-command."""
    p = subparsers.add_parser("demo-data", help="write synthetic DICOM series (obviously fake patients)")
    p.add_argument("output", type=Path, help="folder to write the DICOM files to")
    p.add_argument("--kind", choices=("ct", "mr", "petct"), default="ct")
    p.add_argument("--series", type=int, default=1, help="number of series (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the demo data and print what was written."""
    from mhubio.synthetic import write_demo_dataset

    for series in write_demo_dataset(args.output, kind=args.kind, n_series=args.series, seed=args.seed):
        print(f"{series.modality} series {series.series_uid}: {len(series.files)} files in {series.directory}")
    return 0
