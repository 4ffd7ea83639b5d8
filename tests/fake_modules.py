"""Small workflow modules for runner tests, driven by a text file instead of DICOM.

``input_dir/series.txt`` lists one series per line as ``<uid> <behaviour>``: ``ok``, ``skip`` (left out by the
importer as failing QC), ``crash``, ``tool`` (a failing external command), ``nooutput``, ``empty`` (an empty
output file), ``die`` (the worker process exits), ``sleep<seconds>``, ``probe`` (marks whether the process holds
the caller's :data:`PROBE_MODULE` and whether its object is out of the collector's reach), ``preloaded`` (marks
whether the process inherited what :meth:`Work.preload` loaded in the process that forked it); for
:class:`MaybeExtra`, ``explain`` (no output, with a warning), ``qcwarn`` (a warning from the importer, no output)
and anything else but ``ok`` (no output, silently).  Worker processes cannot share counters with the test, so
the modules leave marker files in ``input_dir/../markers``.  The classes live at the top level of an importable
module so that worker processes rebuild them from their class paths.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mhubio.core import (
    AlgorithmInfo,
    DataItem,
    FileType,
    Importer,
    ImportResult,
    Input,
    Instance,
    Module,
    Output,
    RunContext,
    SkippedSeries,
    WeightsError,
)
from mhubio.core.process import run_command
from mhubio.core.registry import ModuleRegistry

WORKFLOW = """
general: {model: fake, version: "1.0"}
execute:
  - ListImporter
  - Work
  - Finish
  - module: DataOrganizer
    params: {targets: {"json:mod=result": "{SeriesInstanceUID}/result.json"}}
"""


PROBE_MODULE = "mhub_fake_fork_probe"
"""A module a test may put in ``sys.modules`` before a run, holding a list ``held``, for the ``probe`` series."""


def _probe() -> str:
    """``inherited-frozen`` when this process has the caller's probe module and its list is in the collector's
    permanent generation, ``inherited-tracked`` when the collector still traverses it, ``fresh`` without it."""
    module = sys.modules.get(PROBE_MODULE)
    if module is None:
        return "fresh"
    traversed = any(o is module.held for o in gc.get_objects())
    return "inherited-tracked" if traversed else "inherited-frozen"


_PRELOADED_IN: int | None = None
"""The process in which :meth:`Work.preload` ran."""


def _preloaded() -> str:
    """``inherited`` when the process that forked this one preloaded :class:`Work`, ``here`` when this one did."""
    if _PRELOADED_IN is None:
        return "none"
    return "inherited" if _PRELOADED_IN == os.getppid() else "here"


def _mark(context: RunContext, name: str) -> None:
    folder = Path(context.input_dir).parent / "markers"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text("")


class ListImporter(Importer):
    """One instance per line of ``input_dir/series.txt``."""

    outputs = {"spec": Output(FileType.TXT, {"mod": "spec"})}

    def import_instances(self, input_dir: Path) -> ImportResult:
        instances, skipped = [], []
        for line in (Path(input_dir) / "series.txt").read_text().split("\n"):
            if not line.strip():
                continue
            uid, behaviour = line.split()
            if behaviour == "skip":
                skipped.append(SkippedSeries(uid, "CT", "1", "MIN_SLICES", "2 slices < 10"))
                continue
            instance = Instance(uid, {"SeriesInstanceUID": uid, "Modality": "CT", "SeriesNumber": "1",
                                      "PatientName": "SECRET^NAME"}, self.context.work_dir / uid)
            if behaviour == "qcwarn":
                instance.warn("slice spacing varies")
            instance.workdir.mkdir(parents=True, exist_ok=True)
            spec = instance.workdir / "spec.txt"
            spec.write_text(behaviour)
            instance.add(DataItem(FileType.TXT, spec, {"mod": "spec"}, producer=self.step_id))
            instances.append(instance)
        return ImportResult(instances, skipped, files_scanned=len(instances) + len(skipped))


class Work(Module):
    """Does what the series' line says; writes ``{"loads": <setups of this step so far>}``."""

    loads = 0
    inputs = {"spec": Input("txt:mod=spec")}
    outputs = {"result": Output(FileType.JSON, {"mod": "result"})}

    def preflight(self) -> None:
        only_in = os.environ.get("FAKE_WEIGHTS_ONLY_IN_PID")
        if only_in and int(only_in) != os.getpid():
            raise WeightsError(f"{self.step_id}: weights missing in process {os.getpid()}")

    def preload(self) -> None:
        global _PRELOADED_IN
        _PRELOADED_IN = os.getpid()
        _mark(self.context, f"preload-in-{os.getpid()}")

    def setup(self) -> None:
        self.loads += 1
        _mark(self.context, f"setup-{os.getpid()}-{self.loads}")

    def teardown(self) -> None:
        _mark(self.context, f"teardown-{os.getpid()}")

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        behaviour = inputs["spec"].path.read_text()
        _mark(self.context, f"series-{instance.id}-{os.getpid()}")
        if behaviour == "crash":
            raise RuntimeError("boom in " + instance.id)
        if behaviour == "tool":
            run_command(["false"])
        if behaviour == "nooutput":
            return
        if behaviour == "empty":
            outputs["result"].path.write_bytes(b"")
            return
        if behaviour == "die":
            os._exit(3)
        if behaviour == "probe":
            _mark(self.context, f"probe-{_probe()}-{instance.id}-{os.getpid()}")
        if behaviour == "preloaded":
            _mark(self.context, f"preloaded-{_preloaded()}-{instance.id}-{os.getpid()}")
        if behaviour.startswith("sleep"):
            time.sleep(float(behaviour[5:]))
        instance.warn("checked " + instance.id)
        outputs["result"].path.write_text(f'{{"loads": {self.loads:d}}}')
        outputs["result"].algorithm = AlgorithmInfo("work", "2.0", parameters={"mode": "test"})


