"""Module registry: the built-in index matches the real classes, modules import only when used."""

from __future__ import annotations

import importlib
import json
import pkgutil

import pytest

import mhubio.modules
from mhubio.core import ConfigError, Module
from mhubio.core.registry import ModuleRegistry, class_path, concrete_modules
from mhubio.modules import BUILTIN_MODULES
from mhubio.synthetic import write_ct_series
from tests.fake_modules import ListImporter, Work
from tests.helpers import run_python

HEAVY = ("torch", "nnunetv2", "nnunet", "radiomics", "totalsegmentator", "bpreg", "distributed")


def test_builtin_index_lists_every_module_class():
    found = {}
    for info in pkgutil.walk_packages(mhubio.modules.__path__, prefix="mhubio.modules."):
        for cls in concrete_modules(importlib.import_module(info.name), info.name):
            found[cls.module_name()] = class_path(cls)
    assert BUILTIN_MODULES == dict(sorted(found.items()))


def test_discover_imports_a_module_only_when_asked():
    done = run_python(
        "import sys, json\n"
        "from mhubio.core.registry import ModuleRegistry\n"
        "registry = ModuleRegistry.discover()\n"
        "before = sorted(m for m in sys.modules if m.startswith('mhubio.modules.'))\n"
        "cls = registry.get('KeepLargestComponents')\n"
        "print(json.dumps([before, cls.__module__, 'KeepLargestComponents' in registry, registry.names()]))\n"
    )
    assert done.returncode == 0, done.stdout
    before, module, contained, names = json.loads(done.stdout.splitlines()[-1])
    assert before == [] and module == "mhubio.modules.processors.keep_largest_components"
    assert contained and names == sorted(BUILTIN_MODULES)


def test_a_quiet_folder_run_imports_only_what_its_workflow_uses(tmp_path):
    """``mhub run --quiet`` on a folder imports the modules its workflow lists, no DICOMweb client, no progress bar."""
    write_ct_series(tmp_path / "in" / "ct", shape=(12, 24, 24))
    done = run_python(
        "import json, sys\n"
        "from mhubio.cli import main\n"
        f"code = main(['run', '--model', 'thresholder', '-i', {str(tmp_path / 'in')!r}, '-o', "
        f"{str(tmp_path / 'out')!r}, '--quiet'])\n"
        "print(json.dumps([code, sorted(m for m in sys.modules if m.startswith(('mhubio.modules.', 'mhubio.dicomweb',"
        " 'dicomweb_client', 'rich.progress')))]))\n"
    )
    assert done.returncode == 0, done.stdout
    code, modules = json.loads(done.stdout.splitlines()[-1])
    assert code == 0
    used = ("DicomImporter", "NiftiConverter", "SegEncoder", "DataOrganizer")
    assert [m for m in modules if m.count(".") == 3] == sorted(BUILTIN_MODULES[name].split(":")[0] for name in used)
    assert [m for m in modules if m.count(".") < 3 and not m.split(".")[2].startswith("_")] == sorted(
        {".".join(BUILTIN_MODULES[name].split(":")[0].split(".")[:3]) for name in used})


def test_unknown_module_names_the_closest():
    with pytest.raises(KeyError, match="did you mean 'SegEncoder'"):
        ModuleRegistry.discover().get("SegEncodr")


def test_class_paths_rebuild_the_registry():
    registry = ModuleRegistry.discover()
    registry.add(Work)
    paths = registry.class_paths()
    assert paths["Work"] == "tests.fake_modules:Work" and paths["SegEncoder"] == BUILTIN_MODULES["SegEncoder"]
    rebuilt = ModuleRegistry(paths=paths)
    assert rebuilt.get("Work") is Work and rebuilt.names() == registry.names()


def test_local_classes_cannot_go_to_workers():
    class Local(Module):
        pass

    with pytest.raises(ConfigError, match="'Local' .* cannot be imported by worker processes"):
        ModuleRegistry([Local]).class_paths()


def test_two_classes_with_one_name_are_an_error():
    registry = ModuleRegistry(paths={"ListImporter": "mhubio.modules.importers.dicom_importer:DicomImporter"})
    with pytest.raises(ConfigError, match="defined twice"):
        registry.add(ListImporter)
    with pytest.raises(ConfigError, match="is registered as 'ListImporter' but is named 'DicomImporter'"):
        registry.get("ListImporter")


@pytest.mark.slow
def test_thresholder_run_imports_no_heavy_library(tmp_path):
    write_ct_series(tmp_path / "in" / "ct", shape=(10, 40, 40), seed=0)
    done = run_python(
        "import sys, json\n"
        "from mhubio.cli import main\n"
        f"code = main(['run', '--model', 'thresholder', '--input', {str(tmp_path / 'in')!r}, "
        f"'--output', {str(tmp_path / 'out')!r}, '--quiet'])\n"
        f"print(json.dumps([code, sorted(m for m in {HEAVY!r} if m in sys.modules)]))\n"
    )
    assert done.returncode == 0, done.stdout
    code, heavy = json.loads(done.stdout.splitlines()[-1])
    assert code == 0 and heavy == []
