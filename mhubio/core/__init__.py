"""The module API of mhubio: what a workflow module (built-in or in ``models/<name>/modules``) needs.

>>> from mhubio.core import FileType, Input, Module, Output, Params
>>> class Invert(Module):
...     inputs = {"image": Input("nifti:mod=ct")}
...     outputs = {"image": Output(FileType.NIFTI, {"mod": "ct"}, inherit="image")}
...     def process(self, instance, inputs, outputs):
...         ...

Running workflows lives in :mod:`mhubio.core.runner`; this package imports nothing heavy.
"""

from mhubio.core.algorithm import AlgorithmFamily, AlgorithmType
from mhubio.core.data import AlgorithmInfo, DataItem, Instance, InstanceStatus
from mhubio.core.errors import (
    ConfigError,
    ExternalCommandError,
    MhubError,
    MissingOutputError,
    NoInputError,
    StepError,
    WeightsError,
)
from mhubio.core.fileio import atomic_path, copy_atomic, sha256_file
from mhubio.core.filetypes import FileType
from mhubio.core.module import (
    Importer,
    ImportResult,
    Input,
    ModelInfo,
    Module,
    Output,
    RunContext,
    SkippedSeries,
)
from mhubio.core.params import Params
from mhubio.core.query import Query

__all__ = [
    "AlgorithmFamily", "AlgorithmInfo", "AlgorithmType", "ConfigError", "DataItem", "ExternalCommandError",
    "FileType", "ImportResult", "Importer", "Input", "Instance", "InstanceStatus", "MhubError", "MissingOutputError",
    "ModelInfo", "Module", "NoInputError", "Output", "Params", "Query", "RunContext", "SkippedSeries", "StepError",
    "WeightsError", "atomic_path", "copy_atomic", "sha256_file",
]
