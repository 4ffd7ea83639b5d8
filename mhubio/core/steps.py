"""The per-series step logic: run each step of a chain on one instance, isolating failures.

This module is the leaf every executor (sequential, process pool, Dask) shares; it imports none of them.
"""

from __future__ import annotations

import re
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from mhubio.core.config import Step
from mhubio.core.data import AlgorithmInfo, DataItem, Failure, Instance, InstanceStatus, StepTiming
from mhubio.core.errors import MissingOutputError, StepError
from mhubio.core.filetypes import FileType
from mhubio.core.integrity import as_disk_full
from mhubio.core.libwarnings import captured_library_warnings
from mhubio.core.query import ANY


def run_instance(
    steps: Sequence[Step], instance: Instance, algorithms: dict[str, AlgorithmInfo],
    on_step: Callable[[Instance, str], None] | None = None,
) -> None:
    """Run the per-instance steps on one instance; a failing step marks it failed and skips the rest.

    ``algorithms`` collects, per producing step, the algorithm of the first item that names one;
    ``on_step(instance, step_id)`` is called as each step starts.
    """
    instance.workdir.mkdir(parents=True, exist_ok=True)
    for step in steps:
        if instance.status is InstanceStatus.FAILED:
            instance.timings.append(StepTiming(step.id, "skipped", 0.0))
            continue
        start = time.perf_counter()
        try:
            if on_step is not None:
                on_step(instance, step.id)
            with captured_library_warnings(instance.log, instance.attributes.values()) as n_warnings:
                new_items = run_step(step, instance)
        except Exception as exc:
            full = as_disk_full(exc)
            if full is not None:
                raise full from exc
            seconds = time.perf_counter() - start
            message = str(exc) if isinstance(exc, StepError) else f"{type(exc).__name__}: {exc}"
            instance.status = InstanceStatus.FAILED
            instance.failure = Failure(step.id, message, traceback.format_exc())
            instance.timings.append(StepTiming(step.id, "failed", seconds))
            instance.log.error("step %s failed: %s\n%s", step.id, message, instance.failure.traceback)
            continue
        seconds = time.perf_counter() - start
        if n_warnings[0]:
            instance.log.info("step %s: %d library warning(s), redacted above", step.id, n_warnings[0])
        instance.timings.append(StepTiming(step.id, "done", seconds))
        instance.log.info("step %s done in %.2f s", step.id, seconds)
        for item in new_items:
            if item.algorithm is not None and item.producer not in algorithms:
                algorithms[item.producer] = item.algorithm
    if steps:
        check_outputs_written(instance, steps[-1].id)
    if instance.status is not InstanceStatus.FAILED:
        instance.status = InstanceStatus.DONE
    instance.release_memory()


def run_step(step: Step, instance: Instance) -> list[DataItem]:
    """Run one step on ``instance``: resolve its inputs, allocate its outputs, check they were written."""
    inputs = _resolve_inputs(step, instance)
    outputs = {name: _allocate(step, name, instance, inputs) for name, _ in step.outputs.items()}
    step.module.ensure_setup()
    warned = len(instance.warnings)
    step.module.process(instance, inputs, outputs)
    added = []
    for name, item in outputs.items():
        written = _written(item)
        if written is None and step.outputs[name].optional:
            instance.record_unwritten(step.id, name, instance.warnings[warned:])
            continue
        if written is None:
            raise MissingOutputError(f"{step.id} did not write its declared output {name!r} ({item.path.name})")
        if not written:
            raise MissingOutputError(f"{step.id} wrote its declared output {name!r} ({item.path.name}) empty")
        if step.module.context.keep_work:
            item.materialize(keep_in_memory=False)
        added.append(instance.add(item))
    return added


def _resolve_inputs(step: Step, instance: Instance) -> dict[str, Any]:
    """The step's inputs by name; images handed over in memory are written first for inputs that need files."""
    declared_inputs = type(step.module).inputs
    inputs: dict[str, Any] = {}
    for name, query in step.inputs.items():
        found = [i for i in instance.items if query.matches(i.type, i.meta)]
        declared = declared_inputs[name]
        if declared.many:
            inputs[name] = found
        elif found:
            inputs[name] = _latest(found, name, query)
        elif declared.optional:
            inputs[name] = None
        else:
            raise StepError(f"input {name!r}: no data item matches {str(query)!r}")
        if declared.needs_file:
            for item in _as_list(inputs[name]):
                item.materialize()
    return inputs


def check_outputs_written(instance: Instance, last_step: str) -> None:
    """Fail a series that ends without output files unless a step explained why it wrote nothing.

    The rule behind "a run never ends done with no outputs": a series that did not fail either wrote
    files to the output folder, or a step left an optional output unwritten with a warning that says why
    (a segmentation whose segments are all empty).
    """
    if instance.status is InstanceStatus.FAILED or instance.outputs or instance.why_without_outputs():
        return
    message = "the series ended without writing any output and no step said why (is a DataOrganizer missing?)"
    instance.status = InstanceStatus.FAILED
    instance.failure = Failure(last_step, message)
    instance.log.error("step %s: %s", last_step, message)


def _written(item: DataItem) -> bool | None:
    """Whether the item's file (or, for DICOM, a file in its folder) holds data, or an image was handed over
    in memory; ``None``: nothing there."""
    if item.image is not None:
        return item.image.GetNumberOfPixels() > 0
    if item.type is FileType.DICOM:
        if not item.path.is_dir():
            return None
        return any(p.is_file() and p.stat().st_size > 0 for p in item.path.rglob("*"))
    if not item.path.is_file():
        return None
    return item.path.stat().st_size > 0


def _as_list(value: DataItem | list[DataItem] | None) -> list[DataItem]:
    """The items of one resolved input (one item, a list of them, or ``None``)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _latest(found: list[DataItem], name: str, query: Any) -> DataItem:
    """The most recently produced match; several matches from that one step are ambiguous."""
    latest = found[-1]
    rivals = [i for i in found if i.producer == latest.producer]
    if len(rivals) > 1:
        raise StepError(
            f"input {name!r}: {len(rivals)} items from step {latest.producer} match {str(query)!r} "
            f"({', '.join(str(i) for i in rivals)}); narrow the query in the workflow"
        )
    return latest


def _allocate(step: Step, name: str, instance: Instance, inputs: dict[str, Any]) -> DataItem:
    output = step.outputs[name]
    meta: dict[str, str] = {}
    labels = algorithm = None
    base = inputs.get(output.inherit) if output.inherit else None
    if isinstance(base, DataItem):
        meta = {k: v for k, v in base.meta.items() if k != "roi"}
        labels, algorithm = base.labels, base.algorithm
    meta.update({k: v for k, v in output.meta.items() if v != ANY})
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{step.id}.{name}")
    item = DataItem(output.type, instance.workdir / f"{stem}{output.type.suffix}", meta, producer=step.id)
    if labels is not None:
        item.set_labels(labels)
    item.algorithm = algorithm
    return item