class Finish(Module):
    """Logs that the series got here."""

    inputs = {"result": Input("json:mod=result")}

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        instance.log.info("finished %s", instance.id)


class MaybeExtra(Module):
    """Writes its optional output only for ``ok``; for ``explain`` it warns why it wrote nothing."""

    inputs = {"spec": Input("txt:mod=spec")}
    outputs = {"extra": Output(FileType.JSON, {"mod": "extra"}, optional=True)}

    def process(self, instance: Instance, inputs: Mapping[str, Any], outputs: Mapping[str, DataItem]) -> None:
        behaviour = inputs["spec"].path.read_text()
        if behaviour == "ok":
            outputs["extra"].path.write_text("{}")
        elif behaviour == "explain":
            instance.warn("nothing to add: every segment is empty")


def fake_registry() -> ModuleRegistry:
    """The built-in modules plus the fakes of this file."""
    registry = ModuleRegistry.discover()
    for cls in (ListImporter, Work, Finish, MaybeExtra):
        registry.add(cls)
    return registry


def write_workflow(folder: Path, text: str = WORKFLOW) -> Path:
    """The fake workflow as ``folder/default.yml``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "default.yml"
    path.write_text(text)
    return path


def main(argv: list[str]) -> int:
    """``python -m tests.fake_modules WORKFLOW INPUT OUTPUT WORKERS``: run the fakes as ``mhub run`` would.

    SIGINT gets Python's default handler, as when a terminal starts the command in the foreground (a run
    started in the background of a script, or by ``nohup``, inherits SIGINT ignored and keeps ignoring it); SIGUSR1
    prints every thread's stack (for a test that finds the run stuck).
    """
    import faulthandler
    import signal

    from mhubio.core.logs import ProgressPrinter
    from mhubio.core.runner import RunOptions, run_workflow

    signal.signal(signal.SIGINT, signal.default_int_handler)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    config, input_dir, output_dir, workers = argv
    options = RunOptions(Path(input_dir), Path(output_dir), workers=int(workers))
    return int(run_workflow(Path(config), options, ProgressPrinter(), fake_registry()).exit_code)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
