"""Data tables shipped inside the package."""

from __future__ import annotations

import csv
import io
from importlib.resources import files


def packaged_csv_rows(package: str, *parts: str) -> list[dict[str, str]]:
    """The rows of the CSV file ``parts`` (path below the package folder) of ``package``.

    Parameters
    ----------
    package:
        Dotted name of the package that ships the file, e.g. ``"mhubio.segdb"``.
    parts:
        Path components below the package folder, e.g. ``("data", "segments.csv")``.
    """
    text = files(package).joinpath(*parts).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))
