"""The run report ``mhub_report.json`` and the console summary."""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from importlib import metadata
from pathlib import Path
from typing import Any

from mhubio import __version__
from mhubio.core.data import AlgorithmInfo, Instance, InstanceStatus
from mhubio.core.exitcodes import ExitCode
from mhubio.core.fileio import atomic_path
from mhubio.core.module import ImportResult, ModelInfo
from mhubio.core.naming import safe_name
from mhubio.core.safetext import console_text
from mhubio.weights.check import trusted_unpinned_weights

REPORT_NAME = "mhub_report.json"
REPORTS_DIR_NAME = "mhub_reports"
"""Folder of the latest report of each model and workflow run into the output folder."""


class RunState(str, Enum):
    """Whether a report describes a finished run or one in progress (or killed)."""

    RUNNING = "running"
    FINISHED = "finished"
_TOOLS = (
    "pydicom", "highdicom", "SimpleITK", "numpy", "nibabel", "torch", "nnunetv2", "nnunet", "TotalSegmentator",
    "pyradiomics",
)


def tool_versions() -> dict[str, str]:
    """Versions of the libraries that shape the results (installed ones only)."""
    versions = {"mhubio": __version__, "python": platform.python_version()}
    for name in _TOOLS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


@dataclass
class RunReport:
    """Everything a run did, written as JSON to the output folder."""

    model: ModelInfo
    workflow: str
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    imported: ImportResult | None = None
    instances: list[Instance] = field(default_factory=list)
    algorithms: dict[str, AlgorithmInfo] = field(default_factory=dict)
    exit_code: ExitCode = ExitCode.SUCCESS
    error: str | None = None
    resumed: set[str] = field(default_factory=set)
    """Ids of the series restored as up to date by ``--resume`` (done in an earlier run)."""
    replaced: set[str] = field(default_factory=set)
    """Ids of the series run again whose results of an earlier run of the model and workflow were removed first."""
    sections: dict[str, Any] = field(default_factory=dict)
    """Further JSON-ready top-level sections written by features around the run (e.g. ``dicomweb_push``)."""

    def to_dict(self, input_dir: Path | None = None, state: RunState = RunState.FINISHED) -> dict[str, Any]:
        """JSON-ready content (paths relative to the input/output folders, no PHI).

        A ``running`` report vouches for no file: it lists no series and no outputs.
        """
        if state is RunState.RUNNING:
            return {
                "mhub_version": __version__,
                "state": state.value,
                "model": {"name": self.model.name, "version": self.model.version, "workflow": self.workflow},
                "started": self.started.isoformat(timespec="seconds"),
                "series": [],
                "skipped_series": [],
            }
        finished = datetime.now(UTC)
        imported = self.imported
        content: dict[str, Any] = {
            "mhub_version": __version__,
            "state": state.value,
            "model": {"name": self.model.name, "version": self.model.version, "workflow": self.workflow},
            "started": self.started.isoformat(timespec="seconds"),
            "finished": finished.isoformat(timespec="seconds"),
            "duration_s": round((finished - self.started).total_seconds(), 3),
            "exit_code": int(self.exit_code),
            "exit_reason": self.exit_code.description,
            "error": self.error,
            "tool_versions": tool_versions(),
            "algorithms": {
                step: {
                    "name": a.name, "version": a.version, "type": a.type.value,
                    "family": a.family.value if a.family is not None else None,
                    "parameters": dict(a.parameters), "weights": dict(a.weights),
                }
                for step, a in self.algorithms.items()
            },
            "input": _input_summary(imported, input_dir),
            "series": [{**_instance_dict(i), "resumed": i.id in self.resumed, "replaced": i.id in self.replaced}
                       for i in self.instances],
            "skipped_series": [vars(s) for s in imported.skipped] if imported else [],
            "input_series": [vars(s) for s in imported.input_series] if imported else [],
            **self.sections,
        }
        unpinned = trusted_unpinned_weights(self.model.name)
        if unpinned:
            content["unpinned_weights"] = unpinned
        return content

    def write(self, output_dir: Path, input_dir: Path | None = None, state: RunState = RunState.FINISHED) -> Path:
        """Write ``mhub_report.json`` atomically and return its path.

        The same report goes to ``mhub_reports/<model>.<workflow>.json``, so that the runs of
        several models into one output folder each keep their report.
        """
        text = json.dumps(self.to_dict(input_dir, state), indent=2) + "\n"
        target = Path(output_dir) / REPORT_NAME
        per_model_name = f"{safe_name(self.model.name)}.{safe_name(self.workflow)}.json"
        per_model = Path(output_dir) / REPORTS_DIR_NAME / per_model_name
        for path in (per_model, target):
            with atomic_path(path) as tmp:
                tmp.write_text(text)
        return target

    def counts(self) -> dict[str, int]:
        """Number of instances per status, plus skipped series."""
        counts = {s.value: sum(i.status is s for i in self.instances) for s in InstanceStatus}
        counts["skipped"] = len(self.imported.skipped) if self.imported else 0
        return counts


