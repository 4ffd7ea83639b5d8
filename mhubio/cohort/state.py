"""Per-series state files: what a finished series wrote and from which input and model.

``OUT_DIR/mhub_state/<model>/<SeriesInstanceUID>.json`` is written atomically when a series finishes (done)
and removed when it fails, so an interrupted run leaves a state file exactly for the series it completed.
State files hold UIDs, fingerprints, output paths, checksums and timings: no names, IDs or dates.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mhubio.cohort.layout import STATE_DIR_NAME
from mhubio.core.fileio import atomic_path
from mhubio.core.naming import path_inside, safe_name

STATE_VERSION = 1


@dataclass(frozen=True)
class StateOutput:
    """An output file of a series, as written (path relative to the output folder)."""

    path: str
    sha256: str
    size: int
    mtime_ns: int

    def is_current(self, output_dir: Path) -> bool:
        """Whether the file is still there, unchanged in size and modification time."""
        try:
            stat = (output_dir / self.path).stat()
        except OSError:
            return False
        return stat.st_size == self.size and stat.st_mtime_ns == self.mtime_ns


@dataclass(frozen=True)
class SeriesState:
    """The record of one finished series.

    Parameters
    ----------
    series_uid:
        SeriesInstanceUID of the primary series (the instance id).
    model, version, workflow:
        The model run.
    model_fingerprint, input_fingerprint:
        See :mod:`mhubio.cohort.fingerprint`.
    outputs:
        The files written to the output folder.
    steps:
        ``{"step", "status", "seconds"}`` per step, as in the run report.
    warnings:
        Warnings recorded for the series.
    notes:
        Notes recorded for the series (:attr:`mhubio.core.data.Instance.notes`).
    rows:
        Table name -> rows of the cohort tables for this series (see :mod:`mhubio.tables`).
    """

    series_uid: str
    model: str
    version: str
    workflow: str
    model_fingerprint: str
    input_fingerprint: str
    outputs: tuple[StateOutput, ...]
    steps: tuple[Mapping[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()
    rows: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.series_uid:
            raise ValueError("a series state needs its series UID")
        if not self.model_fingerprint or not self.input_fingerprint:
            raise ValueError("a series state needs both fingerprints")

    def is_current(self, output_dir: Path, model_fingerprint: str, input_fingerprint: str) -> bool:
        """Whether the outputs are up to date for this model and input and still unchanged on disk."""
        return (
            self.model_fingerprint == model_fingerprint
            and self.input_fingerprint == input_fingerprint
            and all(o.is_current(output_dir) for o in self.outputs)
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready content."""
        return {"state_version": STATE_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SeriesState:
        """Parse :meth:`to_json` output; ``ValueError`` if malformed or of another version."""
        if data.get("state_version") != STATE_VERSION:
            raise ValueError(f"not a version {STATE_VERSION} series state")
        try:
            return cls(
                series_uid=str(data["series_uid"]), model=str(data["model"]), version=str(data["version"]),
                workflow=str(data["workflow"]), model_fingerprint=str(data["model_fingerprint"]),
                input_fingerprint=str(data["input_fingerprint"]),
                outputs=tuple(StateOutput(**o) for o in data["outputs"]),
                steps=tuple(data.get("steps", ())), warnings=tuple(data.get("warnings", ())),
                rows=dict(data.get("rows", {})), notes=dict(data.get("notes", {})),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed series state: {exc}") from exc


class StateStore:
    """The state files of one model in an output folder."""

    def __init__(self, output_dir: Path, model: str) -> None:
        self.output_dir = Path(output_dir)
        self.folder = path_inside(self.output_dir / STATE_DIR_NAME, safe_name(model))

    def path(self, series_uid: str) -> Path:
        """The state file of a series (the UID is data: it becomes one safe name)."""
        return path_inside(self.folder, f"{safe_name(series_uid)}.json")

    def read(self, series_uid: str) -> SeriesState | None:
        """The state of a series, or ``None`` if there is none, it is unreadable or it is another series' whose
        UID maps to the same file name (then it is redone)."""
        state = _load(self.path(series_uid))
        return state if state is not None and state.series_uid == series_uid else None

    def write(self, state: SeriesState) -> Path:
        """Write a state file atomically."""
        target = self.path(state.series_uid)
        with atomic_path(target) as tmp:
            tmp.write_text(json.dumps(state.to_json(), separators=(",", ":")) + "\n", encoding="utf-8")
        return target

    def remove(self, series_uid: str) -> None:
        """Forget a series (its outputs are no longer known to be up to date)."""
        self.path(series_uid).unlink(missing_ok=True)

    def __iter__(self) -> Iterator[SeriesState]:
        """Every readable state of this model, in file-name order."""
        if not self.folder.is_dir():
            return
        for entry in sorted(os.scandir(self.folder), key=lambda e: e.name):
            if entry.name.endswith(".json") and not entry.name.startswith("."):
                state = _load(Path(entry.path))
                if state is not None:
                    yield state


def _load(path: Path) -> SeriesState | None:
    """The state stored in ``path``, or ``None`` if it is missing or unreadable."""
    try:
        return SeriesState.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None