def _relative(path: Path, base: Path | None) -> str:
    try:
        return str(path.relative_to(base)) if base else str(path)
    except ValueError:
        return str(path)


def _input_summary(imported: ImportResult | None, input_dir: Path | None) -> dict[str, Any]:
    if imported is None:
        return {}
    return {
        "files_scanned": imported.files_scanned,
        "non_dicom": [_relative(p, input_dir) for p in imported.non_dicom],
        "unreadable": [{"path": _relative(p, input_dir), "reason": r} for p, r in imported.unreadable],
        "rejected_files": [{"path": _relative(p, input_dir), "reason": r} for p, r in imported.rejected_files],
    }


def _instance_dict(instance: Instance) -> dict[str, Any]:
    a = instance.attributes
    failure = instance.failure
    return {
        "series_uid": instance.id,
        "study_uid": a.get("StudyInstanceUID", ""),
        "modality": a.get("Modality", ""),
        "series_number": a.get("SeriesNumber", ""),
        "status": instance.status.value,
        "failed_step": failure.step if failure else None,
        "error": failure.message if failure else None,
        "warnings": list(instance.warnings),
        "notes": {topic: list(entries) for topic, entries in instance.notes.items()},
        "steps": [{"step": t.step, "status": t.status, "seconds": round(t.seconds, 3)} for t in instance.timings],
        "outputs": [{"path": str(o.path), "sha256": o.sha256, "size": o.size} for o in instance.outputs],
    }


def print_summary(report: RunReport, report_path: Path | None, stream: Any = None) -> None:
    """A short human summary of the run on the console."""
    from rich.console import Console

    console = Console(file=stream or sys.stderr, highlight=False)
    c = report.counts()
    style = "green" if report.exit_code == ExitCode.SUCCESS else "red"
    earlier = f" ({len(report.resumed)} of them up to date from earlier runs)" if report.resumed else ""
    if report.replaced:
        earlier += f" ({len(report.replaced)} replacing the results of an earlier run)"
    console.print(
        f"[bold]{report.model.name}[/bold] ({report.workflow}): {c['done']} done{earlier}, {c['failed']} failed, "
        f"{c['skipped']} skipped -> exit {int(report.exit_code)} [{style}]{report.exit_code.description}[/{style}]"
    )
    for instance in report.instances:
        if instance.failure:
            console.print(
                f"  [red]failed[/red] {console_text(instance.label)} at {console_text(instance.failure.step)}: "
                f"{console_text(instance.failure.message)}"
            )
    if report.imported:
        for line in report.imported.file_summary():
            console.print(f"  [yellow]{console_text(line)}[/yellow]")
        for skipped in report.imported.skipped:
            console.print(
                f"  [yellow]skipped[/yellow] series {console_text(skipped.series_number)} "
                f"({console_text(skipped.series_uid)}): {console_text(skipped.reason)}"
            )
    if report_path:
        console.print(f"  report: {console_text(report_path)}")
